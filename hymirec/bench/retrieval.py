"""Exact and IVF multi-interest retrieval on a synthetic catalog: recall, users per second, build cost, memory.

The catalog is clustered because real item vectors are (genres, topics, co-consumed items) and an
approximate index exploits exactly that; uniform random unit vectors in 64-d have no neighbourhood
structure (every cosine is 0 ± 0.125), which makes any ANN index look far worse than on real data.
``clusters`` centres lie uniformly on the sphere, cluster sizes are lognormal (a few large topics, a
long tail), and an item is its centre plus Gaussian noise of norm ~0.6, normalised (cosine ≈ 0.86 to
its centre). A user's K interests each lie near a random item (noise of norm ~0.4, cosine ≈ 0.93),
and the history is drawn from those items' clusters: the items a user has seen are among the best
candidates, so excluding them changes the top-k, as it does in a real catalog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import faiss
import numpy as np

from hymirec.config import ServingConfig
from hymirec.serving.retrieval import MultiInterestRetriever

ITEM_NOISE, INTEREST_NOISE = 0.6, 0.4  # norms of the Gaussian offsets from a cluster centre / an anchor item
T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticUsers:
    interests: np.ndarray  # [U K D] unit vectors
    histories: list[np.ndarray]  # per user, item_idx


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def near(rng: np.random.Generator, points: np.ndarray, noise: float) -> np.ndarray:
    """Unit vectors around ``points``: a Gaussian offset of expected norm ``noise``, then normalised."""
    return unit_rows(points + rng.standard_normal(points.shape, dtype=np.float32) * np.float32(noise / np.sqrt(points.shape[-1])))


def synthetic_catalog(rng: np.random.Generator, num_items: int, num_clusters: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """[N D] unit item vectors and [N] the cluster of each."""
    centres = unit_rows(rng.standard_normal((num_clusters, dim), dtype=np.float32))
    weights = rng.lognormal(0.0, 1.0, num_clusters)
    clusters = rng.choice(num_clusters, size=num_items, p=weights / weights.sum())
    return near(rng, centres[clusters], ITEM_NOISE), clusters


def synthetic_users(rng: np.random.Generator, vectors: np.ndarray, clusters: np.ndarray, num_users: int,
                    num_interests: int, history_lengths: tuple[int, int]) -> SyntheticUsers:
    """K interests near random items; a history (length uniform in ``history_lengths``) from those items' clusters."""
    anchors = rng.integers(0, len(vectors), size=(num_users, num_interests))
    by_cluster = np.argsort(clusters, kind="stable")
    starts, sizes = np.searchsorted(clusters[by_cluster], np.arange(clusters.max() + 1)), np.bincount(clusters)
    lengths = rng.integers(history_lengths[0], history_lengths[1] + 1, size=num_users)
    owner = np.repeat(np.arange(num_users), lengths)
    cluster = clusters[anchors[owner, rng.integers(0, num_interests, size=len(owner))]]
    seen = by_cluster[starts[cluster] + (rng.random(len(owner)) * sizes[cluster]).astype(np.int64)]
    return SyntheticUsers(near(rng, vectors[anchors], INTEREST_NOISE), np.split(seen, np.cumsum(lengths)[:-1]))


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over users of |found ∩ truth| / k, for [U k] item lists."""
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=-1)
    return float(hits.mean())


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def index_memory_mb(index: faiss.Index) -> float:
    """What the index holds (vectors, ids, centroids): the size of its serialised form."""
    return round(faiss.serialize_index(index).nbytes / 2**20, 1)


def served(retriever: MultiInterestRetriever, users: SyntheticUsers, k: int, repeats: int) -> tuple[np.ndarray, float]:
    """[U k] top items of every user, served in one batch, and users per second of the fastest of ``repeats`` runs.

    The fastest run is the one the machine's other work disturbed least: on a shared machine it measures
    the code, the others its neighbours.
    """
    runs = [timed(lambda: retriever.top_items(users.interests, k, users.histories)) for _ in range(repeats)]
    return runs[0][0], round(len(users.histories) / min(seconds for _, seconds in runs), 1)


def retrieval_benchmark(config: ServingConfig, seed: int, num_items: int, num_clusters: int, dim: int, num_users: int,
                        num_interests: int, history_lengths: tuple[int, int], k: int, nprobe_sweep: tuple[int, ...], repeats: int) -> dict:
    """Exact against IVF search of the same catalog and users: recall@k of IVF's lists against the exact ones."""
    if num_items <= config.exact_max_items:
        raise ValueError(f"{num_items} items ≤ serving.exact_max_items={config.exact_max_items}: nothing approximate to measure")
    rng = np.random.default_rng(seed)
    vectors, clusters = synthetic_catalog(rng, num_items, num_clusters, dim)
    users = synthetic_users(rng, vectors, clusters, num_users, num_interests, history_lengths)
    exact, exact_build = timed(lambda: MultiInterestRetriever(vectors, config.model_copy(update={"exact_max_items": num_items}), seed))
    approximate, approximate_build = timed(lambda: MultiInterestRetriever(vectors, config, seed))
    logger.info("retrieval: indexes built, exact %.1f s, approximate %.1f s", exact_build, approximate_build)
    truth, exact_speed = served(exact, users, k, repeats)
    logger.info("retrieval: exact search, %s users/s", exact_speed)
    sweep = []
    for nprobe in sorted({*nprobe_sweep, config.ivf_nprobe}):
        approximate.index.nprobe = nprobe
        found, speed = served(approximate, users, k, repeats)
        sweep.append({"nprobe": nprobe, f"recall@{k}": round(recall_at_k(found, truth), 4), "users_per_second": speed})
        logger.info("retrieval: %s", sweep[-1])
    chosen = next(point for point in sweep if point["nprobe"] == config.ivf_nprobe)
    return {
        "catalog": {"items": num_items, "dim": dim, "clusters": num_clusters, "item_noise": ITEM_NOISE, "interest_noise": INTEREST_NOISE},
        "users": num_users, "interests_per_user": num_interests, "k": k, "timing": f"one batch of all users, fastest of {repeats} runs",
        "history_length": {"min": history_lengths[0], "max": history_lengths[1], "mean": round(float(np.mean([len(h) for h in users.histories])), 1)},
        "index": {"kind": type(approximate.index).__name__, "nlist": approximate.index.nlist, "nprobe": config.ivf_nprobe,
                  "train_points_per_list": config.ivf_train_points_per_list, "exact_max_items": config.exact_max_items},
        f"recall@{k}": chosen[f"recall@{k}"],
        "users_per_second": {"approximate": chosen["users_per_second"], "exact": exact_speed},
        "build_seconds": {"approximate": round(approximate_build, 2), "exact": round(exact_build, 2)},
        "index_memory_mb": {"approximate": index_memory_mb(approximate.index), "exact": index_memory_mb(exact.index)},
        "nprobe_sweep": sweep,
    }
