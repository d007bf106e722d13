"""Stage ``sasrec_model``: train the SASRec baseline on the training split, early-stopped on validation."""

from __future__ import annotations

import logging

import mlflow

from hymirec.config import HyMiRecConfig
from hymirec.evaluation import evaluate
from hymirec.io import atomic_directory, write_json
from hymirec.models.persistence import save_model
from hymirec.models.sasrec import SASRec, training_batch
from hymirec.paths import Layout
from hymirec.sequences import split_view, training_sequences
from hymirec.stages import load_sequence_data, training_summary
from hymirec.tracking import log_metrics, stage_run
from hymirec.training import TrainingSchedule, fingerprint, seed_everything, train_with_early_stopping

logger = logging.getLogger(__name__)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    data = load_sequence_data(layout)
    seed_everything(config.seed)
    model = SASRec(config.sasrec, data.num_items)
    valid_view = split_view(data.sequences, "valid")
    schedule = TrainingSchedule.of(config.sasrec)

    with stage_run(config, layout.root, "sasrec_model"):
        # train on every position of each training sequence at once (causal mask)
        output = train_with_early_stopping(
            model,
            training_sequences(data.sequences),
            lambda batch: training_batch(batch, config.sasrec.max_length),
            lambda trained: evaluate(trained.score_items, valid_view, config.evaluation, with_top_items=False).metrics,
            schedule,
            seed=config.seed,
            checkpoint=layout.checkpoint("sasrec_model", fingerprint(config.seed, config.sasrec, config.evaluation)),
        )
        # store the best model, then its metrics
        with atomic_directory(layout.sasrec_dir) as staging:
            save_model(model, config.sasrec, data.num_items, staging)
            write_json(output.history, staging / "history.json")
        mlflow.log_artifacts(str(layout.sasrec_dir), artifact_path="model")
        metrics = training_summary(output)
        log_metrics({"best_epoch": output.best_epoch, "train_seconds": output.train_seconds, **{f"best_valid_{k}": v for k, v in output.best_valid.items()}})
        write_json(metrics, layout.stage_metrics("sasrec_model"))
    logger.info("sasrec_model: %s", metrics)
