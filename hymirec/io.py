"""Atomic writers: a stage's outputs are either the previous good ones or the complete new ones.

Every output is written in a private staging folder beside it and renamed into place (``os.replace``
is atomic on one file system), so an interrupted or failing stage never leaves a half-written output
behind — not even when it is SIGKILLed (tests/test_io.py kills a writer at every step). The staging
folder an interrupted write leaves behind is removed by the next write of the same output: one
writer per output at a time, as DVC's lock on a stage's outputs guarantees.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import shutil
import sys
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
        _swap_into_place(staging, path)


@contextmanager
def _staging(path: Path) -> Iterator[Path]:
    """A new private folder beside ``path``, removed on the way out.

    First it clears what an interrupted write of ``path`` left: staging folders, and the backup of
    an interrupted two-rename swap (``_swap_into_place``), which goes back to ``path`` if that is missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = _backup(path)
    if backup.exists() and not path.exists():
        os.replace(backup, path)
    shutil.rmtree(backup, ignore_errors=True)
    for leftover in path.parent.glob(f"{glob.escape(f'.{path.name}.')}*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _backup(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _swap_into_place(staging: Path, path: Path) -> None:
    """Put the finished folder ``staging`` at ``path``; ``staging`` then holds the previous content, if any.

    rename(2) cannot replace a non-empty folder. Where Linux offers ``renameat2(RENAME_EXCHANGE)`` the
    two folders swap in one atomic step, so a crash at any moment leaves the previous or the new
    folder at ``path``. Elsewhere it takes two renames, and a crash between them leaves ``path``
    missing and the previous folder at its backup name, which the next write of ``path`` puts back.
    """
    if not path.exists():
        os.replace(staging, path)
    elif not _exchange(staging, path):
        backup = _backup(path)
        os.replace(path, backup)
        os.replace(staging, path)
        os.replace(backup, staging)


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2  # <fcntl.h>, <linux/fs.h>


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically; False where the C library, kernel or file system cannot."""
    renameat2 = getattr(_LIBC, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS):  # the file system lacks the flag, or the kernel the call
        return False
    raise OSError(error, os.strerror(error), str(first), None, str(second))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
