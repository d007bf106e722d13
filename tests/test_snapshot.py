"""A workspace's training state carried to a fresh workspace reports what the original reported.

The round trip is real (slow): the end-to-end test's materialised ML-100K workspace is saved; a fresh
copy of the checkout re-runs only the data stages, restores the snapshot and runs ``evaluation_report``,
which must reproduce the original report's metrics exactly. The refusals run on small files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hymirec import snapshot
from hymirec.io import read_json
from hymirec.paths import Layout
from tests.pipeline import build_workspace, run

DATA_STAGES = ("raw_logs", "validated_sequences", "item_embeddings", "codebook")


def _small_workspace(root: Path) -> Layout:
    """Inputs and a finished model as files of a few bytes: enough to check what save and restore refuse."""
    layout = Layout(root)
    for folder in snapshot.training_inputs(layout):
        folder.mkdir(parents=True)
        (folder / "part.bin").write_bytes(folder.name.encode())
    layout.baselines_dir.mkdir(parents=True)
    (layout.baselines_dir / "weights.pt").write_bytes(b"weights")
    return layout


def _fresh_inputs(root: Path, source: Layout) -> Layout:
    """A workspace holding the same inputs as ``source`` and no training state."""
    layout = Layout(root)
    for folder in snapshot.training_inputs(source):
        target = layout.root / folder.relative_to(source.root)
        target.mkdir(parents=True)
        for path in folder.iterdir():
            (target / path.name).write_bytes(path.read_bytes())
    return layout


def test_restore_copies_the_training_state_onto_identical_inputs(tmp_path: Path) -> None:
    source = _small_workspace(tmp_path / "source")
    manifest = snapshot.save(source.root, tmp_path / "snap", note="two epochs")
    assert manifest["saved"] == ["models/baselines"] and manifest["note"] == "two epochs"
    fresh = _fresh_inputs(tmp_path / "fresh", source)
    assert snapshot.restore(tmp_path / "snap", fresh.root) == ["models/baselines"]
    assert (fresh.baselines_dir / "weights.pt").read_bytes() == b"weights"


def test_restore_refuses_inputs_other_than_the_snapshots(tmp_path: Path) -> None:
    source = _small_workspace(tmp_path / "source")
    snapshot.save(source.root, tmp_path / "snap")
    fresh = _fresh_inputs(tmp_path / "fresh", source)
    (fresh.embeddings_dir / "part.bin").write_bytes(b"other embeddings")
    with pytest.raises(ValueError, match="data/embeddings/part.bin"):
        snapshot.restore(tmp_path / "snap", fresh.root)
    assert not fresh.baselines_dir.exists()  # nothing was copied


def test_restore_never_overwrites_a_workspace_that_has_trained(tmp_path: Path) -> None:
    source = _small_workspace(tmp_path / "source")
    snapshot.save(source.root, tmp_path / "snap")
    (source.baselines_dir / "weights.pt").write_bytes(b"newer weights")
    with pytest.raises(ValueError, match="already holds training state"):
        snapshot.restore(tmp_path / "snap", source.root)
    assert (source.baselines_dir / "weights.pt").read_bytes() == b"newer weights"


def test_save_refuses_a_workspace_that_has_trained_nothing(tmp_path: Path) -> None:
    layout = _small_workspace(tmp_path / "source")
    (layout.baselines_dir / "weights.pt").unlink()
    layout.baselines_dir.rmdir()
    with pytest.raises(FileNotFoundError, match="nothing to save"):
        snapshot.save(layout.root, tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


@pytest.mark.slow
def test_a_restored_workspace_reports_the_metrics_of_the_original(materialised, smollm2_cache: Path, tmp_path: Path) -> None:
    original, _, _ = materialised
    snapshot.save(original, tmp_path / "snap")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    env = build_workspace(fresh, smollm2_cache)
    cli = [sys.executable, "-m", "hymirec.cli"]
    for stage in DATA_STAGES:
        run([*cli, "stage", stage], fresh, env)
    run([*cli, "snapshot", "restore", str(tmp_path / "snap")], fresh, env)
    run([*cli, "stage", "evaluation_report"], fresh, env)
    restored, expected = read_json(Layout(fresh).metrics), read_json(Layout(original).metrics)
    assert restored["test"] == expected["test"] and restored["valid"] == expected["valid"]
