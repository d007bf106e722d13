"""Published benchmark results re-score to their own metrics with code that is not ours (scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from hymirec.io import read_json
from hymirec.paired import paired_differences

RESULTS = Path(__file__).resolve().parents[1] / "results"
PUBLISHED = sorted(path.parent for path in RESULTS.glob("*/metrics.json"))


def _rescored(ranking: pd.DataFrame) -> tuple[float, float]:
    """NDCG@10 and Recall@10 of a top-10 list per user, through scikit-learn's ndcg_score.

    Each user gets 11 columns: the 10 listed items scored 10…1 and, when the target is not listed, the
    target scored 0; relevance is 1 for the target only.
    """
    ranking = ranking.sort_values(["user_id", "rank"])
    users = ranking["user_id"].unique()
    listed = ranking["item_id"].to_numpy().reshape(len(users), 10)
    targets = ranking.groupby("user_id", sort=True)["target_item_id"].first().loc[users].to_numpy()
    relevance = np.zeros((len(users), 11))
    relevance[:, :10] = listed == targets[:, None]
    relevance[:, 10] = relevance[:, :10].sum(axis=1) == 0
    scores = np.tile(np.r_[np.arange(10, 0, -1), 0.0], (len(users), 1))
    return float(ndcg_score(relevance, scores, k=10)), float(relevance[:, :10].sum(axis=1).mean())


@pytest.mark.parametrize("folder", PUBLISHED, ids=lambda path: path.name)
def test_published_rankings_reproduce_the_published_metrics(folder: Path) -> None:
    test = read_json(folder / "metrics.json")["test"]
    rankings = sorted((folder / "rankings").glob("*.parquet"))
    assert {path.stem for path in rankings} == set(test)  # every reported model, Popularity included
    for path in rankings:
        ranking = pd.read_parquet(path)
        assert ranking.groupby("user_id").size().eq(10).all(), path
        ndcg, recall = _rescored(ranking)
        assert ndcg == pytest.approx(test[path.stem]["ndcg@10"], abs=1e-9), path.stem
        assert recall == pytest.approx(test[path.stem]["recall@10"], abs=1e-9), path.stem


def test_published_results_name_their_provenance() -> None:
    for folder in PUBLISHED:
        provenance = read_json(folder / "provenance.json")
        assert {"commit", "config", "config_sha256", "models", "machine"} <= set(provenance), folder
        assert (folder / provenance["config"]).exists(), folder


@pytest.mark.parametrize("folder", [folder for folder in PUBLISHED if (folder / "rankings" / "hymirec.parquet").exists()],
                         ids=lambda path: path.name)
def test_published_paired_differences_are_what_the_rankings_give(folder: Path) -> None:
    paired = read_json(folder / "paired.json")
    assert paired == paired_differences(folder / "rankings")
    test = read_json(folder / "metrics.json")["test"]
    for model, row in paired["models"].items():  # per-user means agree with the report's NDCG@10
        assert row["mean"] == pytest.approx(test[model]["ndcg@10"] - test["hymirec"]["ndcg@10"], abs=1e-9), model
