"""``hymirec validate``: check a user's interaction (and item) files before they enter the pipeline.

Files are read exactly as stage ``raw_logs`` reads them (``hymirec.data.files.read_table``: CSV, TSV
or Parquet, ids as strings) and run through the raw-logs suite with the default timestamp bounds of
``DataConfig``. Anything wrong, including a file that cannot be read at all, becomes a
``DataValidationError`` naming the file and the rule, so the command never ends in a traceback.

Rules checked while reading, before the suite:
- ``file_is_readable``: the file exists, is not empty, parses as its extension says, and text is
  UTF-8 (the first line that is not is shown, with its bytes escaped);
- ``delimiter_matches_extension``: a ``.csv`` is comma-separated and a ``.tsv`` tab-separated; a file
  that parses as one column whose header holds another delimiter (``;``, ``|``, a tab) fails here
  instead of as three missing columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from data_checks.errors import DataValidationError, RuleFailure
from data_checks.raw_logs import RawLogRules, check_logs
from hymirec.config import DataConfig
from hymirec.data.files import read_table

FILE_IS_READABLE = "file_is_readable"
DELIMITER_MATCHES_EXTENSION = "delimiter_matches_extension"

_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_EXPECTED_DELIMITER = {".csv": ",", ".tsv": "\t"}


def validate_user_files(interactions_path: Path, items_path: Path | None) -> str:
    """Validate the files; return a one-line summary, or raise ``DataValidationError``.

    The summary reads ``OK: <interactions file>: N rows, M users, K items; R rules passed``
    (K counts the distinct items interacted with), followed by ``; extra columns ignored: ...``
    when the interactions file has columns the pipeline does not read.

    Without an items file, the rules that need the items table are skipped; the interactions
    rules still run.
    """
    interactions_path = Path(interactions_path)
    items_path = None if items_path is None else Path(items_path)
    interactions, items = read_user_files(interactions_path, items_path)
    summary = check_logs(
        interactions, items, str(interactions_path), None if items_path is None else str(items_path), RawLogRules.of(DataConfig())
    )
    report = (
        f"OK: {interactions_path}: {summary['rows']} rows, {summary['users']} users, {summary['items']} items; "
        f"{summary['rules_checked']} rules passed"
    )
    if summary["extra_columns"]:
        report += f"; extra columns ignored: {', '.join(summary['extra_columns'])}"
    return report


def read_user_files(interactions_path: Path, items_path: Path | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read both files with ``read_table``; a file that cannot be read raises ``DataValidationError``
    (rule ``file_is_readable``, naming the file and the reader's reason, or
    ``delimiter_matches_extension``) instead of a parser error or a pile of missing-column failures.
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
            unreadable.append(_unreadable(path, error))
            continue
        wrong_delimiter = _wrong_delimiter(path, tables[path])
        if wrong_delimiter is not None:
            unreadable.append(wrong_delimiter)
    if unreadable:
        raise DataValidationError(unreadable)
    return tables[Path(interactions_path)], None if items_path is None else tables[Path(items_path)]


def check_user_files(interactions_path: Path, items_path: Path) -> None:
    """``read_user_files``' rules without holding the files: a CSV/TSV file is parsed chunk by chunk (as
    ``read_table`` parses it, so a bad file fails with the same reason), a Parquet file's footer and schema
    are read. Raises ``DataValidationError`` naming each file that cannot be read."""
    unreadable: list[RuleFailure] = []
    for path in (Path(interactions_path), Path(items_path)):
        try:
            first = _scan(path)
        except Exception as error:  # noqa: BLE001 — any reader failure is a bad file, reported with its cause
            unreadable.append(_unreadable(path, error))
            continue
        wrong_delimiter = _wrong_delimiter(path, first)
        if wrong_delimiter is not None:
            unreadable.append(wrong_delimiter)
    if unreadable:
        raise DataValidationError(unreadable)


def _scan(path: Path, chunk_rows: int = 1_000_000) -> pd.DataFrame:
    """Parse the whole file a chunk at a time; return the first chunk (a Parquet file: its first row)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        first = next(parquet.iter_batches(batch_size=1), None)
        return parquet.schema_arrow.empty_table().to_pandas() if first is None else first.to_pandas()
    if suffix not in _EXPECTED_DELIMITER:
        return read_table(path)  # raises: unsupported file type
    first = None
    reader = pd.read_csv(path, sep=_EXPECTED_DELIMITER[suffix], dtype=str, keep_default_na=False, chunksize=chunk_rows)
    with reader:
        for chunk in reader:
            first = chunk if first is None else first
    return first if first is not None else pd.read_csv(path, sep=_EXPECTED_DELIMITER[suffix], dtype=str, keep_default_na=False, nrows=0)


def _unreadable(path: Path, error: Exception) -> RuleFailure:
    not_utf8 = _first_non_utf8_line(path) if path.suffix.lower() in _EXPECTED_DELIMITER and path.is_file() else None
    if not_utf8 is not None:
        line, text, byte = not_utf8
        return RuleFailure(
            file=str(path),
            rule=FILE_IS_READABLE,
            detail=f"not UTF-8 text: byte 0x{byte:02x} on line {line} cannot be decoded; save the file as UTF-8",
            sample_rows=({"row": line, "text": text},),
            row_numbering="line",
        )
    return RuleFailure(file=str(path), rule=FILE_IS_READABLE, detail=_reason(path, error))


def _first_non_utf8_line(path: Path) -> tuple[int, str, int] | None:
    """(line number, the line with undecodable bytes escaped, the first bad byte), or None if UTF-8."""
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        start = data.rfind(b"\n", 0, error.start) + 1
        end = data.find(b"\n", error.start)
        raw = data[start : end if end >= 0 else len(data)].rstrip(b"\r")
        return line, raw.decode("utf-8", errors="backslashreplace"), data[error.start]
    except OSError:
        return None
    return None


def _wrong_delimiter(path: Path, frame: pd.DataFrame) -> RuleFailure | None:
    expected = _EXPECTED_DELIMITER.get(path.suffix.lower())
    if expected is None or len(frame.columns) != 1:
        return None
    header = str(frame.columns[0])
    found = [delimiter for delimiter in _DELIMITERS if delimiter != expected and delimiter in header]
    if not found:
        return None
    samples = [{"row": 1, "text": header}]
    if len(frame):
        samples.append({"row": 2, "text": str(frame.iat[0, 0])})
    return RuleFailure(
        file=str(path),
        rule=DELIMITER_MATCHES_EXTENSION,
        detail=(
            f"the file reads as one column: it looks {_DELIMITERS[found[0]]}-separated, but a {path.suffix} file must be "
            f"{_DELIMITERS[expected]}-separated (write .csv with commas or .tsv with tabs)"
        ),
        sample_rows=tuple(samples),
        row_numbering="line",
    )


def _reason(path: Path, error: Exception) -> str:
    if isinstance(error, FileNotFoundError) or (not path.exists() and isinstance(error, OSError)):
        return "file not found"
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return "is a directory, not a file"
    if path.is_file() and path.stat().st_size == 0:
        return "the file is empty (0 bytes)"
    text = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
    return f"cannot be read as {path.suffix or 'a table'} ({type(error).__name__}: {text})"
