from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from hymirec.registry import CHAMPION, register_and_promote


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("registry-test")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pt").write_bytes(b"weights")
    yield tmp_path
    mlflow.set_tracking_uri(None)


def _evaluate(directory: Path, score: float):
    with mlflow.start_run():
        return register_and_promote(directory / "model", "sasrec", score, registered_model="test-recommender")


def test_champion_moves_only_when_validation_improves(tracking: Path) -> None:
    first = _evaluate(tracking, 0.10)
    worse = _evaluate(tracking, 0.08)
    better = _evaluate(tracking, 0.12)
    assert (first.promoted, worse.promoted, better.promoted) == (True, False, True)
    assert worse.previous_champion_score == pytest.approx(0.10)
    champion = MlflowClient().get_model_version_by_alias("test-recommender", CHAMPION)
    assert int(champion.version) == better.version == 3
