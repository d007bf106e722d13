"""Run the benchmark sections and write reports/bench.json plus a one-line summary.

Each section keeps its own ``measured_at``, the commit it measured and the machine's load average
before and after it, so a figure taken while other jobs ran, or on older code, says so. Sections not
run this time keep their previous results (from an earlier ``hymirec bench``), with their own
timestamps; the top-level keys are derived from whatever sections the file holds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hymirec.bench import SECTIONS
from hymirec.bench.llm_steps import llm_steps
from hymirec.bench.pipeline import time_pipeline
from hymirec.bench.recbole import recbole_side_by_side
from hymirec.bench.serving import serving_benchmark
from hymirec.bench.timing import own_peak_rss_mb
from hymirec.bench.training import hymirec_epoch, sasrec_converged, sasrec_epoch
from hymirec.config import load_config
from hymirec.experiments.publish import commit_of, machine
from hymirec.io import read_json, write_json
from hymirec.paths import Layout

logger = logging.getLogger(__name__)


def measured(section: Callable[[], dict], root: Path) -> dict:
    load_before = os.getloadavg()[0]
    result = section()
    return {**result, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit_of(root),
            "process_peak_rss_mb": own_peak_rss_mb(),  # this benchmark process so far: an upper bound for the section
            "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}


def peak_rss_mb(sections: dict) -> float:
    """The largest peak RSS any section recorded: a stage, RecBole's process, or the benchmark process itself."""
    peaks = [section.get("process_peak_rss_mb", 0.0) for section in sections.values()]
    peaks.append(sections.get("pipeline", {}).get("peak_rss_mb", 0.0))
    peaks.append(sections.get("recbole", {}).get("recbole", {}).get("peak_rss_mb", 0.0))
    return max(peaks)


def headline(sections: dict) -> dict:
    """The top-level keys the issue asks for, from the sections present (None where a section is missing)."""
    pipeline, serving = sections.get("pipeline", {}), sections.get("serving", {})
    training, converge, recbole = sections.get("training", {}), sections.get("converge", {}), sections.get("recbole", {})
    return {
        "default_pipeline_seconds": pipeline.get("total_seconds"),
        "sasrec_epoch_seconds": training.get("sasrec", {}).get("epoch_seconds"),
        "sasrec_converge_seconds": converge.get("seconds"),
        "throughput_ratio_vs_recbole": recbole.get("throughput_ratio"),
        "full_rank_eval_seconds": serving.get("full_rank_eval_seconds"),
        "top10_latency_ms": serving.get("top10_latency_ms"),
    }


def summary_line(report: dict) -> str:
    sections = report["sections"]
    parts = [f"pipeline {report['default_pipeline_seconds']} s"]
    if "training" in sections:
        hymirec = sections["training"]["hymirec"]
        estimated = f" (extrapolated from {hymirec['steps']} batches)" if hymirec["epoch_seconds_extrapolated"] else ""
        parts.append(f"benchmark-config epoch: SASRec {report['sasrec_epoch_seconds']} s, HyMiRec {hymirec['epoch_seconds']} s{estimated}")
    if "converge" in sections:
        parts.append(f"SASRec converged in {report['sasrec_converge_seconds']} s (test NDCG@10 {sections['converge']['test_ndcg@10']})")
    if "recbole" in sections:
        parts.append(f"{report['throughput_ratio_vs_recbole']}x RecBole's training throughput")
    if "llm_steps" in sections:
        steps = [f"{name} {row['step_seconds']['production']} s" for name, row in sections["llm_steps"]["rows"].items()]
        parts.append("LLM step " + ", ".join(steps))
    if report["full_rank_eval_seconds"]:
        parts.append(f"SASRec full-ranking eval {report['full_rank_eval_seconds'].get('sasrec')} s")
    parts.append(f"peak RSS {report['peak_rss_mb']} MB")
    return "bench: " + ", ".join(parts)


def run_bench(root: Path, default_config: Path, benchmark_config: Path, chosen: tuple[str, ...], recbole_steps: int,
              hymirec_batches: int | None, out: Path, workspace_root: Path | None = None, llm_steps_timed: int = 4) -> str:
    """Run the ``chosen`` sections; write ``out``; return the summary line.

    The pipeline section builds its workspace under ``root``/.bench/workspace; the other sections read
    that one, or ``workspace_root`` (e.g. ``.`` for the models of the last ``make run``).
    """
    scratch = root / ".bench"
    workspace, logs = Layout(workspace_root or scratch / "workspace"), scratch / "logs"
    default, benchmark = load_config(default_config), load_config(benchmark_config)
    previous = read_json(out)["sections"] if out.exists() else {}
    if "pipeline" in chosen and workspace_root is not None:
        raise ValueError("the pipeline section builds its own scratch workspace: drop --workspace or the section")
    if "pipeline" not in chosen and not workspace.sequences.exists():
        raise FileNotFoundError(f"{workspace.root}: no trained workspace; run the 'pipeline' section first or pass --workspace")
    runs: dict[str, Callable[[], dict]] = {
        "pipeline": lambda: time_pipeline(default_config, workspace.root, logs),
        "serving": lambda: serving_benchmark(default, workspace, default.seed),
        "training": lambda: {"config": str(benchmark_config), "sasrec": sasrec_epoch(benchmark, workspace),
                             "hymirec": hymirec_epoch(benchmark, workspace, hymirec_batches)},
        "converge": lambda: {"config": str(benchmark_config), **sasrec_converged(benchmark, workspace)},
        "recbole": lambda: recbole_side_by_side(benchmark, workspace, scratch / "recbole", recbole_steps, logs),
        "llm_steps": lambda: llm_steps(root, workspace, llm_steps_timed),
    }
    sections = dict(previous)
    for name in SECTIONS:
        if name in chosen:
            logger.info("bench: section %s", name)
            sections[name] = measured(runs[name], root)
    report = {**headline(sections), "peak_rss_mb": peak_rss_mb(sections), "machine": machine(), "sections": sections}
    write_json(report, out)
    return summary_line(report)
