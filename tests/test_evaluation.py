from __future__ import annotations

import math

import numpy as np
import pytest

from hymirec.config import EvaluationConfig
from hymirec.data.sequences import SplitView
from hymirec.evaluation.ranking import (
    breakdown_by_history_length,
    catalog_coverage,
    category_coverage,
    evaluate,
    facet_coverage,
    intra_list_distance,
    mask_histories,
    ranking_metrics,
    target_ranks,
    top_items,
)


def test_ranking_metrics_match_hand_computed_values() -> None:
    ranks = np.array([1, 3, 12, 60])
    metrics = ranking_metrics(ranks, ks=[10, 50])
    assert metrics["recall@10"] == pytest.approx(2 / 4)
    assert metrics["recall@50"] == pytest.approx(3 / 4)
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(2) + 1 / math.log2(4)) / 4)
    assert metrics["ndcg@50"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(13)) / 4)
    assert metrics["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 12 + 1 / 60) / 4)


def test_history_is_masked_and_ties_count_against_the_target() -> None:
    scores = np.array([[0.9, 0.5, 0.5, 0.1, 0.5]], dtype=np.float32)
    masked = mask_histories(scores.copy(), [np.array([0])])
    assert np.isneginf(masked[0, 0])
    # item 0 is masked; the target ties with the two other 0.5s, whatever its index -> rank 3
    assert target_ranks(masked, np.array([4]))[0] == 3
    assert target_ranks(masked, np.array([1]))[0] == 3
    assert target_ranks(masked, np.array([3]))[0] == 4
    # the exported order puts the target after the items tied with it, the others by index
    assert list(top_items(masked, 4, np.array([4]))[0]) == [1, 2, 4, 3]
    assert list(top_items(masked, 4, np.array([1]))[0]) == [2, 4, 1, 3]
    assert list(top_items(masked, 2, np.array([1]))[0]) == [2, 4]
    # without a target (serving) ties go by index alone
    assert list(top_items(masked, 4)[0]) == [1, 2, 4, 3]


def _rescored(top: np.ndarray, targets: np.ndarray, ks) -> dict[str, float]:
    """Recall@k and NDCG@k from an exported list alone: the target's 1-based position in it."""
    found = top == targets[:, None]
    position = np.where(found.any(axis=1), found.argmax(axis=1) + 1.0, np.inf)
    metrics = {}
    for k in ks:
        hit = position <= k
        metrics[f"recall@{k}"] = float(hit.mean())
        metrics[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(position + 1.0), 0.0).mean())
    return metrics


def test_exported_lists_give_the_reported_ranks_and_metrics_under_many_ties() -> None:
    rng = np.random.default_rng(0)
    num_users, num_items, depth = 300, 40, 12
    scores = rng.integers(0, 5, size=(num_users, num_items)).astype(np.float32)  # many ties on purpose
    histories = [rng.choice(num_items, size=rng.integers(0, 10), replace=False) for _ in range(num_users)]
    targets = np.array([rng.choice(np.setdiff1d(np.arange(num_items), history)) for history in histories])
    view = SplitView(histories, targets, np.arange(num_users), "test")
    config = EvaluationConfig(ks=(1, 5, 10), ranking_depth=depth, diversity_k=5)
    result = evaluate(lambda batch: scores, view, config, model_name="ties", chunk_size=num_users)
    within = result.ranks <= depth
    assert 0 < within.sum() < num_users  # both cases occur
    for user in np.flatnonzero(within):
        assert result.top_items[user, result.ranks[user] - 1] == targets[user]
    assert not (result.top_items[~within] == targets[~within, None]).any()
    rescored = _rescored(result.top_items, targets, config.ks)
    assert rescored == pytest.approx({key: result.metrics[key] for key in rescored}, abs=1e-12)


def test_partitioned_top_k_equals_the_full_stable_sort() -> None:
    rng = np.random.default_rng(1)
    for num_items, depth in [(50, 10), (3706, 200), (7, 7), (7, 20)]:
        scores = rng.integers(-3, 4, size=(64, num_items)).astype(np.float32) / 2
        scores[rng.random(scores.shape) < 0.1] = -np.inf  # masked items
        scores[:, 0] = -0.0  # compares equal to +0.0
        targets = rng.integers(0, num_items, size=64)
        # reference: stable sort on -score, then move each target after the items tied with it
        expected = np.argsort(-scores, axis=1, kind="stable")
        for user, target in enumerate(targets):
            row = [item for item in expected[user] if item != target]
            tied = [i for i, item in enumerate(row) if scores[user, item] >= scores[user, target]]
            row.insert(tied[-1] + 1 if tied else 0, target)
            expected[user] = row
        np.testing.assert_array_equal(top_items(scores, depth), np.argsort(-scores, axis=1, kind="stable")[:, :depth])
        np.testing.assert_array_equal(top_items(scores, depth, targets), expected[:, :depth])
        ranks = target_ranks(scores, targets)
        np.testing.assert_array_equal((expected == targets[:, None]).argmax(axis=1) + 1, ranks)


def test_a_constant_model_gets_the_worst_rank() -> None:
    num_users, num_items = 20, 100
    view = SplitView([np.arange(user % 5) for user in range(num_users)], np.full(num_users, 50), np.arange(num_users), "valid")
    result = evaluate(lambda batch: np.zeros((len(batch), num_items)), view, EvaluationConfig(ks=(10,), ranking_depth=100), model_name="constant")
    np.testing.assert_array_equal(result.ranks, num_items - view.history_lengths)  # every unmasked item
    assert result.metrics["ndcg@10"] == pytest.approx(0.0) and result.metrics["recall@10"] == 0.0
    assert result.metrics["mrr"] < 0.011


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_score_names_model_split_and_user(bad: float) -> None:
    view = SplitView([np.array([0]), np.array([1]), np.array([2])], np.array([3, 3, 3]), np.array([7, 17, 27]), "valid")

    def score(batch):
        scores = np.ones((len(batch), 5))
        if len(batch) == 1 and batch[0][0] == 1:  # user_idx 17, alone in its chunk
            scores[0, 0] = bad  # an item in the history: masking must not hide it
        return scores

    with pytest.raises(ValueError, match=rf"^model sasrec, split valid: non-finite score for user_idx 17 \(item_idx 0: {bad}\)$"):
        evaluate(score, view, EvaluationConfig(ks=(1,), ranking_depth=2, diversity_k=2), model_name="sasrec", chunk_size=1)


def test_evaluate_rejects_scores_of_the_wrong_shape() -> None:
    view = SplitView([np.array([0]), np.array([1])], np.array([2, 2]), np.arange(2), "test")
    with pytest.raises(ValueError, match=r"model broken, split test: scores of shape \(1, 3\) for 2 users"):
        evaluate(lambda h: np.zeros((1, 3)), view, EvaluationConfig(ks=(1,), ranking_depth=2, diversity_k=2), model_name="broken")


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


def test_default_strata_equal_a_naive_recomputation() -> None:
    """≤ 50, 51–200, 201–500, > 500 items before the target, each user's NDCG@10 averaged by hand."""
    rng = np.random.default_rng(3)
    ranks, lengths = rng.integers(1, 40, size=500), rng.integers(0, 1200, size=500)
    rows = breakdown_by_history_length(ranks, lengths, EvaluationConfig().history_length_edges)
    assert [row["history_length"] for row in rows] == ["0-50", "51-200", "201-500", "501+"]
    for row, (low, high) in zip(rows, [(0, 50), (51, 200), (201, 500), (501, 10**9)]):
        users = [u for u in range(500) if low <= lengths[u] <= high]
        assert row["users"] == len(users)
        gains = [1 / math.log2(ranks[u] + 1) if ranks[u] <= 10 else 0.0 for u in users]
        assert row["ndcg@10"] == pytest.approx(sum(gains) / len(users))
        assert row["recall@10"] == pytest.approx(sum(ranks[u] <= 10 for u in users) / len(users))


def test_facet_coverage_counts_the_users_three_most_frequent_history_genres() -> None:
    #                       drama comedy horror war
    categories = np.array([[1, 0, 0, 0],   # 0
                           [1, 1, 0, 0],   # 1
                           [0, 1, 0, 0],   # 2
                           [0, 0, 1, 0],   # 3
                           [0, 0, 0, 1],   # 4
                           [0, 0, 0, 0]], dtype=bool)  # 5: no genre
    histories = [np.array([0, 0, 1, 2, 3]), np.array([4]), np.array([5])]  # facets: drama 3, comedy 2, horror 1 | war | none
    top = np.array([[0, 5], [4, 0], [1, 2]])
    # user 0's list covers drama only (1 of 3), user 1's war (1 of 1), user 2 has no facet and is left out
    assert facet_coverage(top, histories, categories) == pytest.approx((1 / 3 + 1) / 2)
    assert facet_coverage(np.array([[1, 3], [4, 4], [0, 0]]), histories, categories) == pytest.approx(1.0)


def test_evaluate_full_pipeline_in_chunks() -> None:
    view = SplitView(
        histories=[np.array([0]), np.array([1, 2]), np.array([3])],
        targets=np.array([1, 0, 4]),
        user_idx=np.arange(3),
        split="valid",
    )
    item_scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    result = evaluate(
        lambda histories: np.tile(item_scores, (len(histories), 1)),
        view,
        EvaluationConfig(ks=(1, 2), ranking_depth=3, diversity_k=2, history_length_edges=(2,)),
        model_name="fixed",
        chunk_size=2,
    )
    assert list(result.ranks) == [1, 1, 4]
    assert result.top_items.tolist() == [[1, 2, 3], [0, 3, 4], [0, 1, 2]]
    assert result.metrics["recall@2"] == pytest.approx(2 / 3)


def test_evaluate_rejects_a_target_inside_its_history() -> None:
    view = SplitView(histories=[np.array([1])], targets=np.array([1]), user_idx=np.arange(1), split="test")
    with pytest.raises(ValueError, match="model zeros, split test: .*leaking"):
        evaluate(lambda h: np.zeros((len(h), 3)), view, EvaluationConfig(ks=(1,), ranking_depth=2, diversity_k=2), model_name="zeros")
