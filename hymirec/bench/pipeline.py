"""The default pipeline, stage by stage, in a scratch workspace: each stage as the fresh process DVC starts.

The stages run as ``python -m hymirec.cli stage <name> --root <scratch>`` in dvc.yaml's order, so the
user's own workspace (data, models, reports, MLflow store) is never touched, and each stage's wall time
and peak RSS are its own. Orchestration overhead (Dagster, DVC hashing) is not included.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from hymirec.bench.timing import python_module_command, run_measured
from hymirec.paths import STAGES

logger = logging.getLogger(__name__)


def time_pipeline(config_path: Path, workspace: Path, logs: Path) -> dict:
    """Every stage from an empty ``workspace`` (removed first: a finished model or a checkpoint left there
    by an earlier run would let a stage skip the work it is being timed on)."""
    shutil.rmtree(workspace, ignore_errors=True)
    stages = {}
    for stage in STAGES:
        peak_file = logs / f"{stage}.peak.json"
        command = python_module_command(peak_file, "hymirec.cli", "stage", stage, "-c", str(config_path.resolve()), "--root", str(workspace))
        cost = run_measured(command, logs / f"{stage}.log", peak_file)
        stages[stage] = {"seconds": cost.seconds, "peak_rss_mb": cost.peak_rss_mb}
        logger.info("bench pipeline: %s %.1f s, peak RSS %.0f MB (log %s)", stage, cost.seconds, cost.peak_rss_mb, logs / f"{stage}.log")
    return {
        "config": str(config_path),
        "stages": stages,
        "total_seconds": round(sum(stage["seconds"] for stage in stages.values()), 2),
        "peak_rss_mb": max(stage["peak_rss_mb"] for stage in stages.values()),
    }
