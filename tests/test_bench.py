"""The benchmark's bookkeeping: measured child processes, percentiles, and the report's top-level keys."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hymirec.bench.run import headline, peak_rss_mb, summary_line
from hymirec.bench.timing import CommandFailed, python_module_command, run_measured
from hymirec.evaluation.cost import percentiles_ms


def test_a_failing_command_gives_no_numbers(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="exited 3"):
        run_measured([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], tmp_path / "fail.log")
    assert "boom" in (tmp_path / "fail.log").read_text()


def test_a_measured_command_runs_in_the_folder_it_is_given(tmp_path) -> None:
    # RecBole writes log/, saved/ and log_tensorboard/ into its working directory: never into the checkout
    work = tmp_path / "work"
    work.mkdir()
    run_measured([sys.executable, "-c", "open('left_here.txt', 'w').write('x')"], tmp_path / "cwd.log", cwd=work)
    assert (work / "left_here.txt").exists()

def test_a_child_process_reports_its_own_peak_memory(tmp_path: Path) -> None:
    ballast = bytearray(400 * 2**20)  # this process is large when it starts the children
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_measured(python_module_command(tmp_path / "small.json", "this"), tmp_path / "small.log", tmp_path / "small.json")
    large = run_measured(python_module_command(tmp_path / "large.json", "tests.bench_allocate_300mb"), tmp_path / "large.log", tmp_path / "large.json")
    assert small.peak_rss_mb < 300 < large.peak_rss_mb < 600 and small.seconds > 0
    assert "Beautiful is better than ugly" in (tmp_path / "small.log").read_text()
    with pytest.raises(CommandFailed):  # a module that fails still leaves its peak, but gives no numbers
        run_measured(python_module_command(tmp_path / "bad.json", "no_such_module_here"), tmp_path / "bad.log", tmp_path / "bad.json")
    assert (tmp_path / "bad.json").exists()


def test_percentiles_in_milliseconds() -> None:
    assert percentiles_ms([0.001] * 99 + [0.101]) == {"p50": 1.0, "p99": pytest.approx(2.0)}


def test_headline_keys_come_from_the_sections_present() -> None:
    sections = {
        "pipeline": {"total_seconds": 500.0},
        "training": {"sasrec": {"epoch_seconds": 12.5}, "hymirec": {"epoch_seconds": 80.0, "epoch_seconds_extrapolated": True, "steps": 60}},
        "recbole": {"throughput_ratio": 480.0},
        "serving": {"full_rank_eval_seconds": {"sasrec": 0.8}, "top10_latency_ms": {"sasrec": {"p50": 1.0, "p99": 3.0}}},
    }
    top = headline(sections)
    assert top == {
        "default_pipeline_seconds": 500.0, "sasrec_epoch_seconds": 12.5, "sasrec_converge_seconds": None,
        "throughput_ratio_vs_recbole": 480.0, "full_rank_eval_seconds": {"sasrec": 0.8},
        "top10_latency_ms": {"sasrec": {"p50": 1.0, "p99": 3.0}},
    }
    line = summary_line({**top, "peak_rss_mb": 900.0, "sections": sections})
    assert line.startswith("bench: pipeline 500.0 s") and "480.0x RecBole" in line and "converged" not in line
    assert "HyMiRec 80.0 s (extrapolated from 60 batches)" in line


def test_the_peak_memory_is_the_largest_any_section_recorded() -> None:
    sections = {
        "pipeline": {"peak_rss_mb": 1500.0, "process_peak_rss_mb": 300.0},
        "recbole": {"recbole": {"peak_rss_mb": 6700.0}, "process_peak_rss_mb": 900.0},
        "serving": {"process_peak_rss_mb": 1200.0},
    }
    assert peak_rss_mb(sections) == 6700.0
    assert peak_rss_mb({"serving": {"process_peak_rss_mb": 1200.0}}) == 1200.0
