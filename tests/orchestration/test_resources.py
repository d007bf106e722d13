"""Resources: project root and MLflow tracking URI resolution (real and offline implementations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.resources import DvcProject, MlflowTracking, OfflineMlflow, ProjectMlflow, default_project_root

CHECKOUT = Path(__file__).resolve().parents[2]


def test_project_root_defaults_to_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYMIREC_PROJECT_ROOT", raising=False)
    assert default_project_root() == CHECKOUT
    assert DvcProject().root_dir() == CHECKOUT
    assert DvcProject().config_file() == CHECKOUT / "configs" / "default.yaml"


def test_project_root_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYMIREC_PROJECT_ROOT", str(tmp_path))
    assert DvcProject().root_dir() == tmp_path
    assert DvcProject(root=str(CHECKOUT)).root_dir() == CHECKOUT  # explicit config wins


def test_project_mlflow_defaults_to_sqlite_in_the_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow = ProjectMlflow(project_root=str(tmp_path))
    assert mlflow.tracking_uri() == f"sqlite:///{tmp_path}/mlflow.db"
    assert mlflow.subprocess_env() == {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}


def test_project_mlflow_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert ProjectMlflow(project_root=str(tmp_path)).tracking_uri() == "http://mlflow.example:5000"
    assert ProjectMlflow(uri="sqlite:///explicit.db").tracking_uri() == "sqlite:///explicit.db"


def test_offline_mlflow_ignores_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    offline = OfflineMlflow(db_path=str(tmp_path / "t.db"))
    assert isinstance(offline, MlflowTracking)
    assert offline.tracking_uri() == f"sqlite:///{tmp_path}/t.db"
