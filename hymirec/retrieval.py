"""Serving multi-interest users with faiss: top-k items by s(u, i) = max_k cos(u_k, i).

Each of a user's K interests is searched in an inner-product index over the unit item vectors; the
union of the K candidate lists, scored by the best interest, holds the exact top-k by the max score
(an item in the true top-k is in the top-k of the interest that scores it highest). Items the user
has already seen are skipped, so each interest fetches k + (history length) candidates. The index
is exact (``IndexFlatIP``) for catalogs like MovieLens; an IVF or HNSW index drops in for large ones.
"""

from __future__ import annotations

import faiss
import numpy as np


class MultiInterestRetriever:
    def __init__(self, item_vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def top_items(self, interests: np.ndarray, k: int, histories: list[np.ndarray]) -> np.ndarray:
        """[B k] item_idx by descending max-interest cosine, never an item of the user's history."""
        users, num_interests, dim = interests.shape
        depth = min(k + max((len(h) for h in histories), default=0), self.index.ntotal)
        scores, items = self.index.search(np.ascontiguousarray(interests.reshape(-1, dim), dtype=np.float32), depth)
        scores, items = scores.reshape(users, num_interests * depth), items.reshape(users, num_interests * depth)
        result = np.empty((users, k), dtype=np.int64)
        for user in range(users):
            best: dict[int, float] = {}
            for item, score in zip(items[user], scores[user]):
                if item >= 0 and score > best.get(item, -np.inf):
                    best[int(item)] = float(score)
            for seen in histories[user]:
                best.pop(int(seen), None)
            ranked = sorted(best, key=lambda item: (-best[item], item))  # ties: lower item_idx first
            result[user] = ranked[:k]
        return result
