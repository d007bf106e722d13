"""Atomic writers: a stage's outputs are either the previous good ones or the complete new ones.

Every output is written in a private staging folder beside it and renamed into place (``os.replace``
is atomic on one file system), so an interrupted or failing stage never leaves a half-written output behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temp)`` a file, then rename it to ``path``.

    ``temp`` has the name of ``path`` (in the staging folder), so writers that record the file's name
    write the same bytes as a direct write: ``torch.save`` names its zip archive after the file, and a
    random temporary name made every saved model differ from the last in bytes (and in DVC's hash).
    """
    path = Path(path)
    with _staging(path) as staging:
        temp = staging / path.name
        write(temp)
        os.replace(temp, path)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    write_atomically(path, lambda temp: frame.to_parquet(temp, index=False))


def write_json(payload: Any, path: Path) -> None:
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n"
    write_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def write_text(text: str, path: Path) -> None:
    write_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def write_npy(array: np.ndarray, path: Path) -> None:
    def _save(temp: Path) -> None:
        with temp.open("wb") as handle:
            np.save(handle, array)

    write_atomically(path, _save)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


@contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield an empty staging directory that replaces ``path`` only if the block finishes.

    On an exception the staging directory is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    with _staging(path) as staging:
        yield staging
        backup = path.with_name(f".{path.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        if path.exists():
            os.replace(path, backup)
        os.replace(staging, path)
        shutil.rmtree(backup, ignore_errors=True)


@contextmanager
def _staging(path: Path) -> Iterator[Path]:
    """A new private folder beside ``path``, removed on the way out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
