"""Under torchrun, a NaN loss on rank 1 only must stop every rank at the same batch (else rank 0 waits forever).

Run by tests/test_distributed.py; each rank prints where it stopped.
"""

from __future__ import annotations

import torch
from torch import nn

from hymirec.training import distributed
from hymirec.training.loop import NonFiniteLossError, TrainingSchedule, train_with_early_stopping


class _RankOneExplodes(nn.Module):
    """Finite loss everywhere, except on rank 1 from its third batch on."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))
        self.steps = 0

    def loss(self, batch: list[int]) -> torch.Tensor:
        self.steps += 1
        value = self.weight.sum() * len(batch)
        return value * float("nan") if distributed.rank() == 1 and self.steps >= 3 else value


if __name__ == "__main__":
    distributed.init()
    try:
        train_with_early_stopping(
            _RankOneExplodes(), list(range(40)), lambda batch: batch, lambda trained: {"ndcg@10": 0.5},
            TrainingSchedule(batch_size=4, learning_rate=0.1, weight_decay=0.0, max_epochs=3, patience=3), seed=0,
        )
    except NonFiniteLossError as error:
        print(f"rank {distributed.rank()} stopped: {error}", flush=True)
