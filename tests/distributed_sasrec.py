"""Train a small SASRec on ML-100K and write its history to ``sys.argv[1]`` — run alone, or under torchrun.

tests/test_distributed.py runs it both ways and compares. Batches hold sequences of similar lengths,
trimmed to their longest, as in the ``sasrec_model`` stage; averaging the ranks' gradients weighted
by their labelled positions is the single-process gradient up to float summation order
(``distributed.average_gradients``). Dropout is off, because each process draws its own masks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from hymirec.cli import configure_torch
from hymirec.config import EvaluationConfig, SASRecConfig, SequencesConfig
from hymirec.data.movielens import load_movielens
from hymirec.data.sequences import build_sequences, split_view, training_sequences
from hymirec.evaluation.ranking import evaluate
from hymirec.models.sasrec import SASRec, SASRecBatch, training_batch
from hymirec.training import distributed
from hymirec.training.loop import TrainingSchedule, seed_everything, train_with_early_stopping

LENGTH = 50
BATCH = 100  # 943 users: 9 full batches and one of 43, split 22 / 21 between two ranks


def main(out: Path) -> None:
    configure_torch()
    distributed.init()
    data = build_sequences(load_movielens("movielens_100k"), SequencesConfig())
    sequences = training_sequences(data.sequences)
    valid = split_view(data.sequences, "valid")
    config = SASRecConfig(hidden_size=32, num_layers=1, num_heads=2, dropout=0.0, max_length=LENGTH, batch_size=BATCH, max_epochs=3)
    seed_everything(0)
    model = SASRec(config, data.num_items)
    trained = [0]  # samples this rank built batches of: its shards, not the whole epoch

    def make_batch(batch: list[np.ndarray]) -> SASRecBatch:
        trained[0] += len(batch)
        return training_batch(batch, LENGTH)

    output = train_with_early_stopping(
        model, sequences, make_batch,
        lambda trained: evaluate(trained.score_items, valid, EvaluationConfig(), model_name="sasrec", with_top_items=False).metrics,
        TrainingSchedule.of(config), seed=0, checkpoint=out.parent / f"{out.stem}.checkpoint", length_of=len,
    )
    print(f"rank {distributed.rank()} trained {trained[0]} samples", flush=True)
    if distributed.is_main():
        out.write_text(json.dumps(output.history))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
