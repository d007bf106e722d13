"""Dagster resources: the DVC workspace, the MLflow store the stages log to, and the raw-log inbox.

MLflow follows an interface with a real and an offline implementation: ``ProjectMlflow`` is what
runs use (``$MLFLOW_TRACKING_URI`` or ``sqlite:///<root>/mlflow.db``); ``OfflineMlflow`` points the
stages at an explicit SQLite file, e.g. under a test's temporary folder. Stages are subprocesses, so
the resource's job is to hand them the tracking URI; they call MLflow themselves.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg
from pydantic import Field

from hymirec.config import HyMiRecConfig, load_config
from hymirec.data.inbox import INBOX_PATTERNS, inbox_files
from hymirec.paths import Layout
from orchestration.dvc_project import DvcStage, ReproResult, choose_config, chosen_config, run_dvc_repro

PROJECT_ROOT_ENV = "HYMIREC_PROJECT_ROOT"


def default_project_root() -> Path:
    """``$HYMIREC_PROJECT_ROOT`` if set, else the checkout that holds this ``orchestration`` package."""
    configured = os.environ.get(PROJECT_ROOT_ENV)
    return Path(configured).resolve() if configured else Path(__file__).resolve().parent.parent


class DvcProject(dg.ConfigurableResource):
    """The DVC workspace whose ``dvc.yaml`` stages are the assets."""

    root: str | None = Field(
        default=None, description=f"Project root holding dvc.yaml; default ${PROJECT_ROOT_ENV} or this checkout."
    )
    config_path: str | None = Field(
        default=None,
        description="Config file (relative to root) to run, e.g. configs/benchmark_ml1m.yaml: written into params.yaml "
        "before a stage runs (as `dvc exp run -S config=…` would). Default: the file params.yaml already names.",
    )

    def root_dir(self) -> Path:
        return Path(self.root).resolve() if self.root else default_project_root()

    def layout(self) -> Layout:
        return Layout(self.root_dir())

    def config_file(self) -> Path:
        """The config the stages and data checks read: ``config_path``, else params.yaml's choice."""
        return self.root_dir() / (self.config_path or chosen_config(self.root_dir()))

    def load_config(self) -> HyMiRecConfig:
        return load_config(self.config_file())

    def repro(self, stage: DvcStage, *, log, env: dict[str, str] | None = None) -> ReproResult:
        """``dvc repro --single-item <stage>`` in the project root (see ``run_dvc_repro``), after pointing
        params.yaml at ``config_path`` when one is set."""
        if self.config_path and choose_config(self.root_dir(), self.config_path):
            log.info(f"params.yaml now runs {self.config_path}")
        return run_dvc_repro(self.root_dir(), stage.target, log=log, env=env)


class MlflowTracking(dg.ConfigurableResource, ABC):
    """Where training stages record params, metrics and models."""

    @abstractmethod
    def tracking_uri(self) -> str: ...

    def subprocess_env(self) -> dict[str, str]:
        """Environment entries for a stage subprocess so that its ``mlflow`` calls use this store."""
        return {"MLFLOW_TRACKING_URI": self.tracking_uri()}


class ProjectMlflow(MlflowTracking):
    """The real store: ``uri`` if given, else ``$MLFLOW_TRACKING_URI``, else ``<root>/mlflow.db`` (SQLite)."""

    uri: str | None = Field(default=None, description="Tracking URI; default $MLFLOW_TRACKING_URI or <root>/mlflow.db.")
    project_root: str | None = Field(default=None, description="Where mlflow.db lives by default; default the project root.")

    def tracking_uri(self) -> str:
        if self.uri:
            return self.uri
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"]
        root = Path(self.project_root).resolve() if self.project_root else default_project_root()
        return f"sqlite:///{root / 'mlflow.db'}"


class OfflineMlflow(MlflowTracking):
    """A throw-away local store at ``db_path`` (SQLite); ignores ``$MLFLOW_TRACKING_URI``. For tests."""

    db_path: str = Field(description="SQLite file, created by MLflow on first use.")

    def tracking_uri(self) -> str:
        return f"sqlite:///{Path(self.db_path).resolve()}"


class RawLogInbox(dg.ConfigurableResource):
    """A folder where new raw interaction/item log files are dropped (watched by ``new_raw_logs_sensor``).

    Stage ``raw_logs`` reads the same folder when the config's ``data.inbox`` names it
    (``configs/default.yaml``: ``data/incoming``), and the same files (``hymirec.data.inbox.inbox_files``).
    """

    path: str = Field(default="data/incoming", description="Folder to watch; relative paths are under the project root.")
    patterns: list[str] = Field(default=list(INBOX_PATTERNS), description="Glob patterns of raw log files.")

    def folder(self, project_root: Path) -> Path:
        return (project_root / self.path).resolve()

    def snapshot(self, project_root: Path) -> dict[str, list[int]]:
        """``{relative file name: [mtime_ns, size]}`` of the matching files; hidden files (in-progress writes)
        and ``rejected/`` (where a run moves bad files: not new data) skipped."""
        folder = self.folder(project_root)
        files: dict[str, list[int]] = {}
        for path in inbox_files(folder, self.patterns):
            stat = path.stat()
            files[path.relative_to(folder).as_posix()] = [stat.st_mtime_ns, stat.st_size]
        return files
