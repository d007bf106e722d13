"""``hymirec validate``: check a user's interaction (and item) files before they enter the pipeline.

Files are read exactly as stage ``raw_logs`` reads them (``hymirec.data.files.read_table``: CSV, TSV
or Parquet, ids as strings) and run through the raw-logs suite with the default timestamp bounds of
``DataConfig``. Anything wrong, including a file that cannot be read at all, becomes a
``DataValidationError`` naming the file and the rule, so the command never ends in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_checks.errors import DataValidationError, RuleFailure
from data_checks.raw_logs import check_logs
from hymirec.config import DataConfig
from hymirec.data.files import read_table

FILE_IS_READABLE = "file_is_readable"


def validate_user_files(interactions_path: Path, items_path: Path | None) -> str:
    """Validate the files; return a one-line summary, or raise ``DataValidationError``.

    The summary reads ``OK: <interactions file>: N rows, M users, K items; R rules passed``
    (K counts the distinct items interacted with).

    Without an items file, the rules that need the items table are skipped; the interactions
    rules still run.
    """
    interactions_path = Path(interactions_path)
    items_path = None if items_path is None else Path(items_path)
    interactions, items = read_user_files(interactions_path, items_path)
    bounds = DataConfig()
    summary = check_logs(
        interactions,
        items,
        interactions_source=str(interactions_path),
        items_source=None if items_path is None else str(items_path),
        timestamp_min=bounds.timestamp_min,
        timestamp_max=bounds.timestamp_max,
    )
    return (
        f"OK: {interactions_path}: {summary['rows']} rows, {summary['users']} users, {summary['items']} items; "
        f"{summary['rules_checked']} rules passed"
    )


def read_user_files(interactions_path: Path, items_path: Path | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read both files with ``read_table``; a file that cannot be read raises ``DataValidationError``
    (rule ``file_is_readable``, naming the file and the reader's reason) instead of a parser error.
    Both files are tried, so both are reported when both are bad.
    """
    tables: dict[Path, pd.DataFrame] = {}
    unreadable: list[RuleFailure] = []
    for path in (Path(interactions_path), None if items_path is None else Path(items_path)):
        if path is None:
            continue
        try:
            tables[path] = read_table(path)
        except Exception as error:  # noqa: BLE001 — any reader failure is a bad file, reported with its cause
            unreadable.append(RuleFailure(file=str(path), rule=FILE_IS_READABLE, detail=_reason(path, error)))
    if unreadable:
        raise DataValidationError(unreadable)
    return tables[Path(interactions_path)], None if items_path is None else tables[Path(items_path)]


def _reason(path: Path, error: Exception) -> str:
    if isinstance(error, FileNotFoundError) or (not path.exists() and isinstance(error, OSError)):
        return "file not found"
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return "is a directory, not a file"
    text = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
    return f"cannot be read as {path.suffix or 'a table'} ({type(error).__name__}: {text})"
