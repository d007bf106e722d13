"""The registry: one registered model per data set (its fingerprint), a champion that moves only on merit."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from hymirec.data.sequences import TIMESTAMPS
from hymirec.serving.registry import CHAMPION, data_fingerprint, register_and_promote, registered_model_name


def _evaluate(tmp_path: Path, fingerprint: str, score: float, model: str = "sasrec"):
    source = tmp_path / f"{model}-{score}"
    source.mkdir(exist_ok=True)
    with mlflow.start_run():
        return register_and_promote(str(source), model, score, fingerprint, prefix="test-recommender")


def _champion(fingerprint: str):
    return MlflowClient().get_model_version_by_alias(registered_model_name(fingerprint, "test-recommender"), CHAMPION)


def test_champion_moves_only_when_validation_improves(tracking: str, tmp_path: Path) -> None:
    first = _evaluate(tmp_path, "a0a0a0a0a0a0", 0.10)
    worse = _evaluate(tmp_path, "a0a0a0a0a0a0", 0.08)
    better = _evaluate(tmp_path, "a0a0a0a0a0a0", 0.12)
    assert (first.promoted, worse.promoted, better.promoted) == (True, False, True)
    assert worse.previous_champion_score == pytest.approx(0.10)
    assert int(_champion("a0a0a0a0a0a0").version) == better.version == 3


def test_promoting_on_one_data_set_never_makes_it_the_champion_of_another(tracking: str, tmp_path: Path) -> None:
    on_b = _evaluate(tmp_path, "b1b1b1b1b1b1", 0.05, model="comirec")
    on_a = _evaluate(tmp_path, "a1a1a1a1a1a1", 0.30, model="hymirec")  # far better, but on other data
    assert on_a.promoted and on_b.promoted and on_a.registered_model != on_b.registered_model
    assert _champion("b1b1b1b1b1b1").tags["model"] == "comirec"
    assert _champion("a1a1a1a1a1a1").tags["model"] == "hymirec"
    with pytest.raises(mlflow.exceptions.MlflowException):  # a data set nothing was evaluated on has no champion
        _champion("c2c2c2c2c2c2")


def test_the_fingerprint_follows_the_validated_sequences(served_data) -> None:
    sequences, items = served_data.sequences, served_data.items
    fingerprint = data_fingerprint(sequences, items)
    assert len(fingerprint) == 12 and fingerprint == data_fingerprint(sequences.copy(), items.copy())
    one_event_less = sequences.assign(items=[list(values)[:-1] if row == 0 else values for row, values in enumerate(sequences["items"])],
                                      timestamps=[list(values)[:-1] if row == 0 else values for row, values in enumerate(sequences[TIMESTAMPS])])
    other_ids = items.assign(item_id=items["item_id"].str.upper())
    assert len({fingerprint, data_fingerprint(one_event_less, items), data_fingerprint(sequences, other_ids)}) == 3
