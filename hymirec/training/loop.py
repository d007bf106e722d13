"""Training loop shared by the sequence models: AdamW, seeded shuffles, early stopping on validation.

A model provides ``loss(batch)``; the caller provides how to batch a list of sequences and how to
score validation users. The best state (by validation NDCG@10) is kept and restored at the end.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hymirec.config import TrainingBudgetConfig
from hymirec.io import write_atomically
from hymirec.training import distributed
from hymirec.training.tracking import log_metrics

logger = logging.getLogger(__name__)


def fingerprint(*settings: Any) -> str:
    """Short stable hash of the settings a training run depends on (pydantic models or plain values).

    A config section's ``companion_fields`` (which other models train beside it) are left out: a
    checkpoint is keyed by how its own model trains.
    """
    text = json.dumps([_settings_of(s) for s in settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _settings_of(value: Any) -> Any:
    if not hasattr(value, "model_dump"):
        return value
    return value.model_dump(mode="json", exclude=set(getattr(value, "companion_fields", ())))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class TrainingSchedule:
    batch_size: int
    learning_rate: float
    weight_decay: float
    max_epochs: int
    patience: int
    rate_schedule: str = "constant"
    warmup_epochs: float = 0.0

    @classmethod
    def of(cls, section: TrainingBudgetConfig) -> TrainingSchedule:
        """The budget of a config section (``sasrec``, ``comirec``, ``coarse`` and ``llm`` all carry one)."""
        return cls(
            section.batch_size, section.learning_rate, section.weight_decay, section.max_epochs, section.patience,
            section.rate_schedule, section.warmup_epochs,
        )

    def rate_at(self, progress: float) -> float:
        """The learning rate after ``progress`` epochs of training (fractional: it changes every step).

        A linear warm-up over ``warmup_epochs``, then ``constant``, or ``cosine``: half a cosine from the rate
        down to 0 at ``max_epochs``. A high constant rate leaves the popularity plateau fast but ends on a
        noisy curve (the benchmark SASRec at 1e-2 moves ±0.005 validation NDCG@10 from epoch to epoch); the
        cosine keeps the fast start and lets the last epochs settle. A function of the progress only, so a
        resumed run follows the same rates.
        """
        if progress < self.warmup_epochs:
            return self.learning_rate * progress / self.warmup_epochs
        if self.rate_schedule == "constant":
            return self.learning_rate
        decayed = (progress - self.warmup_epochs) / max(self.max_epochs - self.warmup_epochs, 1e-9)
        return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(decayed, 1.0)))


@dataclass
class TrainingOutput:
    best_epoch: int
    best_valid: dict[str, float]
    epochs_trained: int
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


BUCKET_BATCHES = 50  # batches sorted by length together: similar lengths per batch, still a shuffled order


def batch_order(
    samples: Sequence[Any], batch_size: int, rng: np.random.Generator, length_of: Callable[[Any], int] | None = None
) -> list[np.ndarray]:
    """Sample indices of each batch of an epoch: a random permutation cut into batches.

    With ``length_of``, each run of ``BUCKET_BATCHES`` batches of the permutation is sorted by sample
    length before it is cut, and the batches are then shuffled: every sample still appears once per
    epoch, in a random batch of samples of similar length.
    """
    order = rng.permutation(len(samples))
    if length_of is None:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    lengths = np.array([length_of(samples[i]) for i in order], dtype=np.int64)
    span = batch_size * BUCKET_BATCHES
    batches = []
    for bucket_start in range(0, len(order), span):
        bucket = order[bucket_start : bucket_start + span]
        bucket = bucket[np.argsort(lengths[bucket_start : bucket_start + span], kind="stable")]
        batches.extend(bucket[start : start + batch_size] for start in range(0, len(bucket), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss: the run stops, nothing is saved or promoted."""


def make_optimizer(model: nn.Module, schedule: TrainingSchedule) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=schedule.learning_rate, weight_decay=schedule.weight_decay)


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    shards: Iterable[tuple[Any | None, float]],
    epoch: int,
    rate_of_step: Callable[[int], float] | None = None,
) -> list[float]:
    """One optimiser step per global batch, in train mode; the losses. A non-finite loss raises before its step.

    ``rate_of_step`` gives the learning rate of each step of the epoch (``TrainingSchedule.rate_at``);
    without it the optimiser's rate is left as it is.

    ``shards`` holds this process's part of each batch (None when it has no sample of it) and how many
    terms its mean loss averages (``process_shards``). In a single process that is the whole batch; under
    torchrun the ranks' gradients are averaged, weighted by those counts, before every step
    (``distributed.average_gradients``), so all ranks take the same step.
    """
    model.train()
    losses = []
    for index, (batch, terms) in enumerate(tqdm(shards, desc=f"epoch {epoch}", leave=False, disable=None)):
        optimizer.zero_grad(set_to_none=True)
        if rate_of_step is not None:
            for group in optimizer.param_groups:
                group["lr"] = rate_of_step(index)
        loss = model.loss(batch) if batch is not None else None
        if loss is not None and torch.isfinite(loss):
            loss.backward()
        total = distributed.average_gradients(model, loss, terms)
        if not math.isfinite(total):
            raise NonFiniteLossError(f"{type(model).__name__}: loss {total} at epoch {epoch}, batch {index}")
        optimizer.step()
        losses.append(total)
    return losses


def process_shards(
    samples: Sequence[Any], batches: list[np.ndarray], make_batch: Callable[[list[Any]], Any]
) -> Iterator[tuple[Any | None, float]]:
    """This process's part of each batch (``distributed.shard``; None when empty) and how many terms its loss averages.

    A batch that counts them (``loss_terms``: labelled positions, DMIL targets) is weighted by them,
    any other by its samples: a mean over positions weighted by samples would not be the whole batch's.
    """
    for members in batches:
        mine = distributed.shard(members)
        batch = make_batch([samples[i] for i in mine]) if len(mine) else None
        yield batch, getattr(batch, "loss_terms", len(mine))


def resumable(checkpoint: Path | None) -> bool:
    """Whether this process should resume from ``checkpoint``: it exists, and this is rank 0 (which reads it for all)."""
    return checkpoint is not None and distributed.is_main() and checkpoint.exists()


def _rate_of_step(schedule: TrainingSchedule, epoch: int, steps: int, step: int) -> float:
    return schedule.rate_at(epoch - 1 + step / steps)


def _frozen_parameter_names(model: nn.Module) -> set[str]:
    return {name for name, parameter in model.named_parameters(remove_duplicate=False) if not parameter.requires_grad}


def training_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state without its frozen parameters, which training never changes.

    Whoever builds the model to resume a run builds those again (a pretrained decoder from its cache, a
    frozen context model from its stage's output), so a checkpoint need not hold them: a SmolLM2 layer
    alone is 14 MB, twice over (current and best state), in a file carried between machines.
    """
    frozen = _frozen_parameter_names(model)
    return {name: value for name, value in model.state_dict().items() if name not in frozen}


def restore_training_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a ``training_state`` (or a full state dict: its frozen entries are left as the model has them)."""
    frozen = _frozen_parameter_names(model)
    missing, unexpected = model.load_state_dict({k: v for k, v in state.items() if k not in frozen}, strict=False)
    if unexpected or set(missing) - frozen:
        raise ValueError(f"training state does not match the model: missing {sorted(set(missing) - frozen)}, unexpected {unexpected}")


def train_with_early_stopping(
    model: nn.Module,
    samples: Sequence[Any] | Callable[[int], Sequence[Any]],
    make_batch: Callable[[list[Any]], Any],
    validate: Callable[[nn.Module], dict[str, float]],
    schedule: TrainingSchedule,
    *,
    seed: int,
    checkpoint: Path | None = None,
    monitor: str = "ndcg@10",
    length_of: Callable[[Any], int] | None = None,
) -> TrainingOutput:
    """Train until ``monitor`` has not improved for ``schedule.patience`` epochs; restore the best state.

    ``samples`` are the training examples, or a function of the epoch number that draws them (so that
    each epoch may see other windows of the same sequences). With ``length_of``, batches hold samples
    of similar length (``batch_order``), so a batch trimmed to its longest sample carries little padding.
    A non-finite loss raises ``NonFiniteLossError`` at once, before the optimiser step it would poison.

    With ``checkpoint``, the full training state is saved after every epoch and an interrupted run
    resumes from it. The data order of epoch e is drawn from ``seed + e``, so a resumed run sees the
    same batches as an uninterrupted one. The file outlives the training: resuming a finished run
    returns its result without another epoch, so a stage that trains several models and is stopped
    after the first (or carried to another machine, ``hymirec.experiments.snapshot``) does not train it again.
    The caller removes the checkpoint once the trained model is saved.

    Under torchrun every rank draws the same batches and trains on its users of each
    (``distributed.shard``); rank 0 alone validates, reads and writes the checkpoint, and broadcasts
    what it found, so every rank stops at the same epoch and holds the same best state.
    """
    optimizer = make_optimizer(model, schedule)
    best_state, best_valid, best_epoch = None, {monitor: -1.0}, 0
    history: list[dict[str, float]] = []
    started, elapsed_before = time.perf_counter(), 0.0
    state = distributed.from_main(torch.load(checkpoint, weights_only=False) if resumable(checkpoint) else None)
    if state is not None:
        restore_training_state(model, state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        best_state, best_valid, best_epoch = state["best_state"], state["best_valid"], state["best_epoch"]
        history, elapsed_before = state["history"], state["elapsed"]
        logger.info("resuming from %s after epoch %d", checkpoint, len(history))
    for epoch in range(len(history) + 1, schedule.max_epochs + 1):
        if history and epoch - 1 - best_epoch >= schedule.patience:
            break
        epoch_samples = samples(epoch) if callable(samples) else samples
        batches = batch_order(epoch_samples, schedule.batch_size, np.random.default_rng(seed + epoch), length_of)
        rate_of_step = functools.partial(_rate_of_step, schedule, epoch, len(batches))
        losses = train_epoch(model, optimizer, process_shards(epoch_samples, batches, make_batch), epoch, rate_of_step)
        model.eval()
        valid = distributed.from_main(validate(model) if distributed.is_main() else None)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), **{f"valid_{k}": v for k, v in valid.items()}}
        history.append(record)
        log_metrics({key: value for key, value in record.items() if key != "epoch"}, step=epoch)
        improved = valid[monitor] > best_valid[monitor]
        logger.info("epoch %d loss %.4f valid %s %.4f%s", epoch, record["train_loss"], monitor, valid[monitor], " *" if improved else "")
        if improved:
            best_state, best_valid, best_epoch = copy.deepcopy(training_state(model)), valid, epoch
        elapsed = elapsed_before + time.perf_counter() - started
        if checkpoint is not None and distributed.is_main():
            state = {
                "model": training_state(model), "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                "best_state": best_state, "best_valid": best_valid, "best_epoch": best_epoch,
                "history": history, "elapsed": elapsed,
            }
            write_atomically(checkpoint, lambda temp: torch.save(state, temp))
    restore_training_state(model, best_state)
    return TrainingOutput(best_epoch, best_valid, len(history), elapsed_before + time.perf_counter() - started, history)
