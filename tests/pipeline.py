"""Real pipeline workspaces for the slow tests: a copy of this checkout with a short ML-100K config.

The end-to-end test materialises one through Dagster (fixture ``materialised`` in conftest.py); the
crash-safety test runs a second pipeline in a copy of it (``copy_workspace``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
E2E_CONFIG = "configs/e2e.yaml"
RUN_STATE = {"mlruns", "test-mlflow.db", ".dagster_home"}  # a run's own records, not the pipeline's: a copy starts without them


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def workspace_env(root: Path) -> dict[str, str]:
    """The environment of pipeline commands in ``root``: its own MLflow store and Dagster home."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'test-mlflow.db'}",
        "DAGSTER_HOME": str(root / ".dagster_home"),
        "DVC_NO_ANALYTICS": "1",
    }


def build_workspace(root: Path, smollm2_cache: Path) -> dict[str, str]:
    """A git + DVC workspace in ``root`` holding this checkout's files and a short ML-100K config (``E2E_CONFIG``); its environment."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.splitlines():
        if (ROOT / name).is_file() and not name.startswith("runs/"):  # snapshots of runs in flight: tens of MB, no part of a workspace
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    (root / ".venv").symlink_to(VENV_BIN.parent)
    (root / "models").mkdir()
    (root / "models" / "pretrained").symlink_to(smollm2_cache)  # the converted SmolLM2, shared with the model tests
    # an experiment config of its own, as a user writes one: the ML-100K config with a longer SASRec budget
    # (chosen with `python -m orchestration.run --config`, E2E_CONFIG)
    (root / E2E_CONFIG).write_text(yaml.safe_dump({"extends": "ml100k.yaml", "sasrec": {"max_epochs": 2, "patience": 2}}))
    env = workspace_env(root)
    run(["git", "init", "-q"], root, env)
    run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qm", "workspace", "--allow-empty"], root, env)
    run(["git", "add", "-A"], root, env)
    return env


def copy_workspace(source: Path, target: Path) -> dict[str, str]:
    """``source`` with its code, config, data, models, reports and DVC cache, but not its ``RUN_STATE``; the copy's environment."""
    shutil.copytree(source, target, symlinks=True, ignore=lambda folder, names: RUN_STATE & set(names) if Path(folder) == source else set())
    return workspace_env(target)
