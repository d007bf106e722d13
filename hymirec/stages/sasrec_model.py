"""Stage ``sasrec_model``: train the learned baselines on the training split, each early-stopped on validation.

- ``sasrec``: SASRec on item ids, full-softmax cross-entropy (config ``sasrec``);
- ``sasrec_text``: the same model whose item table adds the projected text vector (``sasrec.train_text_twin``):
  how much of HyMiRec's result the item text alone buys;
- ``sasrec_full_history``: the same SASRec reading ``sasrec.full_history_length`` items (the long-history
  protocol's SASRec with the whole history, beside ``sasrec`` at ``max_length``);
- ``comirec``: ComiRec-SA, the self-attentive multi-interest baseline (``comirec.enabled``).

All three train at every position of each training sequence at once. Writes models/baselines/<model>/,
reports/sasrec_model.json and reports/sasrec_model/training_curves.png.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
from pydantic import BaseModel
from torch import nn

from hymirec.config import HyMiRecConfig
from hymirec.data.sequences import item_categories, load_sequence_data, split_view, training_sequences
from hymirec.evaluation.report import plot_training_curves
from hymirec.io import atomic_directory, write_json
from hymirec.models.comirec import ComiRec
from hymirec.models.persistence import save_model
from hymirec.models.sasrec import SASRec, SASRecText, training_batch
from hymirec.paths import CURVES_FIGURE, Layout
from hymirec.stages.common import remove_checkpoints, train_tracked, training_summary, write_training_record
from hymirec.training import distributed
from hymirec.training.loop import TrainingSchedule, fingerprint, seed_everything
from hymirec.training.tracking import stage_run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Baseline:
    build: Callable[[], nn.Module]  # a fresh model (called after seeding)
    section: BaseModel  # its config section: training budget and what is saved with the model
    dimensions: dict[str, int]  # further constructor arguments saved with it (``load_model``)


def baselines(config: HyMiRecConfig, layout: Layout, num_items: int) -> dict[str, Baseline]:
    """Every enabled baseline by report name."""
    chosen = {"sasrec": Baseline(lambda: SASRec(config.sasrec, num_items), config.sasrec, {})}
    if config.sasrec.train_text_twin:
        embeddings = np.load(layout.item_embeddings)
        chosen["sasrec_text"] = Baseline(
            lambda: SASRecText.from_embeddings(config.sasrec, embeddings), config.sasrec, {"embedding_dim": embeddings.shape[1]}
        )
    if config.sasrec.full_history_length is not None:
        length = config.sasrec.full_history_length
        # as many tokens a batch as sasrec's: full-softmax logits and attention over 2,314 positions at
        # sasrec's batch size took the coarse model past 21 GB (measured, killed by the OOM killer)
        batch = max(1, config.sasrec.batch_size * config.sasrec.max_length // length)
        whole = config.sasrec.model_copy(update={"full_history_length": None, "max_length": length, "batch_size": batch})
        chosen["sasrec_full_history"] = Baseline(lambda: SASRec(whole, num_items), whole, {})
    if config.comirec.enabled:
        chosen["comirec"] = Baseline(lambda: ComiRec(config.comirec, num_items), config.comirec, {})
    return chosen


def run(config: HyMiRecConfig, layout: Layout) -> None:
    data = load_sequence_data(layout)
    valid_view = split_view(data.sequences, "valid")
    sequences = training_sequences(data.sequences)
    chosen = baselines(config, layout, data.num_items)
    categories = item_categories(data.items)

    models, outputs, checkpoints = {}, {}, []
    with stage_run(config, layout.root, "sasrec_model"):
        # each baseline from the same seed, every position of every training sequence per epoch
        for name, baseline in chosen.items():
            seed_everything(config.seed)
            models[name] = baseline.build()
            checkpoints.append(layout.checkpoint(f"sasrec_model-{name}", fingerprint(config.seed, baseline.section, config.evaluation, name)))
            outputs[name] = train_tracked(
                name, models[name], sequences,
                lambda batch, length=baseline.section.max_length: training_batch(batch, length),
                valid_view, config.evaluation, TrainingSchedule.of(baseline.section), seed=config.seed,
                checkpoint=checkpoints[-1],
                categories=categories,
                length_of=baseline.section.batch_length(),  # similar lengths a batch (or mixed)
            )
            logger.info("sasrec_model %s: best valid ndcg@10 %.4f", name, outputs[name].best_valid["ndcg@10"])

        if not distributed.is_main():
            return  # the other ranks trained alongside rank 0, which writes
        # store the best models, their curves, then the metrics
        with atomic_directory(layout.baselines_dir) as staging:
            for name, model in models.items():
                save_model(model, chosen[name].section, data.num_items, staging / name, **chosen[name].dimensions)
                write_training_record(outputs[name], staging / name)
        with atomic_directory(layout.baselines_curves) as staging:
            plot_training_curves({name: output.history for name, output in outputs.items()}, staging / CURVES_FIGURE)
        mlflow.log_artifacts(str(layout.baselines_dir), artifact_path="models")
        write_json({name: training_summary(output) for name, output in outputs.items()}, layout.stage_metrics("sasrec_model"))
    remove_checkpoints(checkpoints)
