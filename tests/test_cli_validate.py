"""`hymirec validate` warns when the pipeline's short-user filter (sequences.min_user_interactions) would keep no user."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hymirec.cli import main, short_users_warning

def _interactions(tmp_path: Path, events: dict[str, list[str]]) -> Path:
    rows = [(user, item, 978300760 + index) for user, items in events.items() for index, item in enumerate(items)]
    path = tmp_path / "interactions.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(path, index=False)
    return path


def test_files_that_pass_but_leave_no_user_get_a_warning_naming_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # u2's 5 events hold 4 distinct items: repeats are dropped before the filter, as in validated_sequences
    path = _interactions(tmp_path, {"u1": ["a", "b", "c"], "u2": ["a", "b", "c", "d", "a"]})
    assert main(["validate", "--interactions", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"OK: {path}: 8 rows, 2 users")
    assert err.startswith(f"warning: {path}: no user has 5 distinct items (sequences.min_user_interactions=5; the most any user has is 4)")


def test_the_configs_minimum_is_the_one_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _interactions(tmp_path, {"u1": ["a", "b", "c"]})
    config = tmp_path / "mine.yaml"
    config.write_text("sequences:\n  min_user_interactions: 3\n")
    assert main(["validate", "--interactions", str(path), "-c", str(config)]) == 0
    assert capsys.readouterr().err == ""


def test_no_warning_when_some_user_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _interactions(tmp_path, {"u1": ["a", "b"], "u2": ["a", "b", "c", "d", "e"]})
    assert main(["validate", "--interactions", str(path)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("events", "minimum", "warns"), [({"u": ["a"] * 6}, 3, True), ({"u": list("abc"), "v": list("ab")}, 3, False), ({}, 3, True)])
def test_the_warning_follows_the_pipelines_rules(events: dict[str, list[str]], minimum: int, warns: bool) -> None:
    rows = [(user, item) for user, items in events.items() for item in items]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id"])
    assert (short_users_warning(frame, minimum) is not None) == warns
