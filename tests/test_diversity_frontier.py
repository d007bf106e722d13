"""The diversity frontier (benchmarks/diversity_frontier.py, published in results/benchmark_ml1m_diversity/): its re-rank, its choice of λ, its committed figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from hymirec.io import read_json
from hymirec.paths import Layout

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
FOLDER = RESULTS / "benchmark_ml1m_diversity"


def _frontier_module() -> ModuleType:
    """diversity_frontier.py is a script in benchmarks/, not part of the package: load it by path."""
    spec = importlib.util.spec_from_file_location("diversity_frontier", ROOT / "benchmarks" / "diversity_frontier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rerank_keeps_the_model_order_at_zero_weight_and_spreads_genres_at_full_weight() -> None:
    frontier = _frontier_module()
    genres = np.eye(3)[np.r_[np.zeros(frontier.POOL - 2, dtype=int), 1, 2]]  # all genre 0 but the last two items
    pool = np.arange(frontier.POOL)[None, :]
    assert frontier.rerank(pool, genres, 0.0)[0].tolist() == list(range(frontier.DEPTH))
    diverse = frontier.rerank(pool, genres, 1.0)[0].tolist()
    assert diverse[0] == 0 and set(diverse[1:3]) == {frontier.POOL - 2, frontier.POOL - 1}


def test_lambda_is_the_largest_within_the_accuracy_budget_of_validation() -> None:
    frontier = _frontier_module()
    rows = [{"lambda": 0.0, "ndcg@10": 0.2}, {"lambda": 0.1, "ndcg@10": 0.199}, {"lambda": 0.2, "ndcg@10": 0.19},
            {"lambda": 0.3, "ndcg@10": 0.2}]
    assert frontier.ACCURACY_BUDGET == 0.01
    assert frontier.chosen_lambda(rows) == 0.3  # 0.2 falls out of the budget, 0.3 is back within it
    assert frontier.chosen_lambda(rows[:3]) == 0.1


@pytest.mark.parametrize("model", ["hymirec", "sasrec", "comirec"])
def test_the_committed_frontier_starts_at_the_report_and_chooses_on_validation(model: str) -> None:
    record = read_json(FOLDER / "frontier.json")["models"][model]
    published = read_json(RESULTS / "benchmark_ml1m" / "metrics.json")
    for split in ("valid", "test"):
        own = record[split][0]
        assert own["lambda"] == 0.0
        assert own["ndcg@10"] == pytest.approx(published[split][model]["ndcg@10"], abs=5e-5)
        assert own["ild@10"] == pytest.approx(published[split][model]["ild@10"], abs=5e-5)
    assert record["chosen_lambda"] == _frontier_module().chosen_lambda(record["valid"])
    assert record["test_at_chosen"] in record["test"] and record["test_at_chosen"]["lambda"] == record["chosen_lambda"]


def test_items_without_genres_are_refused_with_the_file_named(tmp_path: Path) -> None:
    frontier = _frontier_module()
    layout = Layout(tmp_path)
    layout.sequences_dir.mkdir(parents=True)
    pd.DataFrame({"user_id": ["u"], "items": [[0, 1, 0]]}).to_parquet(layout.sequences)
    pd.DataFrame({"item_id": ["a", "b"], "genres": ["", None]}).to_parquet(layout.item_map)
    pd.DataFrame({"user_id": ["u"]}).to_parquet(layout.user_map)
    with pytest.raises(SystemExit, match=f"{layout.item_map}: no item names a genre"):
        frontier.main(tmp_path, ROOT / "configs" / "default.yaml", tmp_path / "frontier.json")
