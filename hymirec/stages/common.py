"""What the training stages and the report share: tracked training and the record each trained model
leaves beside its weights (reading the validated sequences back is ``hymirec.data.sequences.load_sequence_data``).

Kept apart from ``hymirec/stages/__init__.py`` so that importing one stage never imports the training
code: the data stages' DVC dependencies stay their own (tests/test_dvc_dependencies.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from hymirec.config import EvaluationConfig
from hymirec.data.sequences import SplitView
from hymirec.evaluation.ranking import evaluate
from hymirec.io import write_json
from hymirec.training.loop import TrainingOutput, TrainingSchedule, train_with_early_stopping
from hymirec.training.tracking import log_metrics, model_run


def train_tracked(
    name: str,
    model: nn.Module,
    samples: Sequence[Any] | Callable[[int], Sequence[Any]],
    make_batch: Callable[[list[Any]], Any],
    valid_view: SplitView,
    evaluation: EvaluationConfig,
    schedule: TrainingSchedule,
    *,
    seed: int,
    checkpoint: Path,
    categories: np.ndarray | None,
    length_of: Callable[[Any], int] | None = None,
) -> TrainingOutput:
    """Train one of a stage's models with early stopping on validation NDCG@10, in its own MLflow child run.

    Validation computes the report's whole metric set (top lists, diversity with the genre matrix
    ``categories``), so the best epoch's validation metrics are the report's: ``evaluation_report``
    reads them from the model's ``summary.json`` instead of scoring the same weights again.
    """
    with model_run(name):
        output = train_with_early_stopping(
            model,
            samples,
            make_batch,
            lambda trained: evaluate(trained.score_items, valid_view, evaluation, model_name=name, item_categories=categories).metrics,
            schedule,
            seed=seed,
            checkpoint=checkpoint,
            length_of=length_of,
        )
        log_metrics({"best_epoch": output.best_epoch, "train_seconds": output.train_seconds,
                     **{f"best_valid_{k}": v for k, v in output.best_valid.items()}})
    return output


def remove_checkpoints(checkpoints: Sequence[Path]) -> None:
    """Drop the training states of models now saved as outputs (``train_with_early_stopping`` keeps them until then)."""
    for checkpoint in checkpoints:
        checkpoint.unlink(missing_ok=True)


TRAINING_HISTORY, TRAINING_SUMMARY = "history.json", "summary.json"  # beside each trained model's weights


def write_training_record(output: TrainingOutput, folder: Path) -> None:
    write_json(output.history, folder / TRAINING_HISTORY)
    write_json(training_summary(output), folder / TRAINING_SUMMARY)


def training_summary(output: TrainingOutput) -> dict[str, Any]:
    """What a training stage reports per model in reports/<stage>.json."""
    return {
        "best_epoch": output.best_epoch,
        "epochs_trained": output.epochs_trained,
        "train_seconds": round(output.train_seconds, 1),
        "valid": output.best_valid,
    }
