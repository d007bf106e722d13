"""Seconds per LLM-model training step on the protocols' rows, with the alternatives a step could take.

Each row is one variant of one config (the standard benchmark's hymirec at R = 50, the long-history
protocol's hymirec at R = 10 and its llm_full_history at R = 200). Each row's model is built once per
*option* from the same seed and stepped on the same batches, the options alternating step by step in
one process, so that a machine shared with other work slows every option alike:

- ``production``: the model as stage llm_model trains it;
- ``sdpa_whole_mask``: the decoder on PyTorch's SDPA over the whole [T × T] mask, instead of the
  query-token attention (``hymirec.models.query_attention``; equal values and gradients);
- ``sampled_negatives``: DMIL against ``SAMPLED_NEGATIVES`` uniform negatives a batch (log-Q corrected,
  ``llm.sampled_negatives``) instead of the whole catalog — a different model, so a candidate for
  selection on validation, never a silent switch; only its cost is measured here.

A step's figure is the median over ``steps`` timed steps after ``WARMUP_STEPS`` (the first step also
reads every user's long history once under ``coarse.positions: from_oldest``); ``epoch_minutes``
multiplies it by the row's steps per epoch. A fresh process's first steps run slow and settle: measured
on ``llm_full_history`` (1 thread, beside two trainings), 11.1, 9.9, 9.2, 7.9 and 9.0 s, then 4.5–7.3 s
(median 5.6 s over the next ten): after one warm-up step the median of the next four (9.1 s) measured the
warm-up. A training pays it once in a process, so the bench skips it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hymirec.bench.training import untrained_llm_model
from hymirec.codebook.residual import load_reconstructions
from hymirec.config import HyMiRecConfig, Variant, load_config
from hymirec.data.sequences import load_sequence_data, training_sequences
from hymirec.models.llm import HyMiRecModel, llm_batch, training_windows, variant_spec
from hymirec.paths import Layout
from hymirec.training.loop import TrainingSchedule, batch_order, make_optimizer, process_shards, train_epoch

WARMUP_STEPS = 5
SAMPLED_NEGATIVES = 1024
OPTIONS = ("production", "sdpa_whole_mask", "sampled_negatives")


@dataclass(frozen=True)
class Row:
    """One protocol row: a variant of the config at ``config`` (relative to the repository)."""

    config: str
    variant: Variant

    @property
    def name(self) -> str:
        return f"{Path(self.config).stem}:{self.variant.value}"


ROWS = (
    Row("configs/benchmark_ml1m.yaml", Variant.HYMIREC),
    Row("configs/long_history_ml1m.yaml", Variant.HYMIREC),
    Row("configs/long_history_ml1m.yaml", Variant.FULL_HISTORY),
)


def with_option(config: HyMiRecConfig, option: str) -> HyMiRecConfig:
    """``config`` as ``option`` trains it (the attention option is set on the built model: ``set_option``)."""
    if option != "sampled_negatives":
        return config
    llm = config.llm.model_copy(update={"full_catalog_max_items": 1, "sampled_negatives": SAMPLED_NEGATIVES})
    return config.model_copy(update={"llm": llm})


def set_option(model: HyMiRecModel, option: str) -> HyMiRecModel:
    if option == "sdpa_whole_mask":
        model.backbone.set_attn_implementation("sdpa")  # the model then passes the whole mask (attends_over_keys_only)
    return model


@dataclass(frozen=True)
class WorkspaceData:
    """What every row reads from the workspace, loaded once for all rows."""

    sequences: list[np.ndarray]
    embeddings: np.ndarray
    reconstructions: np.ndarray

    @classmethod
    def load(cls, workspace: Layout) -> WorkspaceData:
        sequences = training_sequences(load_sequence_data(workspace).sequences)
        return cls(sequences, np.load(workspace.item_embeddings), load_reconstructions(workspace.codebook_dir))


def time_row(config: HyMiRecConfig, variant: Variant, data: WorkspaceData, pretrained_cache: Path, steps: int,
             options: tuple[str, ...] = OPTIONS) -> dict:
    """Median seconds per training step of ``variant`` under each option, on the same batches, alternating."""
    recent = variant_spec(config.llm, variant).recent_items
    windows = training_windows(data.sequences, recent, config.llm.windows_per_user, config.seed, 1)
    schedule = TrainingSchedule.of(config.llm)
    order = batch_order(windows, schedule.batch_size, np.random.default_rng(config.seed + 1))
    batches = list(process_shards(windows, order[: WARMUP_STEPS + steps],
                                  lambda members: llm_batch(members, recent, config.llm.target_window)))
    trained = {}
    for option in options:
        model = set_option(untrained_llm_model(with_option(config, option), variant, data.sequences, data.embeddings,
                                               data.reconstructions, pretrained_cache), option)
        trained[option] = (model, make_optimizer(model, schedule))
    seconds: dict[str, list[float]] = {option: [] for option in options}
    for batch in batches:
        for option, (model, optimizer) in trained.items():
            started = time.perf_counter()
            train_epoch(model, optimizer, [batch], epoch=1)
            seconds[option].append(time.perf_counter() - started)
    medians = {option: statistics.median(times[WARMUP_STEPS:]) for option, times in seconds.items()}
    return {
        "recent_items": recent,
        "steps_per_epoch": len(order),
        "timed_steps": len(batches) - WARMUP_STEPS,
        "step_seconds": {option: round(median, 3) for option, median in medians.items()},
        "step_seconds_each": {option: [round(value, 3) for value in times] for option, times in seconds.items()},
        "epoch_minutes": {option: round(median * len(order) / 60, 1) for option, median in medians.items()},
        "speedup_vs_production": {option: round(medians["production"] / median, 2) for option, median in medians.items()},
    }


def llm_steps(root: Path, workspace: Layout, steps: int, rows: tuple[Row, ...] = ROWS) -> dict:
    """Every row of ``rows`` timed on ``workspace``'s data (its sequences, embeddings and codebook): the
    configs' data set must be the workspace's (ML-1M for the protocols' rows)."""
    data = WorkspaceData.load(workspace)
    timed = {}
    for row in rows:
        config = load_config(root / row.config)
        timed[row.name] = {
            "config": row.config,
            "variant": row.variant.value,
            **time_row(config, row.variant, data, workspace.pretrained_cache, steps),
        }
    return {"sampled_negatives": SAMPLED_NEGATIVES, "rows": timed}
