"""Losses against their formulas on hand-checkable inputs."""

from __future__ import annotations

import math

import pytest
import torch

from hymirec.losses import in_batch_info_nce


def test_info_nce_matches_its_formula() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    loss = in_batch_info_nce(queries, keys, torch.tensor([7, 8]), temperature=0.5)
    row0 = -math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(1.2)))
    row1 = -math.log(math.exp(1.6) / (math.exp(0.0) + math.exp(1.6)))
    assert loss.item() == pytest.approx((row0 + row1) / 2, abs=1e-6)


def test_a_repeated_positive_is_not_a_negative() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    masked = in_batch_info_nce(queries, keys, torch.tensor([5, 5]), temperature=1.0)
    assert masked.item() == pytest.approx(0.0, abs=1e-6)  # each row's only other key is the same item: no negatives left
    unmasked = in_batch_info_nce(queries, keys, torch.tensor([5, 6]), temperature=1.0)
    assert unmasked.item() > 0.1
