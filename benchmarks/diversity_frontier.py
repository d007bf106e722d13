"""How much NDCG@10 a genre-aware re-rank of each list costs per gain in ILD@10, with λ chosen on validation.

HyMiRec's served lists (max over its interests) are less genre-diverse than ComiRec-SA's (test ILD@10 0.555
vs 0.572 on the full-size benchmark, results/benchmark_ml1m/metrics.json). This measures what genre diversity costs each model in accuracy,
so the models can be compared at equal diversity or at equal cost: each user's top ``POOL`` items are
re-ranked greedily, maximal-marginal-relevance style, by
(1 − λ)·rel(rank) + λ·(mean genre distance to the items already chosen), rel(rank) = 1 / log2(rank + 1)
(ranks, not scores, so every model is re-ranked the same way whatever its score scale). λ = 0 is the
model's own list and must reproduce the report's NDCG@10 and ILD@10 on both splits (raises otherwise).
For each model λ* is chosen on validation only — the largest λ on the grid whose validation NDCG@10 stays
within ``ACCURACY_BUDGET`` of the model's own — and reported on test.

Needs a workspace holding the trained models of ``configs/benchmark_ml1m.yaml`` (seed 42), whose report
``results/benchmark_ml1m/`` publishes; it writes the published analysis ``results/benchmark_ml1m_diversity/``:

    .venv/bin/python benchmarks/diversity_frontier.py WORKSPACE configs/benchmark_ml1m.yaml results/benchmark_ml1m_diversity/frontier.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from hymirec.config import load_config
from hymirec.data.sequences import item_categories, load_sequence_data, split_view
from hymirec.evaluation.ranking import evaluate, intra_list_distance, ranking_metrics
from hymirec.experiments.publish import commit_of
from hymirec.io import read_json, write_json
from hymirec.paths import Layout
from hymirec.serving.served_model import load_trained, trained_model_dirs

POOL, DEPTH = 50, 10
LAMBDAS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
MODELS = ("hymirec", "sasrec", "comirec")
ACCURACY_BUDGET = 0.01  # λ*: validation NDCG@10 at least 99 % of the model's own list's


def rerank(pool: np.ndarray, unit: np.ndarray, weight: float) -> np.ndarray:
    """Greedy MMR over each user's pool [U, POOL] of item rows (``unit``: unit genre vectors): the top DEPTH rows."""
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


def target_ranks_in(top: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each target's 1-based rank in its list, DEPTH + 1 when the list misses it (all that NDCG@DEPTH needs)."""
    hit = top == targets[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, DEPTH + 1)


def frontier(pool: np.ndarray, targets: np.ndarray, categories: np.ndarray, unit: np.ndarray) -> list[dict[str, float]]:
    """NDCG@10 and ILD@10 of the re-ranked lists at every λ of the grid (``unit``: ``categories`` row-normalised)."""
    rows = []
    for weight in LAMBDAS:
        top = rerank(pool, unit, weight)
        ndcg = ranking_metrics(target_ranks_in(top, targets), [DEPTH])[f"ndcg@{DEPTH}"]
        rows.append({"lambda": weight, "ndcg@10": ndcg, "ild@10": intra_list_distance(top, categories)})
    return rows


def chosen_lambda(valid: list[dict[str, float]]) -> float:
    """The largest λ whose validation NDCG@10 is within ACCURACY_BUDGET of λ = 0's (rows in λ order)."""
    floor = (1.0 - ACCURACY_BUDGET) * valid[0]["ndcg@10"]
    return max(row["lambda"] for row in valid if row["ndcg@10"] >= floor)


def main(workspace: Path, config_path: Path, out: Path) -> None:
    layout, config = Layout(workspace.resolve()), load_config(config_path)
    data = load_sequence_data(layout)
    categories = item_categories(data.items)
    if categories is None:
        raise SystemExit(f"error: {layout.item_map}: no item names a genre; the frontier re-ranks by genre distance")
    categories = categories.astype(np.float64)
    norms = np.linalg.norm(categories, axis=1, keepdims=True)
    unit = np.divide(categories, norms, out=np.zeros_like(categories), where=norms > 0)
    views = {split: split_view(data.sequences, split) for split in ("valid", "test")}
    reported = read_json(layout.metrics)
    folders = trained_model_dirs(layout)
    models = {}
    for model in MODELS:
        recommender = load_trained(model, folders[model], layout)
        splits = {}
        for split, view in views.items():
            result = evaluate(recommender.score_items, view, config.evaluation, model_name=model, item_categories=categories)
            rows = frontier(result.top_items[:, :POOL], view.targets, categories, unit)
            own, report = rows[0], reported[split][model]  # λ = 0 is the model's own list: the report's figures
            if not (np.isclose(own["ndcg@10"], report["ndcg@10"]) and np.isclose(own["ild@10"], report["ild@10"])):
                raise ValueError(f"{workspace}: {model}'s {split} lists score {own}, its report says ndcg@10 {report['ndcg@10']}, ild@10 {report['ild@10']}")
            splits[split] = [{key: round(value, 4) for key, value in row.items()} for row in rows]
        weight = chosen_lambda(splits["valid"])
        models[model] = {"chosen_lambda": weight, "test_at_chosen": next(row for row in splits["test"] if row["lambda"] == weight), **splits}
        print(model, "λ*", weight, models[model]["test_at_chosen"])
    record = {"workspace_commit": commit_of(workspace), "pool": POOL, "relevance": "1/log2(rank+1)",
              "accuracy_budget": ACCURACY_BUDGET, "models": models}
    write_json(record, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
