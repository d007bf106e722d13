"""Multi-interest retrieval: exact on small catalogs, IVF above serving.exact_max_items, history never served."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from hymirec.bench.retrieval import recall_at_k, synthetic_catalog, synthetic_users
from hymirec.config import ServingConfig
from hymirec.serving.retrieval import MultiInterestRetriever

# an IVF index on 20k items: (39 · 2)² = 6,084 ≤ 10,000, so 283 lists of ~70 items train without warnings
SMALL_IVF = ServingConfig(exact_max_items=10_000, ivf_lists_per_sqrt_item=2.0)


def full_ranking_top(vectors: np.ndarray, interests: np.ndarray, k: int, histories: list[np.ndarray]) -> np.ndarray:
    """The definition: max over interests of the cosine to every item, history masked, ties by lower index."""
    scores = np.einsum("bkd,nd->bkn", interests, vectors).max(axis=1)
    for user, history in enumerate(histories):
        scores[user, history] = -np.inf
    return np.stack([np.lexsort((np.arange(len(vectors)), -row))[:k] for row in scores])


@pytest.fixture(scope="module")
def catalog() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_catalog(np.random.default_rng(0), num_items=20_000, num_clusters=300, dim=16)


def test_small_catalogs_are_searched_exactly_with_ties_by_lower_index() -> None:
    rng = np.random.default_rng(3)
    distinct = rng.integers(-2, 3, size=(23, 5)).astype(np.float32)  # small integers: many exactly tied scores
    vectors = np.concatenate([distinct, distinct[:14]])  # 37 items, 14 of them duplicates
    interests = rng.integers(-2, 3, size=(7, 3, 5)).astype(np.float32)
    histories = [rng.choice(37, size=size, replace=False) for size in (0, 1, 5, 9, 2, 11, 4)]
    retriever = MultiInterestRetriever(vectors, ServingConfig(), seed=0)
    served = retriever.top_items(interests, 6, histories)
    assert isinstance(retriever.index, faiss.IndexFlatIP) and served.shape == (7, 6) and served.dtype == np.int64
    np.testing.assert_array_equal(served, full_ranking_top(vectors, interests, 6, histories))


def test_above_exact_max_items_an_ivf_index_keeps_recall_and_never_serves_history(catalog: tuple[np.ndarray, np.ndarray]) -> None:
    vectors, clusters = catalog
    users = synthetic_users(np.random.default_rng(1), vectors, clusters, num_users=200, num_interests=4, history_lengths=(25, 75))
    retriever = MultiInterestRetriever(vectors, SMALL_IVF, seed=0)
    served = retriever.top_items(users.interests, 10, users.histories)
    assert isinstance(retriever.index, faiss.IndexIVFFlat) and retriever.index.nlist == 283 and retriever.index.nprobe == 8
    assert recall_at_k(served, full_ranking_top(vectors, users.interests, 10, users.histories)) >= 0.95
    assert not any(np.isin(top, history).any() for top, history in zip(served, users.histories))
    assert all(len(set(top)) == 10 for top in served)  # an item found by several interests is served once


def test_the_ivf_index_is_rebuilt_identically_from_its_seed(catalog: tuple[np.ndarray, np.ndarray]) -> None:
    vectors, _ = catalog
    indexes = [MultiInterestRetriever(vectors, SMALL_IVF, seed=seed).index for seed in (5, 5, 6)]
    centroids = [index.quantizer.reconstruct_n(0, index.nlist) for index in indexes]
    np.testing.assert_array_equal(centroids[0], centroids[1])
    assert not np.array_equal(centroids[0], centroids[2])


def test_too_few_unseen_candidates_is_an_error_not_a_short_list() -> None:
    vectors = np.eye(4, dtype=np.float32)
    retriever = MultiInterestRetriever(vectors, ServingConfig(), seed=0)
    with pytest.raises(ValueError, match="1 of 1 users have fewer than k=3 unseen candidates"):
        retriever.top_items(vectors[None, :2], 3, [np.array([0, 1])])
