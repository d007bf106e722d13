"""Carry a benchmark workspace's training from one machine to the next.

The full-size benchmark needs more hours of training than one machine lives (each session here gets a
fresh one; preemptible cloud machines are the same). ``save`` copies what a training stage resumes
from into one folder: the item embeddings and the codebook the models were trained on (the interaction
data is rebuilt instead: ``REBUILT``), what the training stages have produced so far — finished models,
the per-epoch checkpoints of unfinished ones (``Layout.checkpoint``; finished LLM variants are parked
there too), their reports — and DVC's record of the run (``pipeline_record``), with the SHA-256 of every
file. ``restore`` rebuilds the interaction data in a fresh clone of the same commit, copies the rest in
and puts the finished stages' outputs into DVC's cache; ``dvc exp run`` of the same config there skips
every finished stage and the training stages resume where they stopped.

Each distinct tensor is stored once (``tensors/<sha256>.pt``), and every ``.pt`` file as its structure
with references to them: a checkpoint holds its model twice (last and best state) beside the optimiser,
and every model of the benchmark holds the same item-vector tables (3,706 × 384 floats, twice in an LLM
variant). Deduplicated, the tables are stored once and a model adds little more than what it learned:
the full-size benchmark's state after one session (data, eight finished models, one checkpoint) is 50 MB,
where its model and checkpoint files alone, copied whole, were 106 MB. ``save`` rebuilds every file
from what it stored and compares it with the original before it keeps anything.

The embeddings and the codebook travel rather than being re-run: they are deterministic on one machine
(``results/determinism/`` at bdd6c2c; the full-size benchmark's embeddings and codebook too, at 1 and 2 threads) but
not from one machine to another. Re-run on a fresh machine with the same code and config, the full-size
benchmark's codebook came out otherwise: the coarse model reading it scored validation NDCG@10 0.1669
where it had scored 0.1696 (the curves part at the first epoch), while SASRec (0.1762), SASRec with the
item text (0.1741) and the coarse model on the exact item vectors (0.1689) reproduced exactly. A
checkpoint resumed on inputs other than its own would be a different benchmark, silently.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hymirec.config import load_config
from hymirec.io import atomic_directory, read_json, write_atomically, write_json
from hymirec.paths import STAGES, Layout

MANIFEST = "manifest.json"
# The interaction data, which every training stage reads, never travels: a snapshot is meant to be shared
# (carried in the repository from one session's machine to the next), and MovieLens may not be
# redistributed. These stages are deterministic from the data set's own files, so restore rebuilds them
# and compares them byte for byte with the digests save recorded. The embeddings and the codebook, which
# are not the same from one machine to another, travel when the workspace made them (an experiment of
# sasrec_model alone does not).
REBUILT = ("raw_logs", "validated_sequences")
TENSORS = "tensors"  # the snapshot's folder of distinct tensors, each named by its content's SHA-256
TENSOR_REFERENCE = "__snapshot_tensor__"  # the key of a tensor's stand-in in a stored structure
FORMAT = 2  # of the snapshot folder (2: the interaction data rebuilt, not carried); restore refuses another, rather than copying structures it cannot read


def data_stage_outputs(layout: Layout) -> dict[str, list[Path]]:
    """Each data stage's outputs that the training stages read, in pipeline order. (Stage resolved_config's
    build/config.yaml is in git: a fresh clone of the same commit holds it, and the stage rewrites it.)"""
    return {
        "raw_logs": [layout.raw_dir],
        "validated_sequences": [layout.sequences_dir],
        "item_embeddings": [layout.embeddings_dir],
        "codebook": [layout.codebook_dir, layout.codebook_figures_dir],
    }


def data_outputs(layout: Layout, stages: tuple[str, ...] | None = None) -> list[Path]:
    """The data stages' outputs the training stages read (of ``stages``, default all)."""
    return [path for stage, paths in data_stage_outputs(layout).items() if stages is None or stage in stages for path in paths]


def training_stage_outputs(layout: Layout) -> dict[str, list[Path]]:
    """Each training stage's finished outputs (its models and curves), in pipeline order."""
    return {
        "coarse_model": [layout.coarse_dir, layout.coarse_curves],
        "llm_model": [layout.llm_dir, layout.llm_curves],
        "sasrec_model": [layout.baselines_dir, layout.baselines_curves],
    }


def training_outputs(layout: Layout) -> list[Path]:
    """Everything the training stages write, finished or not (their metrics JSONs aside)."""
    finished = [path for paths in training_stage_outputs(layout).values() for path in paths]
    return [*finished, layout.root / "checkpoints"]


def stage_records(layout: Layout) -> list[Path]:
    """The metrics JSON of each stage up to training. A fresh clone holds the default pipeline's committed copies, which these replace."""
    return [layout.stage_metrics(stage) for stage in STAGES if stage not in ("resolved_config", "evaluation_report")]


def pipeline_record(layout: Layout) -> list[Path]:
    """What DVC knows of the run: the config it chose (params.yaml), that config resolved (build/config.yaml)
    and dvc.lock. With them a ``dvc exp run`` of the same config in the restored clone finds every finished
    stage unchanged and skips it, and a training stage it reaches resumes from its checkpoint; without them it
    would see the default pipeline's record and run the data stages again, over the carried outputs. (A fresh
    clone holds the default pipeline's committed copies, which these replace.)"""
    return [layout.experiment_choice, layout.resolved_config, layout.root / "dvc.lock"]


def save(root: Path, out: Path, note: str = "") -> dict[str, Any]:
    """Copy what the workspace ``root`` resumes from into ``out`` (replacing it whole), with its manifest:
    the SHA-256 of every file carried, and of every file of the interaction data, rebuilt on restore."""
    layout = Layout(root.resolve())
    interaction_data = data_outputs(layout, REBUILT)
    missing = [str(path) for path in interaction_data if not path.is_dir()]
    if missing:
        raise FileNotFoundError(f"{layout.root}: the data stages' outputs {missing} are missing (run them first)")
    trained = [path for path in training_outputs(layout) if path.exists()]
    if not trained:
        raise FileNotFoundError(f"{layout.root}: no training stage has written anything yet; nothing to save")
    carried_data = [path for path in data_outputs(layout) if path not in interaction_data]
    records = [*stage_records(layout), *pipeline_record(layout)]
    carried = [path for path in (*carried_data, *trained, *records) if path.exists()]
    with atomic_directory(out) as staging:
        for path in _files(carried):
            target = staging / path.relative_to(layout.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".pt":
                _store_deduplicated(path, target, staging / TENSORS)
            else:
                shutil.copy2(path, target)
        manifest = {"format": FORMAT, "note": note, "sha256": _digests(staging),
                    "rebuilt_sha256": _digests_of(_files(interaction_data), layout.root)}
        write_json(manifest, staging / MANIFEST)
    return manifest


def rebuild_interaction_data(config_path: Path, layout: Layout) -> None:
    """Run the ``REBUILT`` stages in ``layout`` with the config at ``config_path`` (the run's own, resolved)."""
    config = load_config(config_path)
    for stage in REBUILT:
        importlib.import_module(f"hymirec.stages.{stage}").run(config, layout)


def restore(snapshot: Path, root: Path, rebuild: Callable[[Path, Layout], None] = rebuild_interaction_data) -> list[str]:
    """Rebuild the interaction data in the workspace ``root``, which must hold no outputs of its own, then
    copy the snapshot into it; returns the paths copied. In a DVC project the finished stages' outputs
    then go into DVC's cache (``cache_finished_stages``).

    Refuses, copying nothing, when a snapshot file is missing or not the bytes that were saved (a
    partial checkout, a Git LFS pointer), when the workspace already holds data or training outputs, or
    when the rebuilt interaction data is not the data the run trained on (another data set version, files
    dropped in the inbox then): its training would resume on other data. The rebuilt data is removed then.
    """
    manifest_path = snapshot / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: not a snapshot written by 'hymirec snapshot save'")
    manifest = read_json(manifest_path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{manifest_path}: snapshot format {manifest.get('format')}, this code reads format {FORMAT}")
    expected = manifest["sha256"]
    present = _digests(snapshot)
    damaged = sorted(name for name in expected if present.get(name) != expected[name])
    if damaged:
        raise ValueError(f"{snapshot}: files missing or not as saved: {_listed(damaged)}")
    layout = Layout(root.resolve())
    occupied = [str(path.relative_to(layout.root)) for path in (*data_outputs(layout), *training_outputs(layout)) if path.exists()]
    if occupied:
        raise ValueError(f"{layout.root}: already holds {occupied}; restore only into a fresh clone, so that nothing is overwritten")
    rebuild(snapshot / layout.resolved_config.relative_to(layout.root), layout)
    rebuilt = _digests_of(_files(data_outputs(layout, REBUILT)), layout.root)
    differing = sorted(name for name in rebuilt.keys() | manifest["rebuilt_sha256"].keys()
                       if rebuilt.get(name) != manifest["rebuilt_sha256"].get(name))
    if differing:
        for path in data_outputs(layout, REBUILT):
            shutil.rmtree(path, ignore_errors=True)
        raise ValueError(f"{layout.root}: the rebuilt interaction data is not what the saved run trained on: {_listed(differing)}")
    restored = sorted(name for name in expected if not name.startswith(f"{TENSORS}/"))
    for name in restored:
        target = layout.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".pt":
            tensors = _rebuilt(torch.load(snapshot / name, weights_only=False), snapshot / TENSORS)
            write_atomically(target, lambda temp, tensors=tensors: torch.save(tensors, temp))
        else:
            shutil.copy2(snapshot / name, target)
    if (layout.root / ".dvc").is_dir():
        cache_finished_stages(layout)
    return restored


def finished_stages(layout: Layout) -> list[str]:
    """The data and training stages that dvc.lock records as run on exactly the inputs and to exactly the
    outputs the workspace holds, in pipeline order: DVC's own comparison, cache aside.

    That a stage's outputs exist is not enough. Part way through, a training stage's folder can already
    hold its finished models (the coarse model on the codebook, its exact-history twin still training),
    while dvc.lock holds the record of another run (the committed default pipeline's, or an earlier
    experiment's in the same workspace); committed as finished, DVC would skip the rest of its training."""
    from dvc.repo import Repo

    candidates = set(data_stage_outputs(layout)) | set(training_stage_outputs(layout))
    with Repo(str(layout.root)) as repo:
        stages = {stage.name: stage for stage in repo.index.stages if stage.name in candidates}
        return [name for name in STAGES if name in stages and _as_recorded(stages[name])]


def _as_recorded(stage: Any) -> bool:
    """True when DVC finds nothing of the stage changed in the workspace against dvc.lock (its deps, outs and
    command; a stage dvc.lock does not record counts as changed: its outputs are "new")."""
    changed_deps, changed_outs, changed_command = stage.changed_entries()
    return not (changed_deps or changed_outs or changed_command)


def cache_finished_stages(layout: Layout) -> None:
    """``dvc commit --force`` the finished stages: DVC counts an output that matches dvc.lock but is missing
    from its cache (a fresh clone's is empty) as changed, and would run its stage again over it."""
    stages = finished_stages(layout)
    if not stages:  # `dvc commit` without targets would commit every stage
        return
    result = subprocess.run([sys.executable, "-m", "dvc", "commit", "--force", *stages], cwd=layout.root, capture_output=True, text=True)
    if result.returncode:
        raise ValueError(f"{layout.root}: dvc commit of the restored stages {stages} failed:\n{result.stderr[-2000:]}")


def _store_deduplicated(source: Path, target: Path, tensors: Path) -> None:
    """Store the ``.pt`` file ``source`` as its structure in ``target`` and each tensor in ``tensors`` (once)."""
    original = torch.load(source, weights_only=False)
    found: dict[str, torch.Tensor] = {}
    structure = _with_references(original, found)
    tensors.mkdir(exist_ok=True)
    for key, tensor in found.items():
        if not (tensors / f"{key}.pt").exists():
            torch.save(tensor, tensors / f"{key}.pt")
    torch.save(structure, target)
    if not _same(_rebuilt(torch.load(target, weights_only=False), tensors), original):
        raise ValueError(f"{source}: rebuilt from the snapshot it differs from the original; not saved")


def _tensor_key(tensor: torch.Tensor) -> str:
    content = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return hashlib.sha256(f"{tensor.dtype}{tuple(tensor.shape)}".encode() + content).hexdigest()


def _with_references(value: Any, found: dict[str, torch.Tensor]) -> Any:
    """``value`` with every tensor replaced by a reference to its content, collected in ``found``."""
    if isinstance(value, torch.Tensor):
        key = _tensor_key(value)
        found.setdefault(key, value.detach().cpu().clone())
        return {TENSOR_REFERENCE: key}
    return _map_containers(value, lambda item: _with_references(item, found))


def _rebuilt(value: Any, tensors: Path) -> Any:
    """A stored structure with its tensors read back."""
    if isinstance(value, dict) and set(value) == {TENSOR_REFERENCE}:
        return torch.load(tensors / f"{value[TENSOR_REFERENCE]}.pt", weights_only=True)
    return _map_containers(value, lambda item: _rebuilt(item, tensors))


def _map_containers(value: Any, convert: Any) -> Any:
    """``convert`` applied to every item of a dict, list or tuple (a state dict keeps its version metadata)."""
    if isinstance(value, dict):
        mapped = type(value)((key, convert(item)) for key, item in value.items())
        if hasattr(value, "_metadata"):
            mapped._metadata = value._metadata
        return mapped
    if isinstance(value, (list, tuple)):
        return type(value)(convert(item) for item in value)
    return value


def _same(first: Any, second: Any) -> bool:
    if isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor):
        return (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and first.dtype == second.dtype
                and first.shape == second.shape and torch.equal(first, second))
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(_same(first[key], second[key]) for key in first)
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)):
        return type(first) is type(second) and len(first) == len(second) and all(map(_same, first, second))
    return type(first) is type(second) and first == second


def _files(paths: list[Path]) -> list[Path]:
    """Every file of ``paths`` (files, and the files under folders), in order."""
    return [path for top in paths for path in ([top] if top.is_file() else sorted(top.rglob("*"))) if path.is_file()]


def _digests_of(files: list[Path], folder: Path) -> dict[str, str]:
    """SHA-256 of each of ``files``, keyed by its path relative to ``folder``."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` but the manifest, keyed by its path relative to ``folder``."""
    return _digests_of([path for path in _files([folder]) if path != folder / MANIFEST], folder)


def _listed(names: list[str]) -> str:
    return f"{names[:5]}{' …' if len(names) > 5 else ''}"
