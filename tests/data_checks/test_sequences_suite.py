"""The validated-sequences suite: a good frame passes, each rule broken once is named alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_checks.errors import DataValidationError
from data_checks.sequences import SEQUENCE_RULES, per_user_summary, validate_sequences
from hymirec.config import SequencesConfig
from hymirec.data.schema import RawLogs
from hymirec.data.sequences import build_sequences

NUM_ITEMS = 7
MIN_EVENTS = 5


def good_sequences() -> pd.DataFrame:
    """3 users, 5-6 events each, over items 0..6; user 1 has timestamp ties (allowed)."""
    return pd.DataFrame(
        {
            "user_idx": [0, 1, 2],
            "user_id": ["u1", "u2", "u3"],
            "items": [[0, 1, 2, 3, 4], [6, 5, 4, 3, 2, 1], [2, 0, 6, 1, 5]],
            "timestamps": [[10, 20, 30, 40, 50], [5, 5, 5, 6, 6, 6], [1, 2, 3, 4, 5]],
        }
    )


def _with(row: int, **cells) -> pd.DataFrame:
    """The good frame with some cells of one row replaced."""
    frame = good_sequences()
    for column, value in cells.items():
        frame.at[row, column] = value
    return frame


# rule -> (broken frame, min_user_interactions, offending 0-based rows)
BROKEN = {
    "sequences_have_required_columns": (good_sequences().drop(columns="user_id"), MIN_EVENTS, []),
    "at_least_one_user": (good_sequences().iloc[:0], MIN_EVENTS, []),
    "user_has_min_interactions": (_with(2, items=[2, 0, 6, 1], timestamps=[1, 2, 3, 4]), MIN_EVENTS, [2]),
    "items_and_timestamps_same_length": (_with(0, timestamps=[10, 20, 30, 40]), MIN_EVENTS, [0]),
    "test_after_valid_after_train": (_with(1, timestamps=[5, 5, 5, 6, 7, 6]), MIN_EVENTS, [1]),
    "one_valid_and_one_test_per_user": (good_sequences().assign(user_idx=[0, 1, 1]), MIN_EVENTS, [1, 2]),
    "train_items_unique": (_with(0, items=[0, 1, 0, 3, 4]), MIN_EVENTS, [0]),
    "valid_item_not_in_input": (_with(0, items=[0, 1, 2, 1, 4]), MIN_EVENTS, [0]),
    "test_item_not_in_input": (_with(2, items=[2, 0, 6, 1, 0]), MIN_EVENTS, [2]),
    "item_idx_in_catalog": (_with(1, items=[6, 5, 4, 3, 2, NUM_ITEMS]), MIN_EVENTS, [1]),
}


def test_good_sequences_pass():
    summary = validate_sequences(good_sequences(), num_items=NUM_ITEMS, min_user_interactions=MIN_EVENTS, source="sequences.parquet")
    assert summary["rules"] == list(SEQUENCE_RULES)
    assert (summary["rules_checked"], summary["users"], summary["events"]) == (10, 3, 16)


def test_every_rule_has_a_broken_case():
    assert set(BROKEN) == set(SEQUENCE_RULES)


@pytest.mark.parametrize("rule", list(BROKEN))
def test_each_broken_rule_is_named_alone(rule):
    frame, min_events, rows = BROKEN[rule]
    with pytest.raises(DataValidationError) as caught:
        validate_sequences(frame, num_items=NUM_ITEMS, min_user_interactions=min_events, source="data/sequences/sequences.parquet")
    assert caught.value.rules == [rule]
    (failure,) = caught.value.failures
    assert failure.file == "data/sequences/sequences.parquet"
    assert f"data/sequences/sequences.parquet: rule {rule} failed" in str(caught.value)
    assert failure.row_numbering == "row"
    assert [sample["row"] for sample in failure.sample_rows] == rows
    if rows:  # the user's ids come with each row
        assert [sample["user_id"] for sample in failure.sample_rows] == frame["user_id"].iloc[rows].tolist()


@pytest.mark.parametrize(
    ("rule", "frame"),
    [
        ("one_valid_and_one_test_per_user", good_sequences().assign(user_idx=[0, 1, 3])),  # gap: not contiguous
        ("item_idx_in_catalog", _with(0, items=[-1, 1, 2, 3, 4])),
        ("test_item_not_in_input", _with(0, items=[0, 1, 2, 3, 3])),  # test item == validation item
        ("one_valid_and_one_test_per_user", good_sequences().assign(user_idx=["a", "b", "c"])),  # not integers
    ],
)
def test_other_ways_to_break_a_rule(rule, frame):
    with pytest.raises(DataValidationError) as caught:
        validate_sequences(frame, num_items=NUM_ITEMS, min_user_interactions=MIN_EVENTS, source="s")
    assert caught.value.rules == [rule]


def test_a_two_event_user_has_no_validation_and_test_pair():
    """Leave-one-out needs 3 events per user even when the caller's floor is lower."""
    frame = _with(0, items=[0, 1], timestamps=[10, 20])
    with pytest.raises(DataValidationError) as caught:
        validate_sequences(frame, num_items=NUM_ITEMS, min_user_interactions=2, source="s")
    assert caught.value.rules == ["one_valid_and_one_test_per_user"]
    assert caught.value.failures[0].detail.endswith("n_items: 1 of 3 rows")


def test_messages_show_the_targets_and_the_tail_of_the_sequence():
    frame, min_events, _ = BROKEN["valid_item_not_in_input"]
    with pytest.raises(DataValidationError) as caught:
        validate_sequences(frame, num_items=NUM_ITEMS, min_user_interactions=min_events, source="s")
    assert "row 0: user_idx=0, user_id='u1', items='[..., 2, 1, 4]', valid_item=1" in str(caught.value)


def test_summary_reads_leave_one_out_positions():
    summary = per_user_summary(BROKEN["test_item_not_in_input"][0])
    assert summary["test_item"].tolist() == [4, 1, 0]
    assert summary["valid_item"].tolist() == [3, 2, 1]
    assert summary["test_item_in_input"].tolist() == [False, False, True]
    assert summary["timestamps_decrease"].tolist() == [-1, -1, -1]
    assert per_user_summary(BROKEN["test_after_valid_after_train"][0])["timestamps_decrease"].tolist() == [-1, 5, -1]


def test_numpy_array_cells_as_read_from_parquet(tmp_path):
    good_sequences().to_parquet(tmp_path / "sequences.parquet")
    frame = pd.read_parquet(tmp_path / "sequences.parquet")
    assert isinstance(frame.at[0, "items"], np.ndarray)
    validate_sequences(frame, num_items=NUM_ITEMS, min_user_interactions=MIN_EVENTS, source="sequences.parquet")


def test_output_of_build_sequences_passes():
    events = [("u1", "a", 1), ("u1", "b", 1), ("u1", "a", 2), ("u1", "c", 3), ("u1", "d", 3), ("u1", "e", 4)]
    events += [("u2", "e", 9), ("u2", "d", 8), ("u2", "c", 7), ("u2", "b", 6), ("u2", "a", 5)]
    events += [("u3", "a", 1), ("u3", "b", 2)]  # too short: dropped
    interactions = pd.DataFrame(events, columns=["user_id", "item_id", "timestamp"])
    items = pd.DataFrame({"item_id": list("abcdef"), "title": list("ABCDEF")})
    data = build_sequences(RawLogs(interactions, items), SequencesConfig(min_user_interactions=5))
    summary = validate_sequences(data.sequences, num_items=data.num_items, min_user_interactions=5, source="sequences.parquet")
    assert (summary["users"], summary["events"]) == (2, 10)


@pytest.mark.parametrize("rule", list(BROKEN))
def test_duckdb_batches_of_one_user_give_the_frames_failure(rule, tmp_path):
    """Stage validated_sequences' path: the Parquet file read by DuckDB a user at a time, a repeated user_idx
    found across batches; the same rule, counts, rows and message as the frame at once."""
    from data_checks.sequences import check_sequences
    from data_checks.tables import SequenceEngineTable
    from hymirec.data.streaming import connect

    frame, min_events, _ = BROKEN[rule]
    frame.to_parquet(tmp_path / "sequences.parquet", index=False)
    errors = []
    for table in ("frame", "duckdb"):
        with pytest.raises(DataValidationError) as caught, connect() as (connection, _):
            if table == "frame":
                validate_sequences(frame, num_items=NUM_ITEMS, min_user_interactions=min_events, source="s")
            else:
                engine = SequenceEngineTable(connection, tmp_path / "sequences.parquet", batch_users=1)
                check_sequences(engine, num_items=NUM_ITEMS, min_user_interactions=min_events, source="s")
        errors.append(caught.value)
    assert errors[1].rules == errors[0].rules == [rule]
    assert errors[1].failures == errors[0].failures
    assert str(errors[1]) == str(errors[0])


def test_duckdb_batches_pass_good_sequences(tmp_path):
    from data_checks.sequences import check_sequences
    from data_checks.tables import SequenceEngineTable
    from hymirec.data.streaming import connect

    good_sequences().to_parquet(tmp_path / "sequences.parquet", index=False)
    with connect() as (connection, _):
        summary = check_sequences(
            SequenceEngineTable(connection, tmp_path / "sequences.parquet", batch_users=2),
            num_items=NUM_ITEMS, min_user_interactions=MIN_EVENTS, source="sequences.parquet",
        )  # fmt: skip
    assert summary["rules"] == list(SEQUENCE_RULES)
    assert (summary["rules_checked"], summary["users"], summary["events"]) == (10, 3, 16)
