"""RecBole 1.2.1's SASRec on MovieLens-1M for a fixed number of training steps, timed: one JSON line out.

Runs inside its own virtualenv (``hymirec bench`` builds it under .bench/recbole), never ours, and
imports nothing from hymirec. The model matches ours where RecBole lets it: CE loss over the full
catalog, d = 64, 2 layers, 1 head, feed-forward width 64, dropout 0.2, max length 200, batch 256, Adam
at 1e-3. RecBole trains one target per sample (each prefix of a user's sequence is a sample), so a step
trains ``batch`` targets. Evaluation is RecBole's own full-sort ranking of the test split.

    python recbole_sasrec.py DATA_DIR STEPS  # DATA_DIR holds ml-1m/ml-1m.inter (RecBole's atomic files)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import init_seed

SETTINGS = {
    "loss_type": "CE", "train_neg_sample_args": None,
    "hidden_size": 64, "inner_size": 64, "n_layers": 2, "n_heads": 1, "MAX_ITEM_LIST_LENGTH": 200,
    "hidden_dropout_prob": 0.2, "attn_dropout_prob": 0.2,
    "train_batch_size": 256, "eval_batch_size": 256, "learning_rate": 0.001, "seed": 42,
    "device": "cpu", "use_gpu": False, "show_progress": False, "metrics": ["Recall", "NDCG"], "topk": [10],
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
    "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
}


def peak_rss_mb() -> float:
    """Peak RSS since exec (VmHWM): getrusage would include the launching process's memory at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(data_dir: Path, steps: int) -> dict:
    config = Config(model="SASRec", dataset="ml-1m", config_dict={**SETTINGS, "data_path": str(data_dir)})
    init_seed(config["seed"], reproducibility=True)
    started = time.perf_counter()
    dataset = create_dataset(config)
    train_data, _, test_data = data_preparation(config, dataset)
    prepare_seconds = time.perf_counter() - started

    model = SASRec(config, train_data.dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    model.train()
    done, targets = 0, 0
    started = time.perf_counter()
    for interaction in train_data:  # RecBole's own data loader: its cost is part of its training speed
        loss = model.calculate_loss(interaction)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        done, targets = done + 1, targets + len(interaction)
        if done == steps:
            break
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    trainer = Trainer(config, model)
    result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    eval_seconds = time.perf_counter() - started
    return {
        "recbole_version": __import__("recbole").__version__,
        "torch_threads": torch.get_num_threads(),
        "prepare_seconds": round(prepare_seconds, 2),
        "train_steps": done,
        "train_targets": targets,
        "train_seconds": round(train_seconds, 3),
        "seconds_per_step": round(train_seconds / done, 4),
        "targets_per_second": round(targets / train_seconds, 2),
        "steps_per_epoch": len(train_data),
        "full_rank_eval_seconds": round(eval_seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
        "test_after_steps": {key: float(value) for key, value in result.items()},
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))))
