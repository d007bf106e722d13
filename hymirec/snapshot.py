"""Carry a benchmark workspace's training from one machine to the next.

The full-size benchmark needs more hours of training than one machine lives (each session here gets a
fresh one; preemptible cloud machines are the same). The data stages before training are cheap and
deterministic (``results/determinism``): a fresh workspace re-runs them in minutes. Hours of training
are what must travel. ``save`` copies what the training stages have produced so far — finished models,
the per-epoch checkpoints of unfinished ones (``Layout.checkpoint``: finished LLM variants are parked
there too), the stages' reports — and a manifest with the SHA-256 of every file those models were
trained on. ``restore`` copies them into a workspace whose data stages have been re-run, once every
input file there is byte-identical to the manifest's: a model is never resumed on other inputs than its
own, and a data stage that stopped reproducing is an error, not a silently different benchmark.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from hymirec.io import atomic_directory, read_json, write_json
from hymirec.paths import Layout

MANIFEST = "manifest.json"
TRAINING_STAGES = ("sasrec_model", "coarse_model", "llm_model")


def training_state(layout: Layout) -> list[Path]:
    """What the training stages have written so far, relative to the workspace (only what exists)."""
    candidates = [layout.baselines_dir, layout.coarse_dir, layout.llm_dir, layout.root / "checkpoints"]
    for stage in TRAINING_STAGES:
        candidates += [layout.reports_dir / stage, layout.stage_metrics(stage)]
    return [path.relative_to(layout.root) for path in candidates if path.exists()]


def training_inputs(layout: Layout) -> list[Path]:
    """The data stages' outputs the training stages read: the files whose bytes a restore must match."""
    return [layout.raw_dir, layout.sequences_dir, layout.embeddings_dir, layout.codebook_dir]


def file_digests(root: Path, folders: list[Path]) -> dict[str, str]:
    """SHA-256 of every file under ``folders``, keyed by its path relative to ``root``."""
    digests = {}
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def save(root: Path, out: Path, note: str = "") -> dict[str, Any]:
    """Copy the training state of the workspace ``root`` into ``out`` (replacing it whole), with its manifest."""
    layout = Layout(root.resolve())
    state = training_state(layout)
    if not state:
        raise FileNotFoundError(f"{layout.root}: no training stage has written anything yet; nothing to save")
    missing = [str(folder) for folder in training_inputs(layout) if not folder.is_dir()]
    if missing:
        raise FileNotFoundError(f"{layout.root}: the training inputs {missing} are missing; a snapshot needs them to check a restore")
    manifest = {
        "saved": [path.as_posix() for path in state],
        "inputs_sha256": file_digests(layout.root, training_inputs(layout)),
        "note": note,
    }
    with atomic_directory(out) as staging:
        for path in state:
            _copy(layout.root / path, staging / path)
        write_json(manifest, staging / MANIFEST)
    return manifest


def restore(snapshot: Path, root: Path) -> list[str]:
    """Copy a snapshot's training state into the workspace ``root``; refuse if its inputs differ from the manifest's."""
    manifest_path = snapshot / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: not a snapshot written by 'hymirec snapshot save'")
    manifest = read_json(manifest_path)
    layout = Layout(root.resolve())
    already = training_state(layout)
    if already:
        raise ValueError(f"{layout.root}: already holds training state ({[path.as_posix() for path in already]}); "
                         "restore only into a workspace that has trained nothing, so that nothing is overwritten")
    present = file_digests(layout.root, [folder for folder in training_inputs(layout) if folder.is_dir()])
    expected = manifest["inputs_sha256"]
    differing = sorted(name for name in expected if present.get(name) != expected[name])
    unexpected = sorted(set(present) - set(expected))
    if differing or unexpected:
        raise ValueError(
            f"{layout.root}: the training inputs are not the ones the snapshot's models were trained on "
            f"(missing or different: {differing[:5]}{' …' if len(differing) > 5 else ''}; not in the snapshot: {unexpected[:5]}). "
            "Re-run the data stages with the snapshot's config and code first."
        )
    for name in manifest["saved"]:
        _copy(snapshot / name, layout.root / name)
    return manifest["saved"]


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
