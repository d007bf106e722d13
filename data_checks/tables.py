"""The interactions table a raw-logs suite reads: a pandas frame, or a DuckDB relation read in batches.

The suite (``data_checks.raw_logs``) asks a table for the few things a rule needs across rows, and for
its rows batch by batch:

- ``batches()``: the rows as the user wrote them (the display frame), with each row's 0-based number
  in the whole table and whether its (user_id, item_id, timestamp) occurs more than once in the whole
  table (rule ``interaction_is_unique``; None where all three are missing);
- ``user_events()``: events per user_id (rule ``some_user_has_min_interactions``), and the first rows
  of one user (the rows that rule's failure shows);
- ``rows``, ``distinct(column)``: the suite's summary.

``FrameTable`` holds a frame in memory (``hymirec validate`` on a user's files, an inbox file, the
Dagster check on data/raw); it is one batch. ``EngineTable`` reads a DuckDB view: only one batch of
rows is in pandas at a time, and the counts across rows are DuckDB queries (stage ``raw_logs``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hymirec.data.schema import INTERACTION_COLUMNS, USER_ID

BATCH_ROWS = 1_000_000  # rows in pandas at once: GE on 10^6 rows of three columns took ~0.3 GiB
ROW = "__row"
REPEATED = "__repeated"


@dataclass(frozen=True)
class TableBatch:
    """Rows of the table as the user wrote them (RangeIndex), each row's number in the table, and the
    repeated-event flag of each row (object: True, False, or None when the key is all missing)."""

    display: pd.DataFrame
    rows: np.ndarray
    repeated: pd.Series


class FrameTable:
    """A table held as one pandas frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        self.columns = [str(column) for column in self.frame.columns]
        self.rows = len(self.frame)

    def batches(self) -> Iterator[TableBatch]:
        yield TableBatch(self.frame, np.arange(self.rows), _repeated(self.frame))

    def distinct(self, column: str) -> int:
        return int(self.frame[column].nunique())

    def user_events(self) -> pd.Series:
        """Events per user_id, users in order of their first row."""
        return self.frame[USER_ID].value_counts(sort=False)

    def user_rows(self, user, limit: int) -> TableBatch:
        rows = np.flatnonzero((self.frame[USER_ID] == user).to_numpy())[:limit]
        return TableBatch(self.frame.iloc[rows].reset_index(drop=True), rows, pd.Series(dtype=object))


class EngineTable:
    """A DuckDB view read ``batch_rows`` rows at a time; ``row_column`` numbers its rows 0, 1, … in file order."""

    def __init__(self, connection, view: str, row_column: str, batch_rows: int = BATCH_ROWS) -> None:
        self.connection, self.view, self.row_column, self.batch_rows = connection, view, row_column, batch_rows
        self.columns = [name for name, *_ in connection.execute(f"DESCRIBE SELECT * FROM {view}").fetchall() if name != row_column]
        ((self.rows,),) = connection.execute(f"SELECT count(*) FROM {view}").fetchall()

    def batches(self) -> Iterator[TableBatch]:
        key = [f'"{column}"' for column in INTERACTION_COLUMNS if column in self.columns]
        if len(key) == len(INTERACTION_COLUMNS):
            # the keys seen more than once in the whole table (usually none), then each row flagged against them
            normal = ", ".join(f"{_blank_to_null(column)} AS {column}" for column in key)
            self.connection.execute(
                f"""CREATE OR REPLACE TEMP TABLE repeated_keys AS
                    SELECT {", ".join(key)} FROM (SELECT {normal} FROM {self.view})
                    WHERE NOT ({" AND ".join(f"{column} IS NULL" for column in key)})
                    GROUP BY ALL HAVING count(*) > 1"""
            )
            self.connection.execute("ALTER TABLE repeated_keys ADD COLUMN hit BOOLEAN DEFAULT true")
            on = " AND ".join(f"{_blank_to_null('s.' + column)} IS NOT DISTINCT FROM r.{column}" for column in key)
            missing = " AND ".join(f"{_blank_to_null('s.' + column)} IS NULL" for column in key)
            flag = f"CASE WHEN {missing} THEN NULL ELSE coalesce(r.hit, false) END"
            query = f"SELECT s.*, {flag} AS {REPEATED} FROM {self.view} AS s LEFT JOIN repeated_keys AS r ON {on}"
        else:
            query = f"SELECT *, NULL AS {REPEATED} FROM {self.view}"
        reader = self.connection.sql(query).to_arrow_reader(self.batch_rows)
        empty = True
        for record_batch in reader:
            frame = record_batch.to_pandas().sort_values(self.row_column, kind="stable").reset_index(drop=True)
            empty = False
            yield _engine_batch(frame, self.row_column)
        if empty:  # a header-only file is one empty batch, so the row-count rule sees 0 rows
            frame = self.connection.execute(f"{query} LIMIT 0").df()
            yield _engine_batch(frame, self.row_column)

    def distinct(self, column: str) -> int:
        ((count,),) = self.connection.execute(f'SELECT count(DISTINCT "{column}") FROM {self.view}').fetchall()
        return int(count)

    def user_events(self) -> pd.Series:
        """Events per user_id, users in order of their first row."""
        frame = self.connection.execute(
            f"SELECT {USER_ID}, count(*) AS events FROM {self.view} GROUP BY {USER_ID} ORDER BY min({self.row_column})"
        ).df()
        return pd.Series(frame["events"].to_numpy(), index=frame[USER_ID].to_numpy())

    def user_rows(self, user, limit: int) -> TableBatch:
        frame = self.connection.execute(
            f"SELECT *, NULL AS {REPEATED} FROM {self.view} WHERE {USER_ID} = ? ORDER BY {self.row_column} LIMIT {int(limit)}", [user]
        ).df()
        return _engine_batch(frame, self.row_column)


def _engine_batch(frame: pd.DataFrame, row_column: str) -> TableBatch:
    repeated = frame.pop(REPEATED).map(lambda value: None if pd.isna(value) else bool(value)).astype(object)
    rows = frame.pop(row_column).to_numpy(dtype=np.int64)
    return TableBatch(frame, rows, repeated)


def _blank_to_null(column: str) -> str:
    """A text column's blank values as NULL (as the suite's checked frame holds them); other types as they are."""
    return f"CASE WHEN typeof({column}) = 'VARCHAR' AND regexp_full_match(CAST({column} AS VARCHAR), '\\s*') THEN NULL ELSE {column} END"


def _repeated(frame: pd.DataFrame) -> pd.Series:
    """Per row: its (user_id, item_id, timestamp) occurs more than once in ``frame`` (None where all three are missing)."""
    if not set(INTERACTION_COLUMNS) <= set(frame.columns):
        return pd.Series(None, index=frame.index, dtype=object)
    key = frame[list(INTERACTION_COLUMNS)]
    key = key.apply(lambda column: column.mask(column.map(lambda value: isinstance(value, str) and not value.strip())))
    repeated = key.duplicated(keep=False).astype(object)
    repeated[key.isna().all(axis=1)] = None
    return repeated
