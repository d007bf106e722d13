"""Publish a benchmark workspace's results into the repository: what was measured, and how.

A benchmark runs in a workspace of its own (README, "Benchmarks"); its outputs are not DVC outputs of
this repository. ``publish`` copies what a reader needs to check a claim into ``results/<name>/``:

- ``metrics.json`` and ``evaluation.md`` (with its figure), as the report stage wrote them;
- ``rankings/<model>.parquet``: each model's test top-10 per user in original ids (the report's
  columns), enough to re-score NDCG@10 and Recall@10 with any other code;
- the config named on the command line and ``resolved_config.yaml``, the workspace's resolved config (its
  ``extends:`` chain merged, every default spelled out: what the stages read). The named config alone
  may extend files that are not published beside it, and its parents may change after the run; the
  resolved one states every setting the run had, which is what ``hymirec seeds`` compares;
- ``paired.json``/``paired.md`` (when HyMiRec is among the models): each model's per-user NDCG@10
  difference from HyMiRec with its standard error over the test users (``hymirec.experiments.paired``);
  and where the workspace's items carry genres, ``paired_by_taste.json``/``.md``: the same per third of the
  test users by taste diversity (``hymirec.experiments.taste``);
- ``provenance.json``: the commit, the config file and its SHA-256, each trained model's epochs and
  training seconds, wall seconds per stage when given, the machine, and a free-text note (anything
  a reader must know that the numbers do not say: a run stopped by hand, code from another checkout).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hymirec.experiments.paired import REFERENCE_MODEL, write_paired
from hymirec.experiments.taste import carries_genres
from hymirec.io import atomic_directory, read_json, write_json, write_parquet
from hymirec.paths import Layout

TRAINING_STAGES = ("sasrec_model", "coarse_model", "llm_model")
# a one-stage candidate's stage -> the training stages its experiment ran (their reports hold this run's
# models; the other reports in its workspace are the committed default pipeline's)
CANDIDATE_STAGES = {"sasrec_model": ("sasrec_model",), "llm_model": ("coarse_model", "llm_model")}
PUBLISHED_DEPTH = 10
RESOLVED_CONFIG = "resolved_config.yaml"


def commit_of(root: Path) -> str:
    """The workspace's git commit, with ``-dirty`` when it has uncommitted changes to tracked files."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True)
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def trained_models(layout: Layout, stages: tuple[str, ...] = TRAINING_STAGES) -> dict[str, dict[str, Any]]:
    """Epochs and training seconds of every model ``stages`` report (coarse ones as coarse_<name>)."""
    models: dict[str, dict[str, Any]] = {}
    for stage in stages:
        path = layout.stage_metrics(stage)
        if not path.exists():
            continue
        for name, summary in read_json(path).items():
            key = f"coarse_{name}" if stage == "coarse_model" else name
            models[key] = {field: summary[field] for field in ("best_epoch", "epochs_trained", "train_seconds")}
    return models


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def provenance_of(layout: Layout, config_path: Path, stage_seconds: dict[str, float] | None, note: str,
                  stages: tuple[str, ...] = TRAINING_STAGES) -> dict[str, Any]:
    """How the workspace's results were made (its models: those ``stages`` trained): ``provenance.json``."""
    return {
        "commit": commit_of(layout.root),
        "config": config_path.name,
        "config_sha256": hashlib.sha256(config_path.read_bytes()).hexdigest(),
        "models": trained_models(layout, stages),
        "stage_seconds": stage_seconds or {},
        "machine": machine(),
        "published": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": note,
    }


def publish(root: Path, config_path: Path, out: Path, stage_seconds: dict[str, float] | None = None, note: str = "") -> None:
    """Copy the report of the workspace ``root`` (run with ``config_path``) into ``out``, replacing it whole:
    metrics, report, figures, config, top-10 rankings, the training stages' reports (``training/``), the paired
    differences and the provenance."""
    layout = Layout(root)
    if not layout.metrics.exists():
        raise FileNotFoundError(f"{layout.metrics}: the workspace has no report to publish (run evaluation_report)")
    if not layout.resolved_config.exists():
        raise FileNotFoundError(f"{layout.resolved_config}: the workspace has no resolved config (run resolved_config)")
    provenance = provenance_of(layout, config_path, stage_seconds, note)
    with atomic_directory(out) as staging:
        shutil.copy2(layout.metrics, staging / "metrics.json")
        shutil.copy2(layout.evaluation_markdown, staging / "evaluation.md")
        shutil.copytree(layout.figures_dir, staging / layout.figures_dir.name)
        shutil.copy2(config_path, staging / config_path.name)
        shutil.copy2(layout.resolved_config, staging / RESOLVED_CONFIG)
        for ranking in sorted(layout.rankings_dir.glob("*.parquet")):
            top = pd.read_parquet(ranking)
            write_parquet(top[top["rank"] <= PUBLISHED_DEPTH].reset_index(drop=True), staging / "rankings" / ranking.name)
        for stage in TRAINING_STAGES:  # kept epochs, validation figures, and the coarse-token diagnostics only training measures
            if layout.stage_metrics(stage).exists():
                (staging / "training").mkdir(exist_ok=True)
                shutil.copy2(layout.stage_metrics(stage), staging / "training" / f"{stage}.json")
        if (staging / "rankings" / f"{REFERENCE_MODEL}.parquet").exists():
            write_paired(staging)
            if carries_genres(layout.item_map):
                write_paired(staging, taste=layout.sequences_dir)
        write_json(provenance, staging / "provenance.json")


def publish_candidate(root: Path, config_path: Path, stage: str, out: Path, note: str = "") -> None:
    """Copy what a one-stage experiment (``make experiment STAGE=…``) of the workspace ``root`` decides by —
    ``stage``'s training report, with the config and provenance — into ``out``, replacing it whole: a
    selection candidate ``hymirec select`` reads beside published runs. It has no test figure, by design."""
    if stage not in CANDIDATE_STAGES:
        raise ValueError(f"{stage!r}: a candidate is a training stage whose report holds validation figures ({', '.join(CANDIDATE_STAGES)})")
    layout = Layout(root)
    report = layout.stage_metrics(stage)
    if not report.exists():
        raise FileNotFoundError(f"{report}: the workspace has no {stage} report to publish (run the experiment to that stage)")
    provenance = provenance_of(layout, config_path, None, note, CANDIDATE_STAGES[stage])
    with atomic_directory(out) as staging:
        shutil.copy2(report, staging / report.name)
        shutil.copy2(config_path, staging / config_path.name)
        write_json(provenance, staging / "provenance.json")


def read_stage_seconds(path: Path) -> dict[str, float]:
    """``<stage> <seconds>`` per line (what a timed loop over ``hymirec stage`` writes); other lines are ignored."""
    seconds = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].replace(".", "", 1).isdigit():
            seconds[parts[0]] = float(parts[1])
    return seconds

