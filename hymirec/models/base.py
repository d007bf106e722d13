"""The small interface every recommender shares, and the padding every sequence model needs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import numpy as np
import torch
from torch import nn


class Recommender(Protocol):
    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        """Scores [B, I] of every catalog item for each user, given their input histories (item_idx)."""
        ...


def left_pad(histories: Sequence[np.ndarray], max_length: int, *, shift: int = 1) -> torch.Tensor:
    """The last ``max_length`` items of each history as token ids (item_idx + shift), left-padded with 0.

    Left padding keeps every user's most recent item in the last column.
    """
    tokens = np.zeros((len(histories), max_length), dtype=np.int64)
    for row, history in enumerate(histories):
        recent = np.asarray(history[-max_length:], dtype=np.int64)
        if len(recent):
            tokens[row, max_length - len(recent) :] = recent + shift
    return torch.from_numpy(tokens)


def trimmed_tokens(histories: Sequence[np.ndarray], max_length: int) -> torch.Tensor:
    """``left_pad`` to the longest history (at most ``max_length``): scoring a batch wastes no column on padding only."""
    longest = max((len(history) for history in histories), default=0)
    return left_pad(histories, max(1, min(max_length, longest)))


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (no dropout) for scoring inside a training loop; the previous mode comes back after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
