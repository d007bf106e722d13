"""DataValidationError: every failure listed with file, rule and sample rows; picklable."""

from __future__ import annotations

import pickle

from data_checks.errors import DataValidationError, RuleFailure


def _error() -> DataValidationError:
    return DataValidationError(
        [
            RuleFailure(
                file="logs/interactions.csv",
                rule="timestamp_is_integer",
                sample_rows=({"row": 3, "user_id": "u1", "timestamp": "soon"}, {"row": 9, "user_id": "u7", "timestamp": "x" * 100}),
                detail="2 of 10 rows",
                row_numbering="line",
                unexpected_count=2,
            ),
            RuleFailure(file="logs/items.csv", rule="items_have_required_columns", detail="missing column 'title'"),
        ],
        skipped=["title_not_empty"],
    )


def test_message_lists_every_failure_with_its_rows():
    message = str(_error())
    lines = message.splitlines()
    assert lines[0] == "data validation failed: 2 rules broken"
    assert lines[1] == (
        "- logs/interactions.csv: rule timestamp_is_integer failed: 2 of 10 rows; "
        "sample rows (line = line number in the file, header = line 1):"
    )
    assert lines[2] == "    line 3: user_id='u1', timestamp='soon'"
    assert lines[3].startswith("    line 9: user_id='u7', timestamp='xxx") and lines[3].endswith("...")  # long values cut
    assert lines[4] == "- logs/items.csv: rule items_have_required_columns failed: missing column 'title'"
    assert lines[5] == "- not checked because of missing columns: title_not_empty"


def test_structured_and_picklable():
    error = _error()
    assert error.rules == ["timestamp_is_integer", "items_have_required_columns"]
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.failures, copy.skipped, str(copy)) == (error.failures, error.skipped, str(error))


def test_plain_message():
    error = DataValidationError("sequences.parquet: no users left")
    assert (str(error), error.failures) == ("sequences.parquet: no users left", [])
    assert str(pickle.loads(pickle.dumps(error))) == "sequences.parquet: no users left"
