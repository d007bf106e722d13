"""Great Expectations suite for validated sequences (stage ``validated_sequences``).

The sequences frame has one row per user: ``user_idx``, ``user_id``, ``items`` (item_idx list,
chronological) and ``timestamps`` (same length). Leave-one-out reads the last item as test and the
second-to-last as validation. The suite runs over a per-user summary frame derived here (lengths,
smallest/largest item_idx, whether timestamps ever decrease, whether a target repeats an input item),
one GE expectation (or a few) per rule:

- ``sequences_have_required_columns``: user_idx, user_id, items, timestamps;
- ``at_least_one_user``: filtering left someone to train and evaluate on;
- ``user_has_min_interactions``: every user has >= min_user_interactions events;
- ``items_and_timestamps_same_length``;
- ``test_after_valid_after_train``: timestamps never decrease within a user, so the test event is no
  earlier than the validation event, which is no earlier than the last training event;
- ``one_valid_and_one_test_per_user``: user_idx unique and contiguous 0..U-1, each user >= 3 events;
- ``train_items_unique``: no item repeated inside the training part;
- ``valid_item_not_in_input`` / ``test_item_not_in_input``: a target never appears in the input it is
  predicted from (valid: the training part; test: training part + validation item);
- ``item_idx_in_catalog``: every item_idx within [0, num_items).

Every fact above lies within one user's row except whether a user_idx occurs twice, so the suite reads the
table batch by batch (``data_checks.tables``): stage ``validated_sequences`` reads its Parquet output with
DuckDB ``SEQUENCE_BATCH_USERS`` users at a time, with the repeated user_idx values from a DuckDB query over
the whole file, and each row flagged against them (``user_idx_repeated``; its messages name ``user_idx``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from pathlib import Path

import numpy as np
import pandas as pd

from data_checks.errors import DataValidationError
from data_checks.runner import Batch, Rule, expectations, run_suite_in_batches
from data_checks.tables import SequenceEngineTable, SequenceFrameTable
from hymirec.data.streaming import EngineSettings, connect

SEQUENCES_SUITE = "validated_sequences"

USER_IDX, USER_ID, ITEMS, TIMESTAMPS = "user_idx", "user_id", "items", "timestamps"
REQUIRED_COLUMNS: tuple[str, ...] = (USER_IDX, USER_ID, ITEMS, TIMESTAMPS)
TAIL = 3  # list values shown in messages: the last ones, which leave-one-out reads
USER_IDX_REPEATED = "user_idx_repeated"

SEQUENCES_HAVE_REQUIRED_COLUMNS = "sequences_have_required_columns"
AT_LEAST_ONE_USER = "at_least_one_user"
USER_HAS_MIN_INTERACTIONS = "user_has_min_interactions"
ITEMS_AND_TIMESTAMPS_SAME_LENGTH = "items_and_timestamps_same_length"
TEST_AFTER_VALID_AFTER_TRAIN = "test_after_valid_after_train"
ONE_VALID_AND_ONE_TEST_PER_USER = "one_valid_and_one_test_per_user"
TRAIN_ITEMS_UNIQUE = "train_items_unique"
VALID_ITEM_NOT_IN_INPUT = "valid_item_not_in_input"
TEST_ITEM_NOT_IN_INPUT = "test_item_not_in_input"
ITEM_IDX_IN_CATALOG = "item_idx_in_catalog"

SEQUENCE_RULES: tuple[str, ...] = (
    SEQUENCES_HAVE_REQUIRED_COLUMNS,
    AT_LEAST_ONE_USER,
    USER_HAS_MIN_INTERACTIONS,
    ITEMS_AND_TIMESTAMPS_SAME_LENGTH,
    TEST_AFTER_VALID_AFTER_TRAIN,
    ONE_VALID_AND_ONE_TEST_PER_USER,
    TRAIN_ITEMS_UNIQUE,
    VALID_ITEM_NOT_IN_INPUT,
    TEST_ITEM_NOT_IN_INPUT,
    ITEM_IDX_IN_CATALOG,
)


def validate_sequences(
    sequences: pd.DataFrame,
    *,
    num_items: int,
    min_user_interactions: int,
    source: str,
    docs_dir: Path | None = None,
) -> dict:
    """Run the sequences suite; return a summary, or raise ``DataValidationError`` naming every broken rule.

    Offending rows are reported by 0-based row index of ``sequences`` with the user's ids.
    """
    return check_sequences(
        SequenceFrameTable(sequences), num_items=num_items, min_user_interactions=min_user_interactions, source=source, docs_dir=docs_dir
    )


def validate_sequence_file(
    path: Path, *, num_items: int, min_user_interactions: int, docs_dir: Path | None = None, settings: EngineSettings = EngineSettings()
) -> dict:
    """``validate_sequences`` on a stored sequences file read by DuckDB a batch of users at a time (as stage
    validated_sequences checks it): what the Dagster check re-runs without holding every user in pandas."""
    if not Path(path).is_file():
        raise FileNotFoundError(path)
    with connect(settings) as (connection, _):
        return check_sequences(
            SequenceEngineTable(connection, path), num_items=num_items, min_user_interactions=min_user_interactions,
            source=str(path), docs_dir=docs_dir,
        )


def check_sequences(
    table: SequenceFrameTable | SequenceEngineTable,
    *,
    num_items: int,
    min_user_interactions: int,
    source: str,
    docs_dir: Path | None = None,
) -> dict:
    """``validate_sequences`` on a table read batch by batch (``data_checks.tables``): GE validates one batch's
    per-user summary at a time, with the same rule names, counts and sample rows as on the whole table."""
    found: dict = {"rules": [], "skipped": [], "events": 0}

    def batches() -> Iterator[tuple[Batch, list[Rule]]]:
        for batch in table.batches():
            summary = per_user_summary(batch.frame)
            if USER_IDX in summary.columns:
                summary[USER_IDX_REPEATED] = batch.user_idx_repeated.to_numpy(dtype=object)
            rules, skipped = _rules(set(summary.columns), users=table.rows, num_items=num_items, min_user_interactions=min_user_interactions)
            found.update(rules=rules, skipped=skipped)
            found["events"] += int(summary["n_items"].sum()) if "n_items" in summary.columns else 0
            yield Batch(summary, summary, rows=batch.rows), rules

    failures = run_suite_in_batches(
        batches(),
        suite_name=SEQUENCES_SUITE,
        source=source,
        row_numbering="row",
        docs_dir=docs_dir,
        source_columns=table.columns,
    )
    if failures:
        raise DataValidationError(failures, found["skipped"])
    return {
        "suite": SEQUENCES_SUITE,
        "rules_checked": len(found["rules"]),
        "rules": [rule.name for rule in found["rules"]],
        "users": table.rows,
        "events": found["events"],
    }


def per_user_summary(sequences: pd.DataFrame) -> pd.DataFrame:
    """One row per user with what the rules look at; a column is absent when its input column is.

    Columns: user_idx, user_id; items and timestamps as text showing their last three values (the
    part leave-one-out reads); n_items, n_timestamps; min_item_idx, max_item_idx;
    timestamps_decrease (first 0-based position whose timestamp is below the one before, -1 if none);
    train_repeated_item (first item seen twice in the training part); valid_item, test_item and
    whether each is already in its input (valid_item_in_input, test_item_in_input).
    """
    users = len(sequences)
    summary = pd.DataFrame(index=pd.RangeIndex(users))
    for column in (USER_IDX, USER_ID):
        if column in sequences.columns:
            summary[column] = sequences[column].to_numpy()
    if ITEMS in sequences.columns:
        items, n_items, summary[ITEMS] = _flatten(sequences[ITEMS])
        summary["n_items"] = n_items
        owner = np.repeat(np.arange(users), n_items)
        by_user = pd.Series(items).groupby(owner)
        for name, values in (("min_item_idx", by_user.min()), ("max_item_idx", by_user.max())):
            summary[name] = _nullable(values.reindex(summary.index))
        summary = summary.join(_repeats(items, owner, n_items))
    if TIMESTAMPS in sequences.columns:
        timestamps, n_timestamps, summary[TIMESTAMPS] = _flatten(sequences[TIMESTAMPS])
        summary["n_timestamps"] = n_timestamps
        summary["timestamps_decrease"] = _first_decrease(timestamps, n_timestamps)
    return summary


def _rules(has: set[str], *, users: int, num_items: int, min_user_interactions: int) -> tuple[list[Rule], list[str]]:
    """The rules that can run on a summary with columns ``has`` of a table of ``users`` rows, and the names of those that cannot."""
    E = expectations()
    user = (USER_IDX, USER_ID)
    rules = [
        Rule(
            SEQUENCES_HAVE_REQUIRED_COLUMNS,
            tuple(E.ExpectColumnToExist(column=column) for column in REQUIRED_COLUMNS),
            user,
            "the sequences table has user_idx, user_id, items and timestamps columns",
        ),
        Rule(
            AT_LEAST_ONE_USER,
            (E.ExpectTableRowCountToBeBetween(min_value=1),),
            (),
            "filtering left at least one user (an empty table passes every per-user rule)",
        ),
    ]
    candidates = [
        (
            USER_HAS_MIN_INTERACTIONS,
            {"n_items"},
            lambda: (E.ExpectColumnValuesToBeBetween(column="n_items", min_value=min_user_interactions),),
            user + ("n_items",),
            f"every user has at least {min_user_interactions} events (sequences.min_user_interactions)",
        ),
        (
            ITEMS_AND_TIMESTAMPS_SAME_LENGTH,
            {"n_items", "n_timestamps"},
            lambda: (E.ExpectColumnPairValuesToBeEqual(column_A="n_items", column_B="n_timestamps"),),
            user + ("n_items", "n_timestamps"),
            "each user's items and timestamps lists have the same length",
        ),
        (
            TEST_AFTER_VALID_AFTER_TRAIN,
            {"timestamps_decrease"},
            lambda: (E.ExpectColumnValuesToBeInSet(column="timestamps_decrease", value_set=[-1]),),
            user + (TIMESTAMPS, "timestamps_decrease"),
            "timestamps never decrease within a user: test time >= validation time >= last training time",
        ),
        (
            ONE_VALID_AND_ONE_TEST_PER_USER,
            {USER_IDX, "n_items"},
            lambda: (
                E.ExpectColumnValuesToNotBeNull(column=USER_IDX),
                # unique across the whole table: each row's flag from the table (a batch cannot see the other rows)
                E.ExpectColumnValuesToBeInSet(column=USER_IDX_REPEATED, value_set=[False], meta={"target": USER_IDX}),
                E.ExpectColumnValuesToBeBetween(column=USER_IDX, min_value=0, max_value=max(users - 1, 0)),
                E.ExpectColumnValuesToBeBetween(column="n_items", min_value=3),
            ),
            user + ("n_items",),
            "user_idx is unique and contiguous 0..U-1 and every user has at least 3 events, so "
            "leave-one-out yields exactly one validation and one test item per user",
        ),
        (
            TRAIN_ITEMS_UNIQUE,
            {"train_repeated_item"},
            lambda: (E.ExpectColumnValuesToBeNull(column="train_repeated_item"),),
            user + (ITEMS, "train_repeated_item"),
            "no item appears twice in a user's training part",
        ),
        (
            VALID_ITEM_NOT_IN_INPUT,
            {"valid_item_in_input"},
            lambda: (E.ExpectColumnValuesToBeInSet(column="valid_item_in_input", value_set=[False]),),
            user + (ITEMS, "valid_item"),
            "the validation item is not in the training part it is predicted from",
        ),
        (
            TEST_ITEM_NOT_IN_INPUT,
            {"test_item_in_input"},
            lambda: (E.ExpectColumnValuesToBeInSet(column="test_item_in_input", value_set=[False]),),
            user + (ITEMS, "test_item"),
            "the test item is not in the input it is predicted from (training part + validation item)",
        ),
        (
            ITEM_IDX_IN_CATALOG,
            {"min_item_idx", "max_item_idx"},
            lambda: (
                E.ExpectColumnValuesToBeBetween(column="min_item_idx", min_value=0),
                E.ExpectColumnValuesToBeBetween(column="max_item_idx", max_value=num_items - 1),
            ),
            user + ("min_item_idx", "max_item_idx"),
            f"every item_idx lies in [0, {num_items}), the rows of the items table",
        ),
    ]
    skipped = []
    for name, needs, build, show, description in candidates:
        if needs <= has:
            rules.append(Rule(name, build(), show, description))
        else:
            skipped.append(name)
    return rules, skipped


def _flatten(cells: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All list cells concatenated, each cell's length, and each cell's tail as text.

    A missing or non-list cell counts as empty.
    """
    empty = np.empty(0, dtype=np.int64)
    arrays = [np.asarray(cell).ravel() if isinstance(cell, Sized) and not isinstance(cell, str) else empty for cell in cells]
    lengths = np.array([len(array) for array in arrays], dtype=np.int64)
    flat = np.concatenate(arrays) if arrays else empty
    tails = [("[..., " if len(array) > TAIL else "[") + ", ".join(map(str, array[-TAIL:].tolist())) + "]" for array in arrays]
    return flat, lengths, tails


def _nullable(values: pd.Series) -> pd.Series:
    """Integers with missing values as nullable Int64 (not float), so messages show 7, not 7.0."""
    if pd.api.types.is_float_dtype(values.dtype) and np.array_equal(values.dropna(), values.dropna().round()):
        return values.astype("Int64")
    return values


def _repeats(items: np.ndarray, owner: np.ndarray, n_items: np.ndarray) -> pd.DataFrame:
    """Per user: the first item repeated inside training, the targets, and whether they repeat an input item.

    An event is a repeat when the same user had the same item at an earlier position. The test
    item's input is everything before it; the validation item's input is the training part.
    """
    users = len(n_items)
    repeat = pd.DataFrame({"user": owner, "item": items}).duplicated(keep="first").to_numpy()
    starts = np.concatenate([[0], np.cumsum(n_items)[:-1]]) if users else np.empty(0, dtype=np.int64)
    from_end = n_items[owner] - 1 - (np.arange(len(items)) - starts[owner])  # 0 = test, 1 = valid

    result = pd.DataFrame(index=pd.RangeIndex(users))
    in_train = repeat & (from_end >= 2)
    first_train_repeat = pd.Series(items[in_train]).groupby(owner[in_train]).first()
    result["train_repeated_item"] = _nullable(first_train_repeat.reindex(result.index).astype("float64"))
    for name, offset in (("valid", 1), ("test", 0)):
        target = np.flatnonzero(from_end == offset)  # one position per user with enough events
        item = pd.Series(pd.NA, index=result.index, dtype="object")
        in_input = pd.Series(pd.NA, index=result.index, dtype="boolean")
        item.iloc[owner[target]] = items[target]
        in_input.iloc[owner[target]] = repeat[target]
        result[f"{name}_item"] = item
        result[f"{name}_item_in_input"] = in_input
    return result


def _first_decrease(timestamps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per user, the first 0-based position whose timestamp is below the previous one, or -1."""
    users = len(lengths)
    result = np.full(users, -1, dtype=np.int64)
    if len(timestamps) < 2:
        return result
    owner = np.repeat(np.arange(users), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    drops = np.flatnonzero((np.diff(timestamps) < 0) & (owner[1:] == owner[:-1])) + 1
    if len(drops):
        first = pd.Series(drops).groupby(owner[drops]).min()
        result[first.index.to_numpy()] = first.to_numpy() - starts[first.index.to_numpy()]
    return result
