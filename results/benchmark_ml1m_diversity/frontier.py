"""How much test NDCG@10 a genre-aware re-rank of a model's list costs for each gain in ILD@10.

A post-hoc look at the full-size benchmark's seed-42 workspace (its test rankings to depth 200 are not
published: run from a workspace, e.g. ../bench_full): each user's top ``POOL`` items are re-ranked
greedily, maximal-marginal-relevance style, by (1 − λ)·rel(rank) + λ·(mean genre distance to the items
already chosen), with rel(rank) = 1 / log2(rank + 1) because the rankings hold ranks, not scores. λ = 0
is the model's own list. Nothing is selected on test: the output is the whole frontier, one row per λ,
for HyMiRec and ComiRec-SA (whose ILD@10, 0.572, HyMiRec's 0.554 falls short of).

    .venv/bin/python results/benchmark_ml1m_diversity/frontier.py ../bench_full results/benchmark_ml1m_diversity/frontier.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from hymirec.evaluation import intra_list_distance
from hymirec.io import read_json
from hymirec.publish import commit_of

POOL, DEPTH = 50, 10
LAMBDAS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
MODELS = ("hymirec", "comirec", "sasrec")


def genre_vectors(items: pd.DataFrame) -> tuple[dict[str, int], np.ndarray]:
    """Item id → row, and each item's unit multi-hot genre vector (the benchmark's ILD features)."""
    genres = sorted({g for value in items["genres"] for g in value.split("|") if g})
    column = {g: j for j, g in enumerate(genres)}
    vectors = np.zeros((len(items), len(genres)))
    for row, value in enumerate(items["genres"]):
        for g in value.split("|"):
            if g:
                vectors[row, column[g]] = 1.0
    return dict(zip(items["item_id"], range(len(items)))), vectors


def rerank(pool: np.ndarray, unit: np.ndarray, weight: float) -> np.ndarray:
    """Greedy MMR over each user's pool [U, POOL] of item rows: the re-ranked top DEPTH rows."""
    relevance = 1.0 / np.log2(np.arange(pool.shape[1]) + 2.0)
    vectors = unit[pool]  # [U P F]
    chosen = np.zeros((pool.shape[0], DEPTH), dtype=np.int64)
    taken = np.zeros(pool.shape, dtype=bool)
    distance_sum = np.zeros(pool.shape)
    users = np.arange(pool.shape[0])
    for step in range(DEPTH):
        diversity = distance_sum / step if step else np.zeros(pool.shape)
        gain = np.where(taken, -np.inf, (1.0 - weight) * relevance + weight * diversity)
        pick = gain.argmax(axis=1)
        taken[users, pick] = True
        chosen[:, step] = pool[users, pick]
        distance_sum += 1.0 - np.einsum("upf,uf->up", vectors, vectors[users, pick])
    return chosen


def ndcg_at_depth(top: np.ndarray, targets: np.ndarray) -> float:
    """NDCG@DEPTH of one held-out target per user."""
    hit = top == targets[:, None]
    return float((hit / np.log2(np.arange(2, DEPTH + 2))).sum(axis=1).mean())


def main(workspace: Path, out: Path) -> None:
    items = pd.read_parquet(workspace / "data/sequences/items.parquet")
    row_of, vectors = genre_vectors(items)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    reported = read_json(workspace / "reports/metrics.json")["test"]
    frontier: dict[str, list[dict[str, float]]] = {}
    for model in MODELS:
        ranking = pd.read_parquet(workspace / f"reports/rankings/{model}.parquet").sort_values(["user_id", "rank"])
        ranking = ranking[ranking["rank"] <= POOL]
        pool = ranking["item_id"].map(row_of).to_numpy().reshape(-1, POOL)
        targets = ranking.groupby("user_id", sort=True)["target_item_id"].first().map(row_of).to_numpy()
        frontier[model] = []
        for weight in LAMBDAS:
            top = rerank(pool, unit, weight)
            frontier[model].append({"lambda": weight, "ndcg@10": ndcg_at_depth(top, targets), "ild@10": intra_list_distance(top, vectors)})
        own = frontier[model][0]  # λ = 0 must be the report's own figures, or the inputs are not the report's
        if not np.isclose(own["ndcg@10"], reported[model]["ndcg@10"]) or not np.isclose(own["ild@10"], reported[model]["ild@10"]):
            raise ValueError(f"{workspace}: {model}'s ranking re-scores to {own}, its report says {reported[model]}")
        frontier[model] = [{key: round(value, 4) for key, value in row.items()} for row in frontier[model]]
        print(model, frontier[model])
    record = {"workspace_commit": commit_of(workspace), "split": "test", "pool": POOL, "relevance": "1/log2(rank+1)", "frontier": frontier}
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
