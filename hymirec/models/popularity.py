"""Most-popular baseline: every user gets the items ranked by how often they appear in the inputs."""

from __future__ import annotations

import numpy as np


class Popularity:
    """Counts item occurrences in the given histories (the split's inputs: no target is counted)."""

    def __init__(self, histories: list[np.ndarray], num_items: int) -> None:
        self.item_scores = np.bincount(np.concatenate(histories), minlength=num_items).astype(np.float32)

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> Popularity:
        """The model of events already counted per item (what a served model's catalog stores)."""
        return cls([np.repeat(np.arange(len(counts)), np.asarray(counts, dtype=np.int64))], len(counts))

    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(histories), len(self.item_scores))).copy()
