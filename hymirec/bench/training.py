"""Training speed on a config (seconds per epoch, targets per second) and SASRec's time to convergence.

Every measurement runs the production loop (``hymirec.training.loop``) on the production batches. A
*target* is one (position, next item) pair the loss trains: SASRec has one per real position, HyMiRec
up to W per window position. HyMiRec's epoch is timed with an untrained coarse model as its context
(same shapes, same cost) so that the benchmark needs no coarse training first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hymirec.codebook.residual import load_reconstructions
from hymirec.config import HyMiRecConfig, SASRecConfig, Variant
from hymirec.data.sequences import load_sequence_data, split_view, training_sequences
from hymirec.evaluation.ranking import evaluate
from hymirec.models.coarse import CoarseModel
from hymirec.models.llm import HyMiRecModel, build_hymirec, coarse_item_tower, llm_batch, training_windows, window_targets
from hymirec.models.sasrec import SASRec, training_batch
from hymirec.paths import Layout
from hymirec.training.loop import (
    TrainingSchedule, batch_order, make_optimizer, process_shards, seed_everything, train_epoch, train_with_early_stopping,
)


def _timed_epoch(model: torch.nn.Module, samples: list[Any], make_batch: Callable[[list[Any]], Any],
                 schedule: TrainingSchedule, seed: int,
                 length_of: Callable[[Any], int] | None = None, max_batches: int | None = None) -> dict:
    """One epoch (or its first ``max_batches`` batches) of optimiser steps; batching time included.

    The batches are the training loop's own (``process_shards``), and its count of the terms each loss
    averages (``loss_terms``: labelled positions, DMIL targets) is the number of targets trained.
    """
    order = batch_order(samples, schedule.batch_size, np.random.default_rng(seed + 1), length_of)
    counted = [0]

    def batches() -> Iterator[tuple[Any, float]]:
        for batch, terms in process_shards(samples, order[:max_batches], make_batch):
            counted[0] += terms
            yield batch, terms

    optimizer = make_optimizer(model, schedule)
    started = time.perf_counter()
    steps = len(train_epoch(model, optimizer, batches(), epoch=1))
    seconds = time.perf_counter() - started
    result = {"steps": steps, "targets": counted[0], "seconds": round(seconds, 2),
              "targets_per_second": round(counted[0] / seconds, 1), "steps_per_epoch": len(order)}
    result["epoch_seconds"] = round(seconds * len(order) / steps, 2)
    result["epoch_seconds_extrapolated"] = steps < len(order)  # from the first ``steps`` batches of the epoch
    return result


TIMED_SASREC_EPOCHS = 3


def sasrec_epoch(config: HyMiRecConfig, layout: Layout, sasrec: SASRecConfig | None = None) -> dict:
    """SASRec epochs on ``sasrec`` (default: the config's), then one full validation pass, timed apart.

    The figure is the median of ``TIMED_SASREC_EPOCHS`` consecutive epochs (each one's seconds are kept):
    on the 2-core machine one epoch's time moved by ±10 % between back-to-back runs of the same code.
    """
    sasrec = sasrec or config.sasrec
    data = load_sequence_data(layout)
    seed_everything(config.seed)
    model = SASRec(sasrec, data.num_items)
    sequences = training_sequences(data.sequences)
    epochs = [
        _timed_epoch(model, sequences, lambda batch: training_batch(batch, sasrec.max_length),
                     TrainingSchedule.of(sasrec), config.seed + epoch, length_of=sasrec.batch_length())
        for epoch in range(TIMED_SASREC_EPOCHS)
    ]
    result = sorted(epochs, key=lambda timed: timed["seconds"])[TIMED_SASREC_EPOCHS // 2]
    result["epoch_seconds_each"] = [timed["seconds"] for timed in epochs]
    started = time.perf_counter()
    evaluate(model.score_items, split_view(data.sequences, "valid"), config.evaluation, model_name="sasrec", with_top_items=False)
    result["validation_seconds"] = round(time.perf_counter() - started, 2)
    return result


def hymirec_epoch(config: HyMiRecConfig, layout: Layout, max_batches: int | None) -> dict:
    """One HyMiRec epoch (or its first ``max_batches`` batches) on a workspace's sequences, embeddings and codebook."""
    data = load_sequence_data(layout)
    embeddings, reconstructions = np.load(layout.item_embeddings), load_reconstructions(layout.codebook_dir)
    return hymirec_epoch_of(config, training_sequences(data.sequences), embeddings, reconstructions, layout.pretrained_cache, max_batches)


def hymirec_epoch_of(config: HyMiRecConfig, sequences: list[np.ndarray], embeddings: np.ndarray, reconstructions: np.ndarray,
                     cache_dir: Path, max_batches: int | None) -> dict:
    """The LLM model of ``config.llm`` (variant hymirec) on an untrained coarse context built from
    ``reconstructions`` and ``embeddings`` [I E], timed on its first epoch's windows of ``sequences``.

    ``epoch_targets`` counts the targets of the whole epoch (``window_targets``), so that a partial epoch
    scales by targets as well as by steps; ``setup_seconds`` is building the model and its once-per-training
    table of near-duplicate items, outside the epoch's clock (under ``coarse.positions: from_oldest`` the one coarse pass per user
    falls in the first step, as in stage llm_model).
    """
    llm = config.llm
    started = time.perf_counter()
    model = untrained_llm_model(config, Variant.HYMIREC, sequences, embeddings, reconstructions, cache_dir)
    setup_seconds = round(time.perf_counter() - started, 2)
    windows = training_windows(sequences, llm.recent_items, llm.windows_per_user, config.seed, 1)
    result = _timed_epoch(model, windows, lambda batch: llm_batch(batch, llm.recent_items, llm.target_window),
                          TrainingSchedule.of(llm), config.seed, max_batches=max_batches)
    return {**result, "setup_seconds": setup_seconds, "epoch_targets": window_targets(windows, llm.recent_items, llm.target_window)}


def untrained_llm_model(config: HyMiRecConfig, variant: Variant, sequences: list[np.ndarray], embeddings: np.ndarray,
                        reconstructions: np.ndarray, cache_dir: Path) -> HyMiRecModel:
    """``variant``'s LLM model as stage llm_model builds it, its context an untrained coarse model on
    ``reconstructions`` (same shapes, same cost: no coarse training needed), its once-per-training tables built."""
    seed_everything(config.seed)
    coarse_state = CoarseModel.from_embeddings(config.coarse, reconstructions, embeddings).state_dict()
    model = build_hymirec(config.llm, variant, config.coarse, embeddings, reconstructions, cache_dir, coarse_state,
                          coarse_item_tower(coarse_state) if config.llm.warm_start_item_tower else None)
    model.duplicates()  # built on a training's first batch: kept out of any step's time
    if model.reads_contexts_from_sequences:
        model.read_contexts_from(sequences)
    return model


def sasrec_converged(config: HyMiRecConfig, layout: Layout) -> dict:
    """SASRec trained as stage ``sasrec_model`` trains it (early stopping on validation); its test NDCG@10."""
    data = load_sequence_data(layout)
    seed_everything(config.seed)
    model = SASRec(config.sasrec, data.num_items)
    valid = split_view(data.sequences, "valid")
    output = train_with_early_stopping(
        model, training_sequences(data.sequences), lambda batch: training_batch(batch, config.sasrec.max_length),
        lambda trained: evaluate(trained.score_items, valid, config.evaluation, model_name="sasrec", with_top_items=False).metrics,
        TrainingSchedule.of(config.sasrec), seed=config.seed, length_of=config.sasrec.batch_length(),
    )
    test = evaluate(model.score_items, split_view(data.sequences, "test"), config.evaluation, model_name="sasrec", with_top_items=False)
    return {"seconds": round(output.train_seconds, 1), "epochs_trained": output.epochs_trained, "best_epoch": output.best_epoch,
            "valid_ndcg@10": round(output.best_valid["ndcg@10"], 4), "test_ndcg@10": round(test.metrics["ndcg@10"], 4),
            "curve": [round(record["valid_ndcg@10"], 4) for record in output.history]}
