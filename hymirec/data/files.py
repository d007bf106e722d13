"""User-supplied logs: an interactions file and an items file, CSV or Parquet.

interactions: user_id, item_id, timestamp (integer Unix seconds); extra columns are ignored.
items: item_id, title, and optional text columns (all kept, as strings).
Columns are checked by the raw-logs Great Expectations suite, which names the file and rule that fail.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hymirec.data.schema import ITEM_ID, TIMESTAMP, USER_ID, RawLogs


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV or Parquet by extension; ids are kept as strings so "007" stays "007"."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
        return frame.astype({column: str for column in (USER_ID, ITEM_ID) if column in frame.columns})
    if path.suffix.lower() in {".csv", ".tsv"}:
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str, keep_default_na=False)
    raise ValueError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .tsv or .parquet)")


def coerce_types(raw: RawLogs) -> RawLogs:
    """Cast validated columns to the schema's types (timestamps to exact int64)."""
    interactions = raw.interactions[[USER_ID, ITEM_ID, TIMESTAMP]].astype({USER_ID: str, ITEM_ID: str})
    interactions[TIMESTAMP] = pd.to_numeric(interactions[TIMESTAMP]).astype("int64")
    items = raw.items.astype(str)
    return RawLogs(interactions=interactions.reset_index(drop=True), items=items.reset_index(drop=True))
