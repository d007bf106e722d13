"""The tables the suites read: a pandas frame, or a DuckDB relation read in batches.

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

The sequences suite (``data_checks.sequences``) reads a sequences table (one row per user) the same way:
``SequenceFrameTable`` holds a frame (the Dagster check, tests), ``SequenceEngineTable`` reads one Parquet
file ``SEQUENCE_BATCH_USERS`` users at a time (stage ``validated_sequences``). Every fact of its rules lies
within one user's row except one: whether a user_idx occurs in another row, which ``batches()`` flags per
row (from a DuckDB query over the whole file for the engine table).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hymirec.data.schema import INTERACTION_COLUMNS, USER_ID
from hymirec.data.sequences import USER_IDX

BATCH_ROWS = 1_000_000  # rows in pandas at once: GE on 10^6 rows of three columns took ~0.3 GiB
SEQUENCE_BATCH_USERS = 20_000  # users in pandas at once: ~3.4·10^6 events at the synthetic logs' ~170 per user
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


@dataclass(frozen=True)
class SequenceBatch:
    """Rows of a sequences table as stored (RangeIndex), each row's 0-based number in the table, and whether each
    row's user_idx occurs in another row of the whole table (object: True, False, or None where user_idx is
    missing or the column is absent)."""

    frame: pd.DataFrame
    rows: np.ndarray
    user_idx_repeated: pd.Series


class SequenceFrameTable:
    """A sequences table held as one pandas frame: one batch."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        self.columns = [str(column) for column in self.frame.columns]
        self.rows = len(self.frame)

    def batches(self) -> Iterator[SequenceBatch]:
        user_idx = self.frame.get(USER_IDX)
        repeated = None if user_idx is None else user_idx[user_idx.duplicated(keep=False)]
        yield SequenceBatch(self.frame, np.arange(self.rows), _repeated_in(self.frame, repeated))


class SequenceEngineTable:
    """One sequences Parquet file read by DuckDB ``batch_users`` rows (users) at a time."""

    def __init__(self, connection, path, batch_users: int = SEQUENCE_BATCH_USERS) -> None:
        self.connection, self.batch_users = connection, batch_users
        self.reader = "read_parquet('" + str(path).replace("'", "''") + "', file_row_number = true)"
        self.columns = [name for name, *_ in connection.execute(f"DESCRIBE SELECT * FROM {self.reader}").fetchall() if name != "file_row_number"]
        ((self.rows,),) = connection.execute(f"SELECT count(*) FROM {self.reader}").fetchall()

    def batches(self) -> Iterator[SequenceBatch]:
        repeated = None
        if USER_IDX in self.columns:  # the user_idx values found in more than one row of the whole file (usually none)
            repeated = self.connection.execute(
                f'SELECT "{USER_IDX}" FROM {self.reader} WHERE "{USER_IDX}" IS NOT NULL GROUP BY ALL HAVING count(*) > 1'
            ).df()[USER_IDX]
        reader = self.connection.sql(f"SELECT * FROM {self.reader}").to_arrow_reader(self.batch_users)
        empty = True
        for record_batch in reader:
            empty = False
            yield self._batch(record_batch.to_pandas().sort_values("file_row_number", kind="stable").reset_index(drop=True), repeated)
        if empty:  # no users: one empty batch, so the row-count rule sees 0 rows
            yield self._batch(self.connection.execute(f"SELECT * FROM {self.reader} LIMIT 0").df(), repeated)

    @staticmethod
    def _batch(frame: pd.DataFrame, repeated: pd.Series | None) -> SequenceBatch:
        rows = frame.pop("file_row_number").to_numpy(dtype=np.int64)
        return SequenceBatch(frame, rows, _repeated_in(frame, repeated))


def _repeated_in(frame: pd.DataFrame, repeated: pd.Series | None) -> pd.Series:
    """Per row: its user_idx is one of ``repeated`` (None where user_idx is missing or absent)."""
    if USER_IDX not in frame.columns or repeated is None:
        return pd.Series(None, index=frame.index, dtype=object)
    user_idx = frame[USER_IDX]
    flag = user_idx.isin(repeated.dropna().tolist()).astype(object)
    flag[user_idx.isna().to_numpy()] = None
    return flag
