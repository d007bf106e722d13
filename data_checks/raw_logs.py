"""Great Expectations suite for raw logs (stage ``raw_logs``), before any type coercion.

Works on frames read as text (user CSV: every column a string) and on typed frames (the MovieLens
loader: int64 timestamps; Parquet: float timestamps). Each rule below is one or more GE expectations
over a checked frame: the user's columns with blank strings turned into nulls, plus derived columns
where a rule needs them (``timestamp_seconds``: whole-second timestamps as numbers;
``timestamp_unit``; ``<id>_fits_int64``; ``item_id_in_items_table``).

Rules (names as users see them in errors), in report order:
- ``interactions_have_required_columns``: user_id, item_id, timestamp;
- ``items_have_required_columns``: item_id, title;
- ``interactions_have_rows``: at least one event (a header-only file is an error, not "0 rows OK");
- ``ids_and_timestamp_not_empty``: no null or blank user_id, item_id, timestamp (a NaN timestamp in
  Parquet is a missing one);
- ``numeric_ids_fit_int64``: an id written as an integer lies within int64 (ids are kept as strings,
  but one beyond int64 is a corrupted or concatenated field that no integer key can hold);
- ``timestamp_is_integer``: text matching ``^-?\\d+$`` (floats: a whole number; so ``inf`` fails here), or an
  integer dtype;
- ``timestamp_in_seconds``: not milliseconds, microseconds or nanoseconds, i.e. not a value after now
  whose 1000th (10^6th, 10^9th) part is a date between 1990-01-01 (or timestamp_min) and now;
- ``timestamp_in_range``: within [timestamp_min, timestamp_max] (``data.timestamp_min/max``; default
  1990-01-01 … 2100-01-01, so 0, negatives and 1980s dates fail);
- ``timestamp_not_in_future``: not after the validation time (plus one day of clock slack);
- ``interaction_is_unique``: no repeated (user_id, item_id, timestamp) row;
- ``item_exists_in_items_table``: every interacted item_id is in the items table;
- ``item_id_is_unique``: item_id unique in the items table;
- ``title_not_empty``: every item has a title;
- ``some_user_has_min_interactions`` (suite ``raw_logs.users``, data-set level): at least one user has
  ``min_user_interactions`` events (default 3, the fewest leave-one-out can split and the lower bound
  of ``sequences.min_user_interactions``), so the file can yield any sequence at all.
Each timestamp is reported by one rule only: non-integers by ``timestamp_is_integer``, unit mistakes by
``timestamp_in_seconds``, the rest by ``timestamp_in_range``, then ``timestamp_not_in_future``.

A rule whose columns are missing is not run (the required-columns rule already failed) and is named
as not checked. The data-set-level rule runs only when every interactions rule passed (a count of
events per user over broken rows would mislead); otherwise it is named as pending.

Extra columns are allowed: interaction columns other than user_id, item_id, timestamp (a rating, a
session id) are ignored and dropped by stage ``raw_logs``; item columns other than item_id and title
are kept as text features for ``item_embeddings.template``. A misspelt required column still fails
``*_have_required_columns``, whose message lists the columns found. ``check_table`` returns the
ignored interaction columns as ``extra_columns``; ``hymirec validate`` prints them.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from data_checks.errors import MAX_SAMPLE_ROWS, DataValidationError, RuleFailure
from data_checks.runner import Batch, Rule, expectations, run_suite, run_suite_in_batches, sample_row, text_source_numbering
from data_checks.tables import EngineTable, FrameTable
from hymirec.config import DataConfig
from hymirec.data.files import read_table
from hymirec.data.schema import INTERACTION_COLUMNS, ITEM_ID, TIMESTAMP, TITLE, USER_ID, RawLogs
from hymirec.data.streaming import SOURCE_ROW, EngineSettings, as_written, connect

INTERACTIONS_SUITE = "raw_logs.interactions"
ITEMS_SUITE = "raw_logs.items"
USERS_SUITE = "raw_logs.users"

INTERACTIONS_HAVE_REQUIRED_COLUMNS = "interactions_have_required_columns"
ITEMS_HAVE_REQUIRED_COLUMNS = "items_have_required_columns"
INTERACTIONS_HAVE_ROWS = "interactions_have_rows"
IDS_AND_TIMESTAMP_NOT_EMPTY = "ids_and_timestamp_not_empty"
NUMERIC_IDS_FIT_INT64 = "numeric_ids_fit_int64"
TIMESTAMP_IS_INTEGER = "timestamp_is_integer"
TIMESTAMP_IN_SECONDS = "timestamp_in_seconds"
TIMESTAMP_IN_RANGE = "timestamp_in_range"
TIMESTAMP_NOT_IN_FUTURE = "timestamp_not_in_future"
INTERACTION_IS_UNIQUE = "interaction_is_unique"
ITEM_EXISTS_IN_ITEMS_TABLE = "item_exists_in_items_table"
ITEM_ID_IS_UNIQUE = "item_id_is_unique"
TITLE_NOT_EMPTY = "title_not_empty"
SOME_USER_HAS_MIN_INTERACTIONS = "some_user_has_min_interactions"

INTERACTION_RULES: tuple[str, ...] = (
    INTERACTIONS_HAVE_REQUIRED_COLUMNS,
    INTERACTIONS_HAVE_ROWS,
    IDS_AND_TIMESTAMP_NOT_EMPTY,
    NUMERIC_IDS_FIT_INT64,
    TIMESTAMP_IS_INTEGER,
    TIMESTAMP_IN_SECONDS,
    TIMESTAMP_IN_RANGE,
    TIMESTAMP_NOT_IN_FUTURE,
    INTERACTION_IS_UNIQUE,
)
ITEM_RULES: tuple[str, ...] = (ITEMS_HAVE_REQUIRED_COLUMNS, ITEM_EXISTS_IN_ITEMS_TABLE, ITEM_ID_IS_UNIQUE, TITLE_NOT_EMPTY)
DATA_SET_RULES: tuple[str, ...] = (SOME_USER_HAS_MIN_INTERACTIONS,)
ITEM_COLUMNS: tuple[str, ...] = (ITEM_ID, TITLE)

TIMESTAMP_SECONDS = "timestamp_seconds"
TIMESTAMP_UNIT = "timestamp_unit"
TIMESTAMP_IF_IN_RANGE = "timestamp_if_in_range"
ITEM_ID_IN_ITEMS_TABLE = "item_id_in_items_table"
INTERACTION_REPEATED = "interaction_repeated"
USER_EVENTS = "user_events"
INTEGER_PATTERN = r"^-?\d+$"
INTEGER_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]

MIN_EVENTS_FOR_SPLIT = 3  # leave-one-out: train, validation, test; SequencesConfig.min_user_interactions >= 3
EARLIEST_PLAUSIBLE_TIMESTAMP: int = DataConfig.model_fields["timestamp_min"].default  # 1990-01-01
FUTURE_SLACK_SECONDS = 86_400  # clocks and time zones: a log written today may hold "tomorrow"
SUB_SECOND_UNITS: tuple[tuple[str, int], ...] = (("milliseconds", 10**3), ("microseconds", 10**6), ("nanoseconds", 10**9))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclasses.dataclass(frozen=True)
class RawLogRules:
    """What the raw-logs rules check against: the plausible timestamps (``data.timestamp_min/max``) and
    the events some user must have (``some_user_has_min_interactions``; the inbox asks for 1, since a
    dropped file's users continue histories already in the log)."""

    timestamp_min: int
    timestamp_max: int
    min_user_interactions: int = MIN_EVENTS_FOR_SPLIT

    @classmethod
    def of(cls, data: DataConfig, **changes) -> RawLogRules:
        return cls(timestamp_min=data.timestamp_min, timestamp_max=data.timestamp_max, **changes)


def validate_raw_log_files(
    interactions: Path, items: Path, rules: RawLogRules, *, docs_dir: Path | None = None, settings: EngineSettings = EngineSettings()
) -> dict:
    """The suite on stored files, the interactions read by DuckDB a batch at a time (as stage raw_logs
    checks them): what the Dagster check re-runs on data/raw without holding the log in pandas."""
    for path in (interactions, items):
        if not Path(path).is_file():
            raise FileNotFoundError(path)
    with connect(settings) as (connection, staging):
        table = EngineTable(connection, as_written(connection, interactions, staging), SOURCE_ROW)
        return check_table(table, read_table(items), str(interactions), str(items), rules, docs_dir=docs_dir)


def check_logs(
    interactions: pd.DataFrame, items: pd.DataFrame | None, interactions_source: str, items_source: str | None,
    rules: RawLogRules, *, docs_dir: Path | None = None,
) -> dict:
    """The suite on an interactions frame and its item catalog (``items=None`` skips the item rules)."""
    return check_table(FrameTable(interactions), items, interactions_source, items_source, rules, docs_dir=docs_dir)


def check_table(
    table: FrameTable | EngineTable, items: pd.DataFrame | None, interactions_source: str, items_source: str | None,
    rules: RawLogRules, *, docs_dir: Path | None = None,
) -> dict:
    """Run the raw-logs suite on a table read batch by batch (``data_checks.tables``); return a summary, or
    raise ``DataValidationError`` naming every broken rule. The interaction rules run on one batch at a
    time, with the same names, counts and sample rows as on the whole table at once."""
    items = None if items is None else items.reset_index(drop=True)
    now = int(time.time())  # the limit of timestamp_not_in_future
    numbering = text_source_numbering(interactions_source)

    checked_items = None if items is None else _blank_to_null(items, ITEM_COLUMNS)
    known_items = None
    if checked_items is not None and ITEM_ID in checked_items.columns:
        known_items = checked_items[ITEM_ID].dropna().unique()
    units: Counter[str] = Counter()
    found: dict[str, list] = {"rules": [], "skipped": [], "explanations": []}

    def batches() -> Iterator[tuple[Batch, list[Rule]]]:
        for batch in table.batches():
            checked, batch_rules, skipped, explanations, unit = _interaction_rules(
                batch.display, batch.repeated, known_items, items is not None, rules.timestamp_min, rules.timestamp_max, now
            )
            units.update(unit[(unit != "seconds") & (unit != None)].tolist())  # noqa: E711 — elementwise on an object array
            found.update(rules=batch_rules, skipped=skipped, explanations=explanations)
            yield Batch(checked, batch.display, rows=batch.rows), batch_rules

    failures = run_suite_in_batches(
        batches(),
        suite_name=INTERACTIONS_SUITE,
        source=interactions_source,
        row_numbering=numbering,
        source_columns=table.columns,
        docs_dir=docs_dir,
    )
    interaction_rules, skipped, explanations = found["rules"], list(found["skipped"]), dict(found["explanations"])
    if TIMESTAMP in table.columns:  # the sub-second unit most values look like (ties: the first by name)
        unit_found = min(units, key=lambda unit: (-units[unit], unit)) if units else None
        explanations[TIMESTAMP_IN_SECONDS] = (
            f"these look like {unit_found or 'milliseconds'} (divided down they are dates between "
            f"{_date(max(rules.timestamp_min, EARLIEST_PLAUSIBLE_TIMESTAMP))} and now); write whole Unix seconds"
        )
    failures = [_explained(failure, explanations) for failure in failures]
    checked_rules = [rule.name for rule in interaction_rules]
    pending: list[str] = []
    if USER_ID not in table.columns:
        skipped.append(SOME_USER_HAS_MIN_INTERACTIONS)
    elif failures:
        pending.append(SOME_USER_HAS_MIN_INTERACTIONS)
    else:
        failures += _check_users(table, interactions_source, numbering, rules.min_user_interactions, docs_dir)
        checked_rules.append(SOME_USER_HAS_MIN_INTERACTIONS)
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
        raise DataValidationError(_in_rule_order(failures), sorted(skipped, key=_rule_order), pending)
    return {
        "suite": "raw_logs",
        "rules_checked": len(checked_rules),
        "rules": sorted(checked_rules, key=_rule_order),
        "rows": table.rows,
        "users": table.distinct(USER_ID),
        "items": table.distinct(ITEM_ID),
        "catalog_items": None if items is None else len(items),
        "extra_columns": [column for column in table.columns if column not in INTERACTION_COLUMNS],
    }


def _interaction_rules(
    interactions: pd.DataFrame, repeated: pd.Series, known_items, has_items: bool, timestamp_min: int, timestamp_max: int, now: int
) -> tuple[pd.DataFrame, list[Rule], list[str], dict[str, str], np.ndarray]:
    """The checked frame of one batch, the rules that can run on it, the names of those that cannot, what to
    add to a rule's message (rule -> explanation), and each row's timestamp unit.

    ``repeated`` flags the rows whose (user_id, item_id, timestamp) occurs more than once in the whole table."""
    E = expectations()
    present = [column for column in INTERACTION_COLUMNS if column in interactions.columns]
    checked = _blank_to_null(interactions[present], (USER_ID, ITEM_ID))
    show = tuple(INTERACTION_COLUMNS)
    explanations = {INTERACTIONS_HAVE_ROWS: "the interactions table has a header but no events"}
    rules = [
        Rule(
            INTERACTIONS_HAVE_REQUIRED_COLUMNS,
            tuple(E.ExpectColumnToExist(column=column) for column in INTERACTION_COLUMNS),
            show,
            "the interactions table has user_id, item_id and timestamp columns",
        ),
        Rule(INTERACTIONS_HAVE_ROWS, (E.ExpectTableRowCountToBeBetween(min_value=1),), (), "the interactions table has at least one event"),
    ]
    skipped: list[str] = []
    timestamp_rules: list[Rule] = []
    if TIMESTAMP in checked.columns:
        timestamp = interactions[TIMESTAMP]
        # numpy integer dtypes pass by dtype; GE 1.24 rejects pandas' nullable Int64 by dtype, so those
        # (and every other dtype) go through the text route, whose nulls the not-empty rule reports.
        if pd.api.types.is_integer_dtype(timestamp.dtype) and isinstance(timestamp.dtype, np.dtype):
            seconds = timestamp.to_numpy(dtype="float64")
            integer = E.ExpectColumnValuesToBeInTypeList(column=TIMESTAMP, type_list=INTEGER_DTYPES)
        else:
            text = timestamp.astype("str")  # missing values stay missing
            if pd.api.types.is_float_dtype(timestamp.dtype):  # Parquet floats: 978300760.0 is a whole second
                text = text.str.replace(r"\.0$", "", regex=True)
            checked[TIMESTAMP] = _blank_to_null_column(text)
            whole = checked[TIMESTAMP].str.fullmatch(INTEGER_PATTERN).fillna(False).astype(bool)
            seconds = pd.to_numeric(checked[TIMESTAMP].where(whole), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            integer = E.ExpectColumnValuesToMatchRegex(column=TIMESTAMP, regex=INTEGER_PATTERN)
        unit = _timestamp_units(seconds, max(timestamp_min, EARLIEST_PLAUSIBLE_TIMESTAMP), now + FUTURE_SLACK_SECONDS)
        in_seconds = unit == "seconds"
        in_range = in_seconds & (seconds >= timestamp_min) & (seconds <= timestamp_max)
        checked[TIMESTAMP_UNIT] = pd.Series(unit, index=checked.index, dtype=object)
        checked[TIMESTAMP_SECONDS] = np.where(in_seconds, seconds, np.nan)
        checked[TIMESTAMP_IF_IN_RANGE] = np.where(in_range, seconds, np.nan)
        latest = now + FUTURE_SLACK_SECONDS
        explanations[TIMESTAMP_NOT_IN_FUTURE] = f"after the validation time {_date(now, seconds_precision=True)} plus one day"
        timestamp_rules = [
            Rule(TIMESTAMP_IS_INTEGER, (integer,), show, "timestamps are whole Unix seconds"),
            Rule(
                TIMESTAMP_IN_SECONDS,
                (E.ExpectColumnValuesToBeInSet(column=TIMESTAMP_UNIT, value_set=["seconds"]),),
                show,
                "timestamps are seconds, not milliseconds, microseconds or nanoseconds",
            ),
            Rule(
                TIMESTAMP_IN_RANGE,
                (E.ExpectColumnValuesToBeBetween(column=TIMESTAMP_SECONDS, min_value=timestamp_min, max_value=timestamp_max),),
                show,
                f"timestamps lie within [{timestamp_min}, {timestamp_max}] (data.timestamp_min/max)",
            ),
            Rule(
                TIMESTAMP_NOT_IN_FUTURE,
                (E.ExpectColumnValuesToBeBetween(column=TIMESTAMP_IF_IN_RANGE, max_value=latest),),
                show,
                "no timestamp lies after the validation time (plus one day of clock slack)",
            ),
        ]
    else:
        unit = np.full(len(interactions), None, dtype=object)
        skipped += [TIMESTAMP_IS_INTEGER, TIMESTAMP_IN_SECONDS, TIMESTAMP_IN_RANGE, TIMESTAMP_NOT_IN_FUTURE]
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
    id_columns = [column for column in (USER_ID, ITEM_ID) if column in checked.columns]
    if id_columns:
        for column in id_columns:
            checked[f"{column}_fits_int64"] = _fits_int64(checked[column])
        rules.append(
            Rule(
                NUMERIC_IDS_FIT_INT64,
                tuple(E.ExpectColumnValuesToBeInSet(column=f"{column}_fits_int64", value_set=[True]) for column in id_columns),
                show,
                "an id written as an integer lies within int64",
            )
        )
        explanations[NUMERIC_IDS_FIT_INT64] = f"an id written as an integer must lie within int64 [{INT64_MIN}, {INT64_MAX}]"
    else:
        skipped.append(NUMERIC_IDS_FIT_INT64)
    rules += timestamp_rules
    if len(present) == len(INTERACTION_COLUMNS):
        # whether a row's event occurs again anywhere in the table: the table's answer, as a batch cannot see the others
        checked[INTERACTION_REPEATED] = repeated.to_numpy(dtype=object)
        rules.append(
            Rule(
                INTERACTION_IS_UNIQUE,
                (E.ExpectColumnValuesToBeInSet(column=INTERACTION_REPEATED, value_set=[False]),),
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
    return checked, rules, skipped, explanations, unit


def _timestamp_units(seconds: np.ndarray, earliest: int, latest: int) -> np.ndarray:
    """Per row: "seconds", or the sub-second unit a value is written in (None where missing).

    A value is in a sub-second unit when it lies after ``latest`` and its 1000th (10^6th, 10^9th) part
    is a date within [earliest, latest]; no plausible date in seconds is that large.
    """
    unit = np.where(np.isnan(seconds), None, "seconds").astype(object)
    if earliest <= latest:
        with np.errstate(invalid="ignore"):
            for name, factor in SUB_SECOND_UNITS:
                scaled = seconds / factor
                unit[(seconds > latest) & (scaled >= earliest) & (scaled <= latest) & (unit == "seconds")] = name
    return unit


def _fits_int64(ids: pd.Series) -> pd.Series:
    """True where an id is not an integer or is one within int64; None where the id is missing."""
    result = pd.Series(None, index=ids.index, dtype=object)
    present = ids.notna().to_numpy()
    result[present] = True
    text = ids[present].astype(str)
    text = text[text.str.len() >= 19].str.strip()  # int64 needs 19 digits to overflow; skip the short ids
    numeric = text[text.str.fullmatch(r"[+-]?\d+").fillna(False).astype(bool)]
    if len(numeric):
        fits = {value: INT64_MIN <= int(value) <= INT64_MAX for value in pd.unique(numeric)}
        result[numeric.index] = numeric.map(fits).astype(object)
    return result


def _check_users(
    table: FrameTable | EngineTable, source: str, numbering, min_events: int, docs_dir: Path | None
) -> list[RuleFailure]:
    """Suite ``raw_logs.users``: some user has ``min_events`` events. A failure shows the busiest user's rows."""
    E = expectations()
    events = table.user_events()  # one row per user
    rule = Rule(
        SOME_USER_HAS_MIN_INTERACTIONS,
        (E.ExpectColumnMaxToBeBetween(column=USER_EVENTS, min_value=min_events),),
        tuple(INTERACTION_COLUMNS),
        f"at least one user has {min_events} events (what leave-one-out needs: train, validation, test)",
    )
    frame = pd.DataFrame({USER_EVENTS: events.to_numpy(dtype="int64")})
    failures = run_suite(
        frame, [rule], suite_name=USERS_SUITE, source=source, display=frame, row_numbering=numbering, docs_dir=docs_dir
    )
    if not failures:
        return []
    most = int(events.max())
    busiest = events.index[int(np.argmax(events.to_numpy()))]  # the first user (by first row) with the most
    rows = table.user_rows(busiest, MAX_SAMPLE_ROWS)
    shown = [column for column in INTERACTION_COLUMNS if column in table.columns]
    (failure,) = failures
    return [
        dataclasses.replace(
            failure,
            detail=(
                f"no user has {min_events} events (the most, {most}, belong to user_id={busiest!r}); every user would be "
                f"dropped by the filter sequences.min_user_interactions (>= {MIN_EVENTS_FOR_SPLIT}), leaving nothing to train on"
            ),
            sample_rows=tuple(
                sample_row(rows.display, index, shown, numbering, row=int(row)) for index, row in enumerate(rows.rows)
            ),
            unexpected_count=len(events),
        )
    ]


def _explained(failure: RuleFailure, explanations: dict[str, str]) -> RuleFailure:
    extra = explanations.get(failure.rule)
    if not extra:
        return failure
    return dataclasses.replace(failure, detail=f"{failure.detail}; {extra}" if failure.detail else extra)


def _date(seconds: int, *, seconds_precision: bool = False) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if seconds_precision else moment.strftime("%Y-%m-%d")


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


_ORDER = {
    name: position
    for position, name in enumerate(INTERACTION_RULES[:1] + ITEM_RULES[:1] + INTERACTION_RULES[1:] + ITEM_RULES[1:] + DATA_SET_RULES)
}


def _rule_order(name: str) -> int:
    return _ORDER.get(name, len(_ORDER))


def _in_rule_order(failures: list[RuleFailure]) -> list[RuleFailure]:
    return sorted(failures, key=lambda failure: _rule_order(failure.rule))
