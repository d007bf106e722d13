"""MLflow for every training stage: one run per stage, params from the config, metrics per epoch.

The tracking store is ``MLFLOW_TRACKING_URI`` when set, otherwise a SQLite file in the workspace
(``sqlite:///<root>/mlflow.db``; artifacts in ``<root>/mlruns``), so nothing leaves the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow

from hymirec.config import HyMiRecConfig
from hymirec.training import distributed


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Log to the stage's active run; MLflow forbids "@" in names, so "ndcg@10" is logged as "ndcg_at_10".

    Library code (the training loop) calls this whether or not a stage opened a run; without one it
    logs nothing, instead of letting MLflow start a stray run in a store in the working directory.
    """
    if mlflow.active_run() is None:
        return
    mlflow.log_metrics({key.replace("@", "_at_"): float(value) for key, value in metrics.items()}, step=step)


@contextmanager
def stage_run(config: HyMiRecConfig, root: Path, stage: str) -> Iterator[mlflow.ActiveRun | None]:
    """Start an MLflow run named after the stage, with the whole config (seed included) as params.

    Under torchrun only rank 0 records (``distributed.is_main``): the others get no run, so the
    training loop's ``log_metrics`` logs nothing there and no rank opens a second run.
    """
    if not distributed.is_main():
        yield None
        return
    mlflow.set_tracking_uri(tracking_uri(root))
    experiment = mlflow.get_experiment_by_name(config.tracking.experiment_name)
    if experiment is None:
        mlflow.create_experiment(config.tracking.experiment_name, artifact_location=(Path(root).resolve() / "mlruns").as_uri())
    mlflow.set_experiment(config.tracking.experiment_name)
    with mlflow.start_run(run_name=stage) as run:
        mlflow.set_tag("stage", stage)
        mlflow.log_params(flatten(config.model_dump(mode="json")))
        yield run


@contextmanager
def model_run(name: str) -> Iterator[mlflow.ActiveRun | None]:
    """A child run of the active stage run for one of the stage's models, so each has its own curves (rank 0 only)."""
    if not distributed.is_main():
        yield None
        return
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tag("model", name)
        yield run
