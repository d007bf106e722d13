"""benchmarks/scale.py at a tiny size: each measurement runs in its own child process, and the report has
what docs/scale.md reads (runs with time and peak RSS, a growth exponent per stage, one line per stage)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("scale", ROOT / "benchmarks" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scale", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # ~60 s on 2 shared cores: four whole stage runs, each a process that imports GE
def test_the_benchmark_measures_the_data_stages_at_two_sizes(tmp_path: Path, capsys) -> None:
    script = _script()
    out = tmp_path / "scale.json"
    script.main(["--sizes", "2e4,6e4", "--downstream-sizes", "", "--engine-size", "0", "--polars-sizes", "", "--data", str(tmp_path / "data"),
                 "--out", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert [(run["stage"], run["events"]) for run in runs] == [
        ("raw_logs", 20_000), ("validated_sequences", 20_000), ("raw_logs", 60_000), ("validated_sequences", 60_000)
    ]  # fmt: skip
    for run in runs:
        assert run["seconds"] > 0 and 20 < run["peak_rss_mb"] < 4096 and run["users"] > 0 and run["items"] > 0, run
    assert set(report["growth_exponent"]) == {"raw_logs", "validated_sequences"}
    assert report["threads"] == 1 and report["thread_settings"]["POLARS_MAX_THREADS"] == "1"
    assert runs[1]["raw_events"] == 20_000 and runs[3]["output_events"] + runs[3]["repeated_events_dropped"] == 60_000
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("raw_logs: 20k ") and "time ~ events^" in line for line in lines)
    assert any(line.startswith("validated_sequences: 20k ") for line in lines)

    script.main(["--sizes", "", "--downstream-sizes", "", "--engine-size", "0", "--polars-sizes", "6e4", "--data",
                 str(tmp_path / "data"), "--out", str(out), "--append"])  # fmt: skip
    appended = json.loads(out.read_text())
    assert appended["runs"] == runs and [(run["stage"], run["engine"]) for run in appended["engines"]] == [
        ("raw_logs", "polars"), ("validated_sequences", "polars")
    ]  # fmt: skip
    assert appended["appended"][0]["commit"] == report["commit"] and appended["engines"][1]["output_users"] > 0


def test_the_growth_exponent_is_the_log_log_slope() -> None:
    script = _script()
    assert script.growth_exponent([(10**6, 2.0), (10**7, 20.0), (10**8, 200.0)]) == 1.0
    assert script.growth_exponent([(10**6, 1.0), (10**8, 100.0 * 10)]) == 1.5
    assert script.growth_exponent([(10**6, 1.0)]) is None


def test_the_hymirec_epoch_stage_reports_seconds_per_million_training_targets(tmp_path: Path) -> None:
    """Stage hymirec_epoch on a tiny synthetic log (its sequences built by the pandas path, no GE): two
    optimiser steps in a child process, scaled to the epoch's targets as sasrec_epoch is."""
    import argparse

    import pandas as pd

    from hymirec.config import SequencesConfig
    from hymirec.data.files import coerce_types, read_table
    from hymirec.data.schema import RawLogs
    from hymirec.data.sequences import build_sequences
    from hymirec.io import write_parquet

    script, data, work = _script(), tmp_path / "data", tmp_path / "work"
    synthetic = script._synth()
    manifest = synthetic.generate(100_000, data, seed=0)  # enough items (~10³) for the default 256 codes
    logs = RawLogs(pd.concat([read_table(path) for path in synthetic.interaction_files(data)], ignore_index=True),
                   read_table(data / synthetic.ITEMS_FILE))  # fmt: skip
    sequences = build_sequences(coerce_types(logs), SequencesConfig())
    folder = script._layout(work).sequences_dir
    folder.mkdir(parents=True)
    for name in ("sequences", "items", "users"):
        write_parquet(getattr(sequences, name), folder / f"{name}.parquet")
    args = argparse.Namespace(memory_limit="1GB", sample_items=10, sample_users=10, train_batches=2, child_timeout=600.0, max_rss_mb=4000.0)

    run = script.measure("hymirec_epoch", "library", data, work, args)
    assert "error" not in run, run
    assert run["seconds_per_million_targets"] > 0 and run["measured_steps"] == 2 and 0 < run["measured_targets"] < run["epoch_targets"]
    assert run["seconds"] > run["measured_seconds"] and run["steps_per_epoch"] > 2 and run["batch_size"] == 64  # default llm section
    scaled = run["seconds_per_million_targets"] * run["epoch_targets"] / 1e6 + run["setup_seconds"]
    assert run["seconds"] == pytest.approx(scaled, rel=0.01, abs=0.02)
    assert manifest["items"] > 256 and run["peak_rss_mb"] > 20


def test_stages_outside_the_benchmark_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _script().main(["--stages", "hymirec_epochs", "--data", str(tmp_path), "--out", str(tmp_path / "scale.json")])
