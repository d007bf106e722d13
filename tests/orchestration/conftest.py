"""Tiny throw-away DVC projects (git + ``dvc init`` in a temp folder) for the orchestration tests."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration.dvc_project import repro_environment

@pytest.fixture(scope="session")
def dvc_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty git + DVC repository, initialised once and copied by ``make_dvc_project``."""
    root = tmp_path_factory.mktemp("dvc_template")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, env=repro_environment())
    return root


@pytest.fixture
def make_dvc_project(dvc_template: Path, tmp_path: Path) -> Callable[..., Path]:
    """``make_dvc_project(stages, files={relative path: text})`` → root of a fresh DVC project."""

    def make(stages: dict[str, Any], files: dict[str, str] | None = None, name: str = "project") -> Path:
        root = tmp_path / name
        shutil.copytree(dvc_template, root)
        (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False), encoding="utf-8")
        for relative, text in (files or {}).items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
        return root

    return make


class ListLog:
    """Collects what would go to ``context.log``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str) -> None:
        self.lines.append(msg)


@pytest.fixture
def list_log() -> ListLog:
    return ListLog()


# A two-stage pipeline: `produce` writes out/data.txt (recording the MLflow URI it was given) and
# a metrics JSON; `consume` depends on a file inside produce's out folder.
PRODUCE = """\
import json, os, pathlib
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/data.txt").write_text(os.environ.get("MLFLOW_TRACKING_URI", "<unset>"))
pathlib.Path("reports").mkdir(exist_ok=True)
pathlib.Path("reports/produce.json").write_text(json.dumps({"rows": 3, "sizes": {"min": 1, "mean": 2.5}, "label": "ok"}))
print("produced 3 rows")
"""
CONSUME = """\
import json, pathlib
pathlib.Path("result.txt").write_text(pathlib.Path("out/data.txt").read_text().upper())
pathlib.Path("reports/consume.json").write_text(json.dumps({"valid": {"ndcg@10": 0.25}}))
"""
TWO_STAGES: dict[str, Any] = {
    "produce": {
        "cmd": "python produce.py",
        "deps": ["produce.py"],
        "outs": ["out"],
        "metrics": [{"reports/produce.json": {"cache": False}}],
    },
    "consume": {
        "cmd": "python consume.py",
        "deps": ["consume.py", "out/data.txt"],
        "outs": ["result.txt"],
        "metrics": [{"reports/consume.json": {"cache": False}}],
    },
}


CHOICE = "config: configs/default.yaml\n"  # params.yaml: the config file a run reads


@pytest.fixture
def two_stage_project(make_dvc_project: Callable[..., Path]) -> Path:
    return make_dvc_project(TWO_STAGES, files={"produce.py": PRODUCE, "consume.py": CONSUME})


@pytest.fixture
def one_stage_project(make_dvc_project: Callable[..., Path]) -> Path:
    """Just `produce`, with a config file as `python -m orchestration.run` expects."""
    return make_dvc_project({"produce": TWO_STAGES["produce"]}, files={"produce.py": PRODUCE, "configs/default.yaml": "{}\n", "params.yaml": CHOICE})


@pytest.fixture
def failing_project(make_dvc_project: Callable[..., Path]) -> Path:
    return make_dvc_project({"doomed": {"cmd": "echo doomed-stage-output && exit 3"}})


@pytest.fixture
def collect_garbage() -> Iterator[None]:
    """Finalise a test's Dagster instances right after it (for tests that run jobs): left to the
    interpreter's exit, SQLAlchemy prints "Cannot operate on a closed database" tracebacks."""
    yield
    gc.collect()
