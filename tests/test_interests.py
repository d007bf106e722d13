"""Interest diagnostics: which interest produced an item, which won the target, how alike a user's interests are."""

from __future__ import annotations

import numpy as np
import pytest

from hymirec.evaluation.interests import interest_attribution, interest_report, mean_pairwise_cosine


class FixedInterests:
    """Every user gets the same K = 3 interests, the unit axes x, y and z, served without a gate."""

    item_vectors = np.array([[1.0, 0.1, 0.0], [0.2, 0.9, 0.0], [0.0, 0.3, 0.8], [0.9, 0.0, 0.5]])  # nearest axis: x, y, z, x

    def interests(self, histories: list[np.ndarray]) -> np.ndarray:
        return np.tile(np.eye(3), (len(histories), 1, 1))

    def interest_vectors(self, interests: np.ndarray) -> np.ndarray:
        return interests


ITEMS = FixedInterests.item_vectors


def test_attribution_is_the_interest_with_the_highest_score_of_each_item() -> None:
    interests = FixedInterests().interests([np.array([0])])
    assert interest_attribution(interests, ITEMS, np.array([[3, 2, 1, 0]])).tolist() == [[0, 2, 1, 0]]


def test_shares_count_targets_won_and_top_slots_per_interest() -> None:
    histories = [np.array([0])] * 4
    top = np.array([[0, 3], [1, 0], [2, 3], [0, 1]])  # slots by interest: x x | y x | z x | x y
    report = interest_report(FixedInterests(), histories, np.array([1, 1, 2, 0]), top, cutoff=2, chunk_size=3)
    assert report.target_share == pytest.approx([1 / 4, 2 / 4, 1 / 4])
    assert report.top_share == pytest.approx([5 / 8, 2 / 8, 1 / 8])
    assert report.attribution.tolist() == [[0, 0], [1, 0], [2, 0], [0, 1]]
    assert report.pairwise_cosine == pytest.approx(0.0)  # orthogonal axes
    assert set(report.metrics(2)) == {"target_share", "top2_share", "pairwise_cosine"}


def test_pairwise_cosine_is_one_for_copies_and_none_for_one_interest() -> None:
    copies = np.array([[[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]]])
    assert mean_pairwise_cosine(copies) == pytest.approx([1.0])

    class One(FixedInterests):
        def interests(self, histories: list[np.ndarray]) -> np.ndarray:
            return np.ones((len(histories), 1, 3))

    assert interest_report(One(), [np.array([0])], np.array([1]), np.array([[0, 1]])).pairwise_cosine is None


def test_round_robin_interleaves_the_interests_best_unseen_items() -> None:
    from hymirec.evaluation.interests import round_robin_scores

    #                      items:  0    1    2    3    4    5
    per_interest = np.array([[[0.9, 0.8, 0.7, 0.6, 0.1, 0.0],    # interest 0 loves 0, 1, 2, 3
                              [0.0, 0.1, 0.2, 0.3, 0.5, 0.4]]])  # interest 1: 4, 5, 3, ...
    scores = round_robin_scores(per_interest, [np.array([0])])  # item 0 seen
    order = [int(i) for i in np.argsort(-scores[0], kind="stable") if i != 0]
    # max would list 1, 2, 3, 4, 5; round robin takes 1 (rank 0 of interest 0) and 4 (rank 0 of interest 1),
    # then 2 and 5 (rank 1 of each), ...: ties at equal rank go to the higher max score
    assert order == [1, 4, 2, 5, 3]


def test_round_robin_of_one_interest_is_its_own_ranking() -> None:
    from hymirec.evaluation.interests import round_robin_scores

    single = np.array([[[0.3, 0.9, 0.1, 0.5]]])
    assert np.argsort(-round_robin_scores(single, [np.array([], dtype=np.int64)])[0]).tolist() == [1, 3, 0, 2]
