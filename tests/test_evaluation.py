from __future__ import annotations

import math

import numpy as np
import pytest

from hymirec.config import EvaluationConfig
from hymirec.evaluation import (
    breakdown_by_history_length,
    catalog_coverage,
    category_coverage,
    evaluate,
    intra_list_distance,
    mask_histories,
    ranking_metrics,
    target_ranks,
    top_items,
)
from hymirec.sequences import SplitView


def test_ranking_metrics_match_hand_computed_values() -> None:
    ranks = np.array([1, 3, 12, 60])
    metrics = ranking_metrics(ranks, ks=[10, 50])
    assert metrics["recall@10"] == pytest.approx(2 / 4)
    assert metrics["recall@50"] == pytest.approx(3 / 4)
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(2) + 1 / math.log2(4)) / 4)
    assert metrics["ndcg@50"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(13)) / 4)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 12 + 1 / 60) / 4)


def test_history_is_masked_and_ties_break_by_item_index() -> None:
    scores = np.array([[0.9, 0.5, 0.5, 0.1, 0.5]], dtype=np.float32)
    masked = mask_histories(scores.copy(), [np.array([0])])
    assert np.isneginf(masked[0, 0])
    # target 4 ties with items 1 and 2 (lower index first) -> rank 3; item 0 is masked
    assert target_ranks(masked, np.array([4]))[0] == 3
    assert target_ranks(masked, np.array([1]))[0] == 1
    assert list(top_items(masked, 4)[0]) == [1, 2, 4, 3]


def test_ranks_agree_with_exported_top_lists() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 30)).astype(np.float32)  # many ties on purpose
    targets = rng.integers(0, 30, size=50)
    ranks = target_ranks(scores, targets)
    order = top_items(scores, 30)
    assert all(order[user, rank - 1] == targets[user] for user, rank in enumerate(ranks))


def test_diversity_and_coverage() -> None:
    categories = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=bool)
    same = np.array([[0, 1]])
    mixed = np.array([[0, 2]])
    assert intra_list_distance(same, categories.astype(float)) == pytest.approx(0.0)
    assert intra_list_distance(mixed, categories.astype(float)) == pytest.approx(1.0)
    assert category_coverage(same, categories) == pytest.approx(0.5)
    assert category_coverage(mixed, categories) == pytest.approx(1.0)
    assert catalog_coverage(np.array([[0, 1], [1, 2]]), num_items=4) == pytest.approx(0.75)


def test_breakdown_by_history_length() -> None:
    rows = breakdown_by_history_length(np.array([1, 100, 1, 2]), np.array([5, 7, 30, 600]), edges=[20, 500])
    assert [(r["history_length"], r["users"]) for r in rows] == [("0-19", 2), ("20-499", 1), ("500+", 1)]
    assert rows[0]["recall@10"] == pytest.approx(0.5) and rows[1]["ndcg@10"] == pytest.approx(1.0)


def test_evaluate_full_pipeline_in_chunks() -> None:
    view = SplitView(
        histories=[np.array([0]), np.array([1, 2]), np.array([3])],
        targets=np.array([1, 0, 4]),
        user_idx=np.arange(3),
    )
    item_scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    result = evaluate(
        lambda histories: np.tile(item_scores, (len(histories), 1)),
        view,
        EvaluationConfig(ks=(1, 2), ranking_depth=3, diversity_k=2, history_length_edges=(2,)),
        chunk_size=2,
    )
    assert list(result.ranks) == [1, 1, 4]
    assert result.top_items.tolist() == [[1, 2, 3], [0, 3, 4], [0, 1, 2]]
    assert result.metrics["recall@2"] == pytest.approx(2 / 3)


def test_evaluate_rejects_a_target_inside_its_history() -> None:
    view = SplitView(histories=[np.array([1])], targets=np.array([1]), user_idx=np.arange(1))
    with pytest.raises(ValueError, match="leaking"):
        evaluate(lambda h: np.zeros((len(h), 3)), view, EvaluationConfig(ks=(1,), ranking_depth=2, diversity_k=2))
