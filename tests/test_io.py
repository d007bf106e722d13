from __future__ import annotations

import itertools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hymirec import io
from hymirec.io import atomic_directory, read_json, write_atomically, write_json, write_text


def test_atomic_directory_keeps_previous_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "a.txt").write_text("partial")
            raise RuntimeError("stage failed half way")
    assert (target / "a.txt").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging leftovers


def test_atomic_directory_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_write_json_round_trip_and_no_temp_files(tmp_path: Path) -> None:
    write_json({"b": 1, "a": [1.5]}, tmp_path / "m.json")
    assert read_json(tmp_path / "m.json") == {"a": [1.5], "b": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_file_written_atomically_has_the_bytes_of_a_direct_write(tmp_path: Path) -> None:
    """torch.save names its zip archive after the file: a temporary name must not reach the bytes."""
    state = {"weight": torch.arange(6.0)}
    torch.save(state, tmp_path / "model.pt")
    write_atomically(tmp_path / "atomic" / "model.pt", lambda temp: torch.save(state, temp))
    assert (tmp_path / "atomic" / "model.pt").read_bytes() == (tmp_path / "model.pt").read_bytes()


def _killed_at(step: int, write: Callable[[], None]) -> bool:
    """Run ``write`` in a forked child that SIGKILLs itself at its ``step``-th audit event; False if it finished first.

    Python raises an audit event before every file-system call (open, os.mkdir, os.rename,
    shutil.rmtree, a ctypes call …), so stepping ``step`` through 1, 2, … kills the write between
    every two of its steps.
    """
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            steps = itertools.count(1)
            sys.addaudithook(lambda event, args: next(steps) == step and os.kill(os.getpid(), signal.SIGKILL))
            write()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, "the write failed in the child"
    return os.WIFSIGNALED(status)


def _directory_writer(target: Path, text: str) -> Callable[[], None]:
    def write() -> None:
        with atomic_directory(target) as staging:
            (staging / "a.txt").write_text(text)
            (staging / "b.txt").write_text(text)

    return write


def _read_directory(target: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(target.iterdir())}


WRITERS = {
    "directory": (_directory_writer, _read_directory),
    "file": (lambda target, text: lambda: write_text(text, target), Path.read_text),
}


@pytest.mark.parametrize(
    ("kind", "exchange"), [("directory", True), ("directory", False), ("file", True)],
    ids=["directory-swapped-atomically", "directory-in-two-renames", "file"],
)
def test_a_write_killed_at_any_step_loses_nothing_and_the_next_write_cleans_up(
    kind: str, exchange: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a SIGKILL anywhere in a write, ``path`` holds the old or the new content, never a mix
    (or, only where folders cannot be swapped atomically, the old content is put back by the next
    write); the next write succeeds and leaves nothing else beside ``path``."""
    if not exchange:  # as on a system without renameat2(RENAME_EXCHANGE)
        monkeypatch.setattr(io, "_exchange", lambda first, second: False)
    writer, read = WRITERS[kind]
    reference = tmp_path / "reference" / "out"
    writer(reference, "old")()
    old = read(reference)
    writer(reference, "new")()
    new = read(reference)
    for step in itertools.count(1):
        target = tmp_path / str(step) / "out"
        writer(target, "old")()
        if not _killed_at(step, writer(target, "new")):
            break
        if target.exists():
            assert read(target) in (old, new), step
        else:  # only between the two renames: the previous content waits under its backup name,
            assert not exchange and read(io._backup(target)) == old, step
            with pytest.raises(RuntimeError), atomic_directory(target):
                raise RuntimeError("the next write fails too")
            assert read(target) == old, step  # and any next write puts it back first
        writer(target, "new")()
        assert read(target) == new and sorted(os.listdir(target.parent)) == ["out"], step
    assert step > 5  # the writes were killed at several steps
