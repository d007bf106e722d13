"""`hymirec validate` on the shipped fixture folders: one folder per rule, each breaking only that rule."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from data_checks.errors import DataValidationError, RuleFailure
from data_checks.validate_files import FILE_IS_READABLE, validate_user_files
from hymirec.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
GOOD = DATA / "good_logs"
BAD = DATA / "bad_logs"
BAD_FOLDERS = sorted(path.name for path in BAD.iterdir() if path.is_dir())

# Which file of the pair breaks the rule, and the lines (header = line 1) reported for it.
BROKEN = {
    "file_is_readable": ("interactions.csv", []),
    "interactions_have_required_columns": ("interactions.csv", []),
    "items_have_required_columns": ("items.csv", []),
    "ids_and_timestamp_not_empty": ("interactions.csv", [4, 6]),
    "timestamp_is_integer": ("interactions.csv", [3, 5]),
    "timestamp_in_range": ("interactions.csv", [3, 5]),
    "interaction_is_unique": ("interactions.csv", [2, 4]),
    "item_exists_in_items_table": ("interactions.csv", [4]),
    "item_id_is_unique": ("items.csv", [3, 5]),
    "title_not_empty": ("items.csv", [3]),
}


def _validate(folder: Path, capsys: pytest.CaptureFixture[str], *, items: bool = True) -> tuple[int, str, str]:
    argv = ["validate", "--interactions", str(folder / "interactions.csv")]
    if items:
        argv += ["--items", str(folder / "items.csv")]
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_rule_has_a_fixture_folder():
    assert set(BAD_FOLDERS) == set(BROKEN)


def test_good_pair_passes(capsys):
    code, out, err = _validate(GOOD, capsys)
    assert code == 0, err
    assert out.strip() == f"OK: {GOOD / 'interactions.csv'}: 6 rows, 3 users, 3 items; 14 rules passed"
    # valid, but too short for the pipeline's 5-event user filter: the one thing said on stderr (tests/test_cli_validate.py)
    assert err.startswith(f"warning: {GOOD / 'interactions.csv'}: no user has 5 distinct items") and err.count("\n") == 1


def test_good_interactions_alone_skip_item_rules(capsys):
    code, out, _ = _validate(GOOD, capsys, items=False)
    assert code == 0
    assert out.strip().endswith("6 rows, 3 users, 3 items; 10 rules passed")


@pytest.mark.parametrize("rule", BAD_FOLDERS)
def test_bad_folder_fails_naming_file_rule_and_lines(rule, capsys):
    folder = BAD / rule
    broken_file, lines = BROKEN[rule]
    code, out, err = _validate(folder, capsys)
    assert code == 1
    assert out == ""
    assert err.startswith("error: data validation failed: 1 rule broken\n")  # only the folder's rule
    assert f"\n- {folder / broken_file}: rule {rule} failed" in err
    assert [int(line) for line in re.findall(r"^    line (\d+): ", err, flags=re.MULTILINE)] == lines
    assert "Traceback" not in err


def test_failures_are_structured():
    folder = BAD / "item_id_is_unique"
    with pytest.raises(DataValidationError) as caught:
        validate_user_files(folder / "interactions.csv", folder / "items.csv")
    (failure,) = caught.value.failures
    assert failure == RuleFailure(
        file=str(folder / "items.csv"),
        rule="item_id_is_unique",
        sample_rows=({"row": 3, "item_id": "i2", "title": "Heat (1995)"}, {"row": 5, "item_id": "i2", "title": "Heat (1986)"}),
        detail="2 of 4 rows",
        row_numbering="line",
        unexpected_count=2,
    )


def test_missing_required_column_names_the_rules_not_checked():
    folder = BAD / "interactions_have_required_columns"
    with pytest.raises(DataValidationError) as caught:
        validate_user_files(folder / "interactions.csv", folder / "items.csv")
    assert "missing column 'timestamp'; columns found: user_id, item_id, time" in str(caught.value)
    assert caught.value.skipped == [
        "timestamp_is_integer",
        "timestamp_in_seconds",
        "timestamp_in_range",
        "timestamp_not_in_future",
        "interaction_is_unique",
    ]
    assert "not checked because of missing columns: timestamp_is_integer" in str(caught.value)


def test_sample_values_are_shown_as_written():
    folder = BAD / "timestamp_is_integer"
    with pytest.raises(DataValidationError) as caught:
        validate_user_files(folder / "interactions.csv", folder / "items.csv")
    message = str(caught.value)
    assert "line 3: user_id='u1', item_id='i2', timestamp='978300761.5'" in message
    assert "line 5: user_id='u2', item_id='i1', timestamp='2000-12-31'" in message
    assert "(line = line number in the file, header = line 1)" in message


def _unreadable(tmp_path: Path, kind: str) -> Path:
    if kind == "missing file":
        return tmp_path / "nowhere.csv"
    if kind == "wrong extension":
        path = tmp_path / "interactions.json"
        path.write_text('{"user_id": "u1"}')
    elif kind == "corrupt parquet":
        path = tmp_path / "interactions.parquet"
        path.write_bytes(b"PAR1 this is not a parquet file")
    elif kind == "not text":
        path = tmp_path / "interactions.csv"
        path.write_bytes(bytes([0xFF, 0xFE, 0xB3, 0x00, 0x81]) * 40)
    elif kind == "empty file":
        path = tmp_path / "interactions.csv"
        path.write_bytes(b"")
    elif kind == "directory":
        path = tmp_path / "interactions.csv"
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["missing file", "wrong extension", "corrupt parquet", "not text", "empty file", "directory"])
def test_unreadable_file_is_a_validation_error(kind, tmp_path, capsys):
    path = _unreadable(tmp_path, kind)
    code = main(["validate", "--interactions", str(path), "--items", str(GOOD / "items.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: data validation failed: 1 rule broken\n- {path}: rule {FILE_IS_READABLE} failed: " in err
    assert "Traceback" not in err


def test_unreadable_items_file_is_named(tmp_path):
    with pytest.raises(DataValidationError) as caught:
        validate_user_files(GOOD / "interactions.csv", tmp_path / "items.csv")
    assert [(failure.file, failure.rule) for failure in caught.value.failures] == [(str(tmp_path / "items.csv"), FILE_IS_READABLE)]
    assert "file not found" in str(caught.value)


def test_parquet_rows_are_reported_by_zero_based_index(tmp_path):
    interactions = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["i1", "i2", "i1"], "timestamp": [978300760, -1, 978300800]})
    interactions.to_parquet(tmp_path / "interactions.parquet")
    pd.read_csv(GOOD / "items.csv", dtype=str).to_parquet(tmp_path / "items.parquet")
    with pytest.raises(DataValidationError) as caught:
        validate_user_files(tmp_path / "interactions.parquet", tmp_path / "items.parquet")
    (failure,) = caught.value.failures
    assert failure.rule == "timestamp_in_range"
    assert failure.row_numbering == "row"
    assert failure.sample_rows == ({"row": 1, "user_id": "u1", "item_id": "i2", "timestamp": -1},)
    assert "row = 0-based row index" in str(caught.value)


def test_good_parquet_pair_passes(tmp_path):
    interactions = pd.read_csv(GOOD / "interactions.csv", dtype={"user_id": str, "item_id": str})
    assert interactions["timestamp"].dtype == "int64"
    interactions.to_parquet(tmp_path / "interactions.parquet")
    pd.read_csv(GOOD / "items.csv", dtype=str).to_parquet(tmp_path / "items.parquet")
    report = validate_user_files(tmp_path / "interactions.parquet", tmp_path / "items.parquet")
    assert report.startswith("OK: ") and report.endswith("14 rules passed")
