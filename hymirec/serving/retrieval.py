"""Serving multi-interest users with faiss: top-k items by s(u, i) = max_k cos(u_k, i).

Each of a user's K interests is searched in an inner-product index over the unit item vectors; the
union of the K candidate lists, scored by the best interest, holds the exact top-k by the max score
(an item in the true top-k is in the top-k of the interest that scores it highest). Items the user
has already seen are skipped, so each interest fetches k + (history length) candidates.

The index is exact (``IndexFlatIP``) up to ``serving.exact_max_items`` items, which covers MovieLens.
Above it an ``IndexIVFFlat`` (inner product, spherical k-means centroids) searches ``ivf_nprobe`` of
its ``ivf_lists_per_sqrt_item`` × √N lists. IVF rather than HNSW, measured on 1M clustered 64-d items
with one thread (``results/retrieval_index_choice/`` at c735b41): IVF with 4,000 lists built in 44 s and reached a
per-interest recall@10 of 0.993 at nprobe 8 in 0.68 s for 8,000 interests; ``IndexHNSWFlat`` (M = 32)
took 337 s to build and reached 0.938 at efSearch 128 in 7.3 s. Its graph also adds 256 bytes an item.
IVF finds only the items of the lists it probes, so its merged top-k is approximate: recall@10
0.990 against exact search at 1M items (``reports/retrieval_1m.json``).
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from hymirec.config import ServingConfig


def ivf_index(vectors: np.ndarray, config: ServingConfig, seed: int) -> faiss.IndexIVFFlat:
    """An IVF index over ``vectors``, its centroids trained on a seeded sample so a rebuild is identical."""
    num_items, dim = vectors.shape
    num_lists = round(config.ivf_lists_per_sqrt_item * math.sqrt(num_items))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, num_lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.cp.max_points_per_centroid = config.ivf_train_points_per_list
    index.train(vectors)
    index.add(vectors)
    index.nprobe = config.ivf_nprobe
    return index


def seen_mask(items: np.ndarray, histories: list[np.ndarray], num_items: int) -> np.ndarray:
    """[B C] True where candidate ``items[b, c]`` is in user b's history: one ``isin`` over (user, item) keys."""
    users = np.arange(len(histories))
    stride = num_items + 1  # item -1 (no result) gets key user·stride, never a history key
    candidate_keys = users[:, None] * stride + items + 1
    history_keys = np.repeat(users, [len(h) for h in histories]) * stride + np.concatenate([np.empty(0, np.int64), *histories]) + 1
    return np.isin(candidate_keys, history_keys)


def repeat_mask(scores: np.ndarray, items: np.ndarray) -> np.ndarray:
    """[B C] True on every copy of an item in a row except its best-scored one (found by several interests)."""
    order = np.lexsort((-scores, items), axis=-1)  # per row: by item, best score first
    grouped = np.take_along_axis(items, order, axis=-1)
    repeated = np.zeros_like(grouped, dtype=bool)
    repeated[:, 1:] = grouped[:, 1:] == grouped[:, :-1]
    mask = np.empty_like(repeated)
    np.put_along_axis(mask, order, repeated, axis=-1)
    return mask


class MultiInterestRetriever:
    def __init__(self, item_vectors: np.ndarray, config: ServingConfig, seed: int) -> None:
        vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        if len(vectors) <= config.exact_max_items:
            self.index = faiss.IndexFlatIP(vectors.shape[1])
            self.index.add(vectors)
        else:
            self.index = ivf_index(vectors, config, seed)

    def top_items(self, interests: np.ndarray, k: int, histories: list[np.ndarray]) -> np.ndarray:
        """[B k] item_idx by descending max-interest cosine, ties by lower item_idx, never an item of the user's history."""
        users, _, dim = interests.shape
        depth = min(k + max((len(h) for h in histories), default=0), self.index.ntotal)
        scores, items = self.index.search(np.ascontiguousarray(interests.reshape(-1, dim), dtype=np.float32), depth)
        scores, items = scores.reshape(users, -1), items.reshape(users, -1)  # [B K·depth]
        scores[(items < 0) | seen_mask(items, histories, self.index.ntotal) | repeat_mask(scores, items)] = -np.inf
        best = np.lexsort((items, -scores), axis=-1)[:, :k]  # ties: lower item_idx first
        short = ~np.isfinite(np.take_along_axis(scores, best, axis=-1)).all(axis=-1)
        if short.any():
            raise ValueError(
                f"{int(short.sum())} of {users} users have fewer than k={k} unseen candidates "
                f"(an IVF index finds at most what its probed lists hold: raise serving.ivf_nprobe)"
            )
        return np.take_along_axis(items, best, axis=-1).astype(np.int64)
