"""The raw-logs suite on typed frames (as the MovieLens loader returns them) and on text frames."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from data_checks.errors import MAX_SAMPLE_ROWS, DataValidationError
from data_checks.raw_logs import RawLogRules, check_logs
from hymirec.data.schema import RawLogs

RULES = RawLogRules(timestamp_min=0, timestamp_max=4_102_444_800)
SOURCES = ("ml-test.inter", "ml-test.item")


def check(raw: RawLogs, sources: tuple[str, str] = SOURCES) -> dict:
    return check_logs(raw.interactions, raw.items, *sources, RULES)


def typed_logs(**changes) -> RawLogs:
    """4 users x 3 events with int64 timestamps; ``changes`` replace whole columns."""
    interactions = pd.DataFrame(
        {
            "user_id": pd.array(["u1", "u1", "u1", "u2", "u2", "u2", "u3", "u3", "u3", "u4", "u4", "u4"], dtype="str"),
            "item_id": pd.array(["a", "b", "c", "a", "c", "d", "b", "c", "d", "a", "b", "d"], dtype="str"),
            "timestamp": np.arange(978_300_000, 978_300_012, dtype=np.int64),
        }
    )
    for column, values in changes.items():
        interactions[column] = values
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "title": ["A (1995)", "B (1996)", "C (1997)", "D (1998)"]}, dtype="str")
    return RawLogs(interactions=interactions, items=items)


def test_typed_frames_pass_with_a_summary():
    summary = check(typed_logs())
    assert summary["rules_checked"] == 14
    assert summary["rules"][:2] == ["interactions_have_required_columns", "items_have_required_columns"]
    assert (summary["rows"], summary["users"], summary["items"], summary["catalog_items"]) == (12, 4, 4, 4)


def test_typed_timestamp_out_of_range_names_rule_and_lines():
    timestamps = np.arange(978_300_000, 978_300_012, dtype=np.int64)
    timestamps[[2, 7]] = [-1, 5_000_000_000]
    with pytest.raises(DataValidationError) as caught:
        check(typed_logs(timestamp=timestamps))
    (failure,) = caught.value.failures
    assert (failure.file, failure.rule, failure.unexpected_count) == ("ml-test.inter", "timestamp_in_range", 2)
    assert [sample["row"] for sample in failure.sample_rows] == [4, 9]  # .inter files have a header line
    assert failure.sample_rows[0] == {"row": 4, "user_id": "u1", "item_id": "c", "timestamp": -1}


def test_float_timestamps_must_be_whole_seconds():
    timestamps = np.arange(978_300_000, 978_300_012, dtype=np.float64)
    timestamps[5] += 0.5
    with pytest.raises(DataValidationError) as caught:
        check(typed_logs(timestamp=timestamps))
    assert caught.value.rules == ["timestamp_is_integer"]
    assert caught.value.failures[0].sample_rows[0]["timestamp"] == 978300005.5


def test_missing_values_in_typed_frames():
    user_ids = pd.array(["u1", "u1", None, "u2", "u2", "u2", "u3", "u3", "u3", "u4", "u4", "u4"], dtype="str")
    timestamps = pd.array(np.arange(978_300_000, 978_300_012), dtype="Int64")
    timestamps[10] = pd.NA
    with pytest.raises(DataValidationError) as caught:
        check(typed_logs(user_id=user_ids, timestamp=timestamps))
    (failure,) = caught.value.failures
    assert failure.rule == "ids_and_timestamp_not_empty"
    assert [sample["row"] for sample in failure.sample_rows] == [4, 12]
    assert failure.detail == "user_id: 1 of 12 rows; timestamp: 1 of 12 rows"


def test_every_broken_rule_is_listed_in_rule_order():
    text = typed_logs().interactions.astype(str)
    text.loc[0, "timestamp"] = "soon"
    text.loc[1, "item_id"] = "zzz"
    text.loc[3] = text.loc[4]
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d", "d"], "title": ["A", "B", "C", "D", ""]})
    with pytest.raises(DataValidationError) as caught:
        check(RawLogs(text, items), ("i.csv", "items.csv"))
    assert caught.value.rules == [
        "timestamp_is_integer",
        "interaction_is_unique",
        "item_exists_in_items_table",
        "item_id_is_unique",
        "title_not_empty",
    ]
    assert [failure.file for failure in caught.value.failures] == ["i.csv"] * 3 + ["items.csv"] * 2
    message = str(caught.value)
    assert message.startswith("data validation failed: 5 rules broken\n- i.csv: rule timestamp_is_integer failed")
    assert "- items.csv: rule title_not_empty failed: 1 of 5 rows" in message


def test_at_most_five_sample_rows():
    timestamps = np.full(12, -7, dtype=np.int64)
    with pytest.raises(DataValidationError) as caught:
        check(typed_logs(timestamp=timestamps))
    (failure,) = caught.value.failures
    assert failure.unexpected_count == 12
    assert len(failure.sample_rows) == MAX_SAMPLE_ROWS
    assert [sample["row"] for sample in failure.sample_rows] == [2, 3, 4, 5, 6]
    assert failure.detail == "12 of 12 rows"


def test_error_survives_pickling():
    with pytest.raises(DataValidationError) as caught:
        check(typed_logs(timestamp=np.full(12, -7, dtype=np.int64)))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert copy.failures == caught.value.failures


def test_movielens_100k_passes():
    """Real data as the loader types it (the 1M default is timed in the report: ~1.4 s per call)."""
    from hymirec.config import DataConfig
    from hymirec.data import raw_log_sources
    from hymirec.data.movielens import load_movielens

    config = DataConfig(source="movielens_100k")
    interactions_source, items_source = raw_log_sources(config)
    raw = load_movielens(config.source.value)
    summary = check_logs(raw.interactions, raw.items, interactions_source, items_source, RawLogRules.of(config))
    assert (summary["rows"], summary["users"], summary["items"], summary["catalog_items"]) == (100_000, 943, 1_682, 1_682)
