"""Stage ``coarse_model``: train HyMiRec's coarse model over the long history (DESIGN.md §2).

Trains the model on codebook reconstructions (models/coarse/codebook/) and, with
``coarse.train_exact_twin``, the same model on the exact item embeddings (models/coarse/exact/): the
context of the ``hymirec_exact_history`` ablation, and, evaluated side by side in the report, the
recommendation cost of compressing the history (ΔNDCG). Writes reports/coarse_model.json and
reports/coarse_model/training_curves.png.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np

from hymirec.codebook.residual import load_reconstructions
from hymirec.config import HyMiRecConfig
from hymirec.data.sequences import item_categories, load_sequence_data, split_view, training_sequences
from hymirec.evaluation.report import plot_training_curves
from hymirec.io import atomic_directory, write_json
from hymirec.models.coarse import CoarseModel
from hymirec.models.persistence import save_model
from hymirec.models.sasrec import training_batch
from hymirec.paths import CURVES_FIGURE, Layout
from hymirec.stages.common import remove_checkpoints, train_tracked, training_summary, write_training_record
from hymirec.training import distributed
from hymirec.training.loop import TrainingSchedule, fingerprint, seed_everything
from hymirec.training.tracking import stage_run

logger = logging.getLogger(__name__)


def history_inputs(config: HyMiRecConfig, layout: Layout) -> dict[str, np.ndarray]:
    """How the long history is read, by name: reconstructions always, exact embeddings for the twin."""
    inputs = {"codebook": load_reconstructions(layout.codebook_dir)}
    if config.coarse.train_exact_twin:
        inputs["exact"] = np.load(layout.item_embeddings)
    return inputs


def run(config: HyMiRecConfig, layout: Layout) -> None:
    data = load_sequence_data(layout)
    embeddings = np.load(layout.item_embeddings)
    valid_view = split_view(data.sequences, "valid")
    sequences = training_sequences(data.sequences)
    categories = item_categories(data.items)

    models, outputs, checkpoints = {}, {}, []
    with stage_run(config, layout.root, "coarse_model"):
        for name, vectors in history_inputs(config, layout).items():
            seed_everything(config.seed)
            model = CoarseModel.from_embeddings(config.coarse, vectors, embeddings)
            checkpoints.append(layout.checkpoint(f"coarse_model-{name}", fingerprint(config.seed, config.coarse, config.evaluation, name)))
            outputs[name] = train_tracked(
                f"coarse_{name}", model, sequences,
                lambda batch: training_batch(batch, config.coarse.max_length),
                valid_view, config.evaluation, TrainingSchedule.of(config.coarse),
                seed=config.seed,
                checkpoint=checkpoints[-1],
                categories=categories,
                length_of=config.coarse.batch_length(),  # similar lengths a batch (or mixed)
            )
            models[name] = model
            logger.info("coarse_model %s: best valid ndcg@10 %.4f", name, outputs[name].best_valid["ndcg@10"])

        if not distributed.is_main():
            return  # the other ranks trained alongside rank 0, which writes
        with atomic_directory(layout.coarse_dir) as staging:
            for name, model in models.items():
                save_model(model, config.coarse, data.num_items, staging / name, embedding_dim=embeddings.shape[1])
                write_training_record(outputs[name], staging / name)
        with atomic_directory(layout.coarse_curves) as staging:
            plot_training_curves({name: output.history for name, output in outputs.items()}, staging / CURVES_FIGURE)
        mlflow.log_artifacts(str(layout.coarse_curves), artifact_path="figures")
        write_json({name: training_summary(output) for name, output in outputs.items()}, layout.stage_metrics("coarse_model"))
    remove_checkpoints(checkpoints)
