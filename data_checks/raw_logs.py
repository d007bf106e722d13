"""Great Expectations suite for raw logs (stage ``raw_logs``), before any type coercion.

Works on frames read as text (user CSV: every column a string) and on typed frames (the MovieLens
loader: int64 timestamps). Each rule below is one or more GE expectations over a checked frame: the
user's columns with blank strings turned into nulls, plus derived columns where a rule needs them
(``timestamp_seconds``: the timestamp parsed as a number; ``item_id_in_items_table``).

Rules (names as users see them in errors):
- ``interactions_have_required_columns``: user_id, item_id, timestamp;
- ``items_have_required_columns``: item_id, title;
- ``ids_and_timestamp_not_empty``: no null or blank user_id, item_id, timestamp;
- ``timestamp_is_integer``: text matching ``^-?\\d+$`` (floats: a whole number), or an integer dtype;
- ``timestamp_in_range``: within [timestamp_min, timestamp_max];
- ``interaction_is_unique``: no repeated (user_id, item_id, timestamp) row;
- ``item_exists_in_items_table``: every interacted item_id is in the items table;
- ``item_id_is_unique``: item_id unique in the items table;
- ``title_not_empty``: every item has a title.
A rule whose columns are missing is not run (the required-columns rule already failed) and is named
as not checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_checks.errors import DataValidationError, RuleFailure
from data_checks.runner import Rule, expectations, run_suite, text_source_numbering
from hymirec.data.schema import INTERACTION_COLUMNS, ITEM_ID, TIMESTAMP, TITLE, USER_ID, RawLogs

INTERACTIONS_SUITE = "raw_logs.interactions"
ITEMS_SUITE = "raw_logs.items"

INTERACTIONS_HAVE_REQUIRED_COLUMNS = "interactions_have_required_columns"
ITEMS_HAVE_REQUIRED_COLUMNS = "items_have_required_columns"
IDS_AND_TIMESTAMP_NOT_EMPTY = "ids_and_timestamp_not_empty"
TIMESTAMP_IS_INTEGER = "timestamp_is_integer"
TIMESTAMP_IN_RANGE = "timestamp_in_range"
INTERACTION_IS_UNIQUE = "interaction_is_unique"
ITEM_EXISTS_IN_ITEMS_TABLE = "item_exists_in_items_table"
ITEM_ID_IS_UNIQUE = "item_id_is_unique"
TITLE_NOT_EMPTY = "title_not_empty"

INTERACTION_RULES: tuple[str, ...] = (
    INTERACTIONS_HAVE_REQUIRED_COLUMNS,
    IDS_AND_TIMESTAMP_NOT_EMPTY,
    TIMESTAMP_IS_INTEGER,
    TIMESTAMP_IN_RANGE,
    INTERACTION_IS_UNIQUE,
)
ITEM_RULES: tuple[str, ...] = (ITEMS_HAVE_REQUIRED_COLUMNS, ITEM_EXISTS_IN_ITEMS_TABLE, ITEM_ID_IS_UNIQUE, TITLE_NOT_EMPTY)
ITEM_COLUMNS: tuple[str, ...] = (ITEM_ID, TITLE)

TIMESTAMP_SECONDS = "timestamp_seconds"
ITEM_ID_IN_ITEMS_TABLE = "item_id_in_items_table"
INTEGER_PATTERN = r"^-?\d+$"
INTEGER_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def validate_raw_logs(
    raw: RawLogs,
    *,
    interactions_source: str,
    items_source: str,
    timestamp_min: int,
    timestamp_max: int,
    docs_dir: Path | None = None,
) -> dict:
    """Run the raw-logs suite; return a summary, or raise ``DataValidationError`` naming every broken rule."""
    return check_logs(
        raw.interactions,
        raw.items,
        interactions_source=interactions_source,
        items_source=items_source,
        timestamp_min=timestamp_min,
        timestamp_max=timestamp_max,
        docs_dir=docs_dir,
    )


def check_logs(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    *,
    interactions_source: str,
    items_source: str | None,
    timestamp_min: int,
    timestamp_max: int,
    docs_dir: Path | None = None,
) -> dict:
    """``validate_raw_logs`` for an interactions frame alone (``items=None`` skips the item rules)."""
    interactions = interactions.reset_index(drop=True)
    items = None if items is None else items.reset_index(drop=True)

    checked_items = None if items is None else _blank_to_null(items, ITEM_COLUMNS)
    known_items = None
    if checked_items is not None and ITEM_ID in checked_items.columns:
        known_items = checked_items[ITEM_ID].dropna().unique()
    checked, rules, skipped = _interaction_rules(interactions, known_items, items is not None, timestamp_min, timestamp_max)
    failures = run_suite(
        checked,
        rules,
        suite_name=INTERACTIONS_SUITE,
        source=interactions_source,
        display=interactions,
        row_numbering=text_source_numbering(interactions_source),
        docs_dir=docs_dir,
    )
    checked_rules = [rule.name for rule in rules]
    if items is not None:
        item_rules, item_skipped = _item_rules(checked_items)
        failures += run_suite(
            checked_items,
            item_rules,
            suite_name=ITEMS_SUITE,
            source=str(items_source),
            display=items,
            row_numbering=text_source_numbering(str(items_source)),
            docs_dir=docs_dir,
        )
        checked_rules += [rule.name for rule in item_rules]
        skipped += item_skipped
    if failures:
        raise DataValidationError(_in_rule_order(failures), sorted(skipped, key=_rule_order))
    return {
        "suite": "raw_logs",
        "rules_checked": len(checked_rules),
        "rules": sorted(checked_rules, key=_rule_order),
        "rows": len(interactions),
        "users": int(interactions[USER_ID].nunique()),
        "items": int(interactions[ITEM_ID].nunique()),
        "catalog_items": None if items is None else len(items),
    }


def _interaction_rules(
    interactions: pd.DataFrame, known_items, has_items: bool, timestamp_min: int, timestamp_max: int
) -> tuple[pd.DataFrame, list[Rule], list[str]]:
    """The checked frame and the rules that can run on it (and the names of those that cannot)."""
    E = expectations()
    present = [column for column in INTERACTION_COLUMNS if column in interactions.columns]
    checked = _blank_to_null(interactions[present], (USER_ID, ITEM_ID))
    show = tuple(INTERACTION_COLUMNS)
    rules = [
        Rule(
            INTERACTIONS_HAVE_REQUIRED_COLUMNS,
            tuple(E.ExpectColumnToExist(column=column) for column in INTERACTION_COLUMNS),
            show,
            "the interactions table has user_id, item_id and timestamp columns",
        )
    ]
    skipped: list[str] = []
    timestamp_rules: list[Rule] = []
    if TIMESTAMP in checked.columns:
        timestamp = interactions[TIMESTAMP]
        # numpy integer dtypes pass by dtype; GE 1.24 rejects pandas' nullable Int64 by dtype, so those
        # (and every other dtype) go through the text route, whose nulls the not-empty rule reports.
        if pd.api.types.is_integer_dtype(timestamp.dtype) and isinstance(timestamp.dtype, np.dtype):
            seconds_column = TIMESTAMP
            integer = E.ExpectColumnValuesToBeInTypeList(column=TIMESTAMP, type_list=INTEGER_DTYPES)
        else:
            text = timestamp.astype("str")  # missing values stay missing
            if pd.api.types.is_float_dtype(timestamp.dtype):  # Parquet floats: 978300760.0 is a whole second
                text = text.str.replace(r"\.0$", "", regex=True)
            checked[TIMESTAMP] = _blank_to_null_column(text)
            checked[TIMESTAMP_SECONDS] = pd.to_numeric(checked[TIMESTAMP], errors="coerce")
            seconds_column = TIMESTAMP_SECONDS
            integer = E.ExpectColumnValuesToMatchRegex(column=TIMESTAMP, regex=INTEGER_PATTERN)
        timestamp_rules = [
            Rule(TIMESTAMP_IS_INTEGER, (integer,), show, "timestamps are whole Unix seconds"),
            Rule(
                TIMESTAMP_IN_RANGE,
                (E.ExpectColumnValuesToBeBetween(column=seconds_column, min_value=timestamp_min, max_value=timestamp_max),),
                show,
                f"timestamps lie within [{timestamp_min}, {timestamp_max}] (data.timestamp_min/max)",
            ),
        ]
    else:
        skipped += [TIMESTAMP_IS_INTEGER, TIMESTAMP_IN_RANGE]
    if present:
        rules.append(
            Rule(
                IDS_AND_TIMESTAMP_NOT_EMPTY,
                tuple(E.ExpectColumnValuesToNotBeNull(column=column) for column in present),
                show,
                "no missing or blank user_id, item_id or timestamp",
            )
        )
    else:
        skipped.append(IDS_AND_TIMESTAMP_NOT_EMPTY)
    rules += timestamp_rules
    if len(present) == len(INTERACTION_COLUMNS):
        rules.append(
            Rule(
                INTERACTION_IS_UNIQUE,
                (E.ExpectCompoundColumnsToBeUnique(column_list=list(INTERACTION_COLUMNS)),),
                show,
                "no (user_id, item_id, timestamp) row appears twice",
            )
        )
    else:
        skipped.append(INTERACTION_IS_UNIQUE)
    if has_items:
        if known_items is not None and ITEM_ID in checked.columns:
            known = checked[ITEM_ID].isin(known_items).astype("boolean").mask(checked[ITEM_ID].isna())
            checked[ITEM_ID_IN_ITEMS_TABLE] = known
            rules.append(
                Rule(
                    ITEM_EXISTS_IN_ITEMS_TABLE,
                    (E.ExpectColumnValuesToBeInSet(column=ITEM_ID_IN_ITEMS_TABLE, value_set=[True]),),
                    show,
                    "every interacted item_id has a row in the items table",
                )
            )
        else:
            skipped.append(ITEM_EXISTS_IN_ITEMS_TABLE)
    return checked, rules, skipped


def _item_rules(checked_items: pd.DataFrame) -> tuple[list[Rule], list[str]]:
    E = expectations()
    show = ITEM_COLUMNS
    rules = [
        Rule(
            ITEMS_HAVE_REQUIRED_COLUMNS,
            tuple(E.ExpectColumnToExist(column=column) for column in ITEM_COLUMNS),
            show,
            "the items table has item_id and title columns",
        )
    ]
    skipped: list[str] = []
    if ITEM_ID in checked_items.columns:
        rules.append(Rule(ITEM_ID_IS_UNIQUE, (E.ExpectColumnValuesToBeUnique(column=ITEM_ID),), show, "each item_id appears once"))
    else:
        skipped.append(ITEM_ID_IS_UNIQUE)
    if TITLE in checked_items.columns:
        rules.append(Rule(TITLE_NOT_EMPTY, (E.ExpectColumnValuesToNotBeNull(column=TITLE),), show, "every item has a title"))
    else:
        skipped.append(TITLE_NOT_EMPTY)
    return rules, skipped


def _blank_to_null(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """A copy where blank strings in ``columns`` are nulls, so one not-null expectation covers both."""
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = _blank_to_null_column(frame[column])
    return frame


def _blank_to_null_column(values: pd.Series) -> pd.Series:
    if values.dtype == object:
        blank = values.map(lambda value: isinstance(value, str) and not value.strip())
    elif pd.api.types.is_string_dtype(values.dtype):
        blank = values.str.strip().eq("")
    else:
        return values
    return values.mask(blank.fillna(False).astype(bool))


_ORDER = {name: position for position, name in enumerate(INTERACTION_RULES[:1] + ITEM_RULES[:1] + INTERACTION_RULES[1:] + ITEM_RULES[1:])}


def _rule_order(name: str) -> int:
    return _ORDER.get(name, len(_ORDER))


def _in_rule_order(failures: list[RuleFailure]) -> list[RuleFailure]:
    return sorted(failures, key=lambda failure: _rule_order(failure.rule))
