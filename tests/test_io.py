from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hymirec.io import atomic_directory, read_json, write_atomically, write_json


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

