"""Training under torchrun: two gloo processes, each on its half of every batch, train what one process trains.

tests/distributed_sasrec.py trains SASRec on ML-100K for 3 epochs (943 users, batches of 100) once
alone and once under ``torchrun --nproc_per_node 2``. The ranks shard each global batch and average
their gradients weighted by labelled positions, so both runs take the same steps up to float
summation order: measured on 2026-11-30, losses agreed to 4.4e-8 relative and every validation metric
to 0 (exactly equal). Weighted by users instead, as a plain DDP average does, losses differed by
4.3e-5 and metrics by 1.1e-3: the tolerances below tell the two apart.
A second test checks that a NaN loss on one rank stops both at the same batch.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT, NAN_SCRIPT = Path(__file__).with_name("distributed_sasrec.py"), Path(__file__).with_name("distributed_nan.py")
TWO_PROCESSES = [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node", "2"]
LOSS_RTOL, METRIC_ATOL = 1e-6, 1e-4  # float summation order only


def _run(command: list[str]) -> str:
    env = {**os.environ, "HYMIREC_THREADS": "1", "PYTHONPATH": str(SCRIPT.parents[1])}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _train(command: list[str], out: Path) -> tuple[list[dict[str, float]], str]:
    printed = _run([*command, str(SCRIPT), str(out)])
    return json.loads(out.read_text()), printed


def test_two_processes_train_the_model_one_process_trains(tmp_path: Path) -> None:
    single, _ = _train([sys.executable], tmp_path / "single.json")
    sharded, printed = _train(TWO_PROCESSES, tmp_path / "sharded.json")

    # each rank built batches of its half of every batch only: 472 + 471 of the 943 users an epoch
    counts = dict(re.findall(r"rank (\d) trained (\d+) samples", printed))
    assert counts == {"0": str(3 * 472), "1": str(3 * 471)}
    # rank 0 alone wrote a checkpoint (kept after training, as train_with_early_stopping does)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sharded.checkpoint", "sharded.json", "single.checkpoint", "single.json"]
    assert len(sharded) == len(single) == 3
    for alone, together in zip(single, sharded, strict=True):
        assert together["train_loss"] == pytest.approx(alone["train_loss"], rel=LOSS_RTOL)
        for key in alone.keys() - {"epoch", "train_loss"}:
            assert together[key] == pytest.approx(alone[key], abs=METRIC_ATOL), key


def test_a_nan_loss_on_one_rank_stops_every_rank_at_the_same_batch() -> None:
    printed = _run([*TWO_PROCESSES, str(NAN_SCRIPT)])
    assert sorted(re.findall(r"rank \d stopped: \w+: loss \w+ at epoch \d+, batch \d+", printed)) == [  # ranks may print on one line
        f"rank {rank} stopped: _RankOneExplodes: loss nan at epoch 1, batch 2" for rank in (0, 1)
    ]
