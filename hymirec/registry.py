"""MLflow model registry: every evaluated model becomes a version; ``champion`` moves only on merit.

The evaluation stage registers the best trained model of its report (by validation NDCG@10) as a new
version of one registered model, and points the ``champion`` alias at it only if it beats the
current champion's validation NDCG@10 — so serving (``models:/<name>@champion``) never regresses
because a worse configuration happened to run last.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

logger = logging.getLogger(__name__)
REGISTERED_MODEL = "hymirec-recommender"
CHAMPION = "champion"
SCORE_TAG = "valid_ndcg_at_10"


@dataclass(frozen=True)
class Promotion:
    version: int
    promoted: bool
    previous_champion_score: float | None


def register_and_promote(model_dir: Path, model_name: str, valid_ndcg: float, registered_model: str = REGISTERED_MODEL) -> Promotion:
    """Log ``model_dir`` to the active run, register it, and move ``champion`` if it scores higher."""
    client = MlflowClient()
    run = mlflow.active_run()
    mlflow.log_artifacts(str(model_dir), artifact_path=model_name)
    try:
        client.get_registered_model(registered_model)
    except MlflowException:
        client.create_registered_model(registered_model)
    version = int(client.create_model_version(
        registered_model,
        source=f"{run.info.artifact_uri}/{model_name}",
        run_id=run.info.run_id,
        tags={SCORE_TAG: repr(valid_ndcg), "model": model_name},
    ).version)
    try:
        champion_score = float(client.get_model_version_by_alias(registered_model, CHAMPION).tags[SCORE_TAG])
    except MlflowException:
        champion_score = None
    promoted = champion_score is None or valid_ndcg > champion_score
    if promoted:
        client.set_registered_model_alias(registered_model, CHAMPION, version)
    logger.info("%s version %s (valid ndcg@10 %.4f): %s", registered_model, version, valid_ndcg,
                "new champion" if promoted else f"champion kept ({champion_score:.4f})")
    return Promotion(version=version, promoted=promoted, previous_champion_score=champion_score)
