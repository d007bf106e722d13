"""MLflow model registry: one registered model per data set; ``champion`` moves only on merit.

The champion is per data set. A model is only comparable with models evaluated on the same
validated sequences, so the evaluation stage registers its best trained model (by validation
NDCG@10) under ``hymirec-recommender-<fingerprint>``, where the fingerprint (``data_fingerprint``)
is a hash of the validated sequences: every user's id, items and timestamps and the catalog's item
ids, in order. The ``champion`` alias of that registered model moves only if the new version beats
the current champion's validation NDCG@10 — so serving (``models:/hymirec-recommender-<fingerprint>
@champion``, ``champion_uri``) never regresses because a worse configuration happened to run last,
and promoting a model trained on data set A never makes it the champion of data set B: B's champion
lives under another name. ``hymirec recommend`` computes the fingerprint of its workspace's
sequences to find the champion that belongs to them.

Every logged model is an MLflow pyfunc (``hymirec.serving.pyfunc``): the registry stores a version whose
source is that logged model (``models:/m-<id>``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from hymirec.data.schema import ITEM_ID, USER_ID
from hymirec.data.sequences import ITEMS, TIMESTAMPS

logger = logging.getLogger(__name__)
REGISTERED_MODEL = "hymirec-recommender"
CHAMPION = "champion"
SCORE_TAG = "valid_ndcg_at_10"
FINGERPRINT_TAG = "data_fingerprint"


@dataclass(frozen=True)
class Promotion:
    registered_model: str
    version: int
    promoted: bool
    previous_champion_score: float | None


def data_fingerprint(sequences: pd.DataFrame, items: pd.DataFrame) -> str:
    """12 hex digits of SHA-256 over the validated sequences (``data/sequences``), in their stored order.

    Covers the catalog's item ids (item_idx order), the user ids and every user's item_idx and
    timestamp lists: any change to the data a model was trained and evaluated on changes it.
    """
    digest = hashlib.sha256()
    for ids in (items[ITEM_ID], sequences[USER_ID]):
        digest.update("\x1f".join(map(str, ids)).encode("utf-8") + b"\x1e")
    for column in (ITEMS, TIMESTAMPS):
        lists = [np.asarray(values, dtype=np.int64) for values in sequences[column]]
        digest.update(np.array([len(values) for values in lists], dtype=np.int64).tobytes())
        digest.update(np.concatenate(lists).tobytes() if lists else b"")
    return digest.hexdigest()[:12]


def registered_model_name(fingerprint: str, prefix: str = REGISTERED_MODEL) -> str:
    """The registered model holding the versions (and the champion) of one data set."""
    return f"{prefix}-{fingerprint}"


def champion_uri(fingerprint: str, prefix: str = REGISTERED_MODEL) -> str:
    return f"models:/{registered_model_name(fingerprint, prefix)}@{CHAMPION}"


def register_and_promote(
    model_uri: str, model_name: str, valid_ndcg: float, fingerprint: str, dataset: str = "", prefix: str = REGISTERED_MODEL
) -> Promotion:
    """Register the logged model ``model_uri`` for data ``fingerprint``; move that data's ``champion`` if it scores higher."""
    client = MlflowClient()
    registered_model = registered_model_name(fingerprint, prefix)
    try:
        client.get_registered_model(registered_model)
    except MlflowException:
        client.create_registered_model(
            registered_model, tags={FINGERPRINT_TAG: fingerprint, "dataset": dataset},
            description=f"HyMiRec recommenders evaluated on the validated sequences with fingerprint {fingerprint} ({dataset or 'data set'}).",
        )
    run = mlflow.active_run()
    version = int(client.create_model_version(
        registered_model,
        source=model_uri,
        run_id=run.info.run_id if run else None,
        tags={SCORE_TAG: repr(valid_ndcg), "model": model_name, FINGERPRINT_TAG: fingerprint},
        model_id=model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None,
    ).version)
    try:
        champion_score = float(client.get_model_version_by_alias(registered_model, CHAMPION).tags[SCORE_TAG])
    except MlflowException:
        champion_score = None
    promoted = champion_score is None or valid_ndcg > champion_score
    if promoted:
        client.set_registered_model_alias(registered_model, CHAMPION, version)
    logger.info("%s version %s (%s, valid ndcg@10 %.4f): %s", registered_model, version, model_name, valid_ndcg,
                "new champion" if promoted else f"champion kept ({champion_score:.4f})")
    return Promotion(registered_model=registered_model, version=version, promoted=promoted, previous_champion_score=champion_score)
