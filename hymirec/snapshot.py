"""Carry a benchmark workspace's training from one machine to the next.

The full-size benchmark needs more hours of training than one machine lives (each session here gets a
fresh one; preemptible cloud machines are the same). ``save`` copies what a training stage resumes
from into one folder: the data stages' outputs the models were trained on, and what the training stages
have produced so far — finished models, the per-epoch checkpoints of unfinished ones
(``Layout.checkpoint``; finished LLM variants are parked there too), their reports — with the SHA-256
of every file. ``restore`` copies it into a fresh clone, and the training stages resume where they
stopped.

The data stages' outputs travel rather than being re-run: they are deterministic on one machine
(``results/determinism``; the full-size benchmark's embeddings and codebook too, at 1 and 2 threads) but
not from one machine to another. Re-run on a fresh machine with the same code and config, the full-size
benchmark's codebook came out otherwise: the coarse model reading it scored validation NDCG@10 0.1669
where it had scored 0.1696 (the curves part at the first epoch), while SASRec (0.1762), SASRec with the
item text (0.1741) and the coarse model on the exact item vectors (0.1689) reproduced exactly. A
checkpoint resumed on inputs other than its own would be a different benchmark, silently.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from hymirec.io import atomic_directory, read_json, write_json
from hymirec.paths import Layout

MANIFEST = "manifest.json"
DATA_STAGES = ("raw_logs", "validated_sequences", "item_embeddings", "codebook")
TRAINING_STAGES = ("sasrec_model", "coarse_model", "llm_model")


def data_outputs(layout: Layout) -> list[Path]:
    """The data stages' outputs the training stages read."""
    return [layout.raw_dir, layout.sequences_dir, layout.embeddings_dir, layout.codebook_dir, layout.codebook_figures_dir]


def training_outputs(layout: Layout) -> list[Path]:
    """Everything the training stages write, finished or not (their metrics JSONs aside)."""
    return [layout.baselines_dir, layout.coarse_dir, layout.llm_dir, layout.baselines_curves, layout.coarse_curves,
            layout.llm_curves, layout.root / "checkpoints"]


def stage_records(layout: Layout) -> list[Path]:
    """Each stage's metrics JSON. A fresh clone holds the default pipeline's committed copies, which these replace."""
    return [layout.stage_metrics(stage) for stage in (*DATA_STAGES, *TRAINING_STAGES)]


def save(root: Path, out: Path, note: str = "") -> dict[str, Any]:
    """Copy what the workspace ``root`` resumes from into ``out`` (replacing it whole), with its manifest."""
    layout = Layout(root.resolve())
    missing = [str(path) for path in data_outputs(layout) if not path.is_dir()]
    if missing:
        raise FileNotFoundError(f"{layout.root}: the data stages' outputs {missing} are missing (run them first)")
    trained = [path for path in training_outputs(layout) if path.exists()]
    if not trained:
        raise FileNotFoundError(f"{layout.root}: no training stage has written anything yet; nothing to save")
    carried = [*data_outputs(layout), *trained, *(path for path in stage_records(layout) if path.exists())]
    with atomic_directory(out) as staging:
        for path in carried:
            _copy(path, staging / path.relative_to(layout.root))
        manifest = {"note": note, "sha256": _digests(staging)}
        write_json(manifest, staging / MANIFEST)
    return manifest


def restore(snapshot: Path, root: Path) -> list[str]:
    """Copy a snapshot into the workspace ``root``, which must hold no outputs of its own; returns the paths copied.

    Refuses, copying nothing, when a snapshot file is missing or not the bytes that were saved (a
    partial checkout, a Git LFS pointer) or when the workspace already holds data or training outputs.
    """
    manifest_path = snapshot / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: not a snapshot written by 'hymirec snapshot save'")
    expected = read_json(manifest_path)["sha256"]
    present = _digests(snapshot)
    damaged = sorted(name for name in expected if present.get(name) != expected[name])
    if damaged:
        raise ValueError(f"{snapshot}: files missing or not as saved: {damaged[:5]}{' …' if len(damaged) > 5 else ''}")
    layout = Layout(root.resolve())
    occupied = [str(path.relative_to(layout.root)) for path in (*data_outputs(layout), *training_outputs(layout)) if path.exists()]
    if occupied:
        raise ValueError(f"{layout.root}: already holds {occupied}; restore only into a fresh clone, so that nothing is overwritten")
    for name in expected:
        _copy(snapshot / name, layout.root / name)
    return sorted(expected)


def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` but the manifest, keyed by its path relative to ``folder``."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path != folder / MANIFEST
    }


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
