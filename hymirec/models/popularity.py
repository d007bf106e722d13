"""Most-popular baseline: every user gets the items ranked by how often they appear in the inputs."""

from __future__ import annotations

import numpy as np


class Popularity:
    """Items scored by their event counts (a served model's catalog stores them counted)."""

    def __init__(self, counts: np.ndarray) -> None:
        self.item_scores = np.asarray(counts, dtype=np.float32)

    @classmethod
    def of_histories(cls, histories: list[np.ndarray], num_items: int) -> Popularity:
        """Counts item occurrences in the given histories (the split's inputs: no target is counted)."""
        return cls(np.bincount(np.concatenate(histories), minlength=num_items))

    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(histories), len(self.item_scores))).copy()
