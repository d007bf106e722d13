"""A workspace's training carried to a fresh clone reports what the original reported.

The round trip is real (slow): the end-to-end test's materialised ML-100K workspace is saved, restored
into a fresh copy of the checkout, and ``evaluation_report`` there must reproduce the original report's
metrics exactly. The refusals run on files of a few bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from hymirec.experiments import snapshot
from hymirec.io import read_json, write_json
from hymirec.paths import Layout
from tests.pipeline import build_workspace, run


def _small_workspace(root: Path) -> Layout:
    """Data outputs as files of a few bytes; a finished model and a checkpoint that share an item table."""
    layout = Layout(root)
    for folder in snapshot.data_outputs(layout):
        folder.mkdir(parents=True)
        (folder / "part.bin").write_bytes(folder.name.encode())
    table = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    layout.baselines_dir.mkdir(parents=True)
    torch.save({"items": table, "bias": torch.zeros(3, dtype=torch.bfloat16)}, layout.baselines_dir / "model.pt")
    (layout.root / "checkpoints").mkdir()
    torch.save({"model": {"items": table}, "best_state": {"items": table.clone()}, "history": [{"epoch": 1, "loss": 2.5}],
                "rng": torch.get_rng_state()}, layout.root / "checkpoints" / "run.pt")
    return layout


def _rebuild_as_saved(_config: Path, layout: Layout) -> None:
    """The interaction data stages as they ran for ``_small_workspace``."""
    for folder in snapshot.data_outputs(layout, snapshot.REBUILT):
        folder.mkdir(parents=True)
        (folder / "part.bin").write_bytes(folder.name.encode())


def _rebuild_from_other_data(_config: Path, layout: Layout) -> None:
    _rebuild_as_saved(_config, layout)
    (layout.sequences_dir / "part.bin").write_bytes(b"a newer data set version")


def test_restore_rebuilds_data_and_training_state_in_a_fresh_workspace(tmp_path: Path) -> None:
    source = _small_workspace(tmp_path / "source")
    manifest = snapshot.save(source.root, tmp_path / "snap", note="two epochs")
    assert manifest["note"] == "two epochs" and "models/baselines/model.pt" in manifest["sha256"]
    # the interaction data never travels (MovieLens may not be redistributed): its digests do
    assert not any(name.startswith(("data/raw", "data/sequences")) for name in manifest["sha256"])
    assert set(manifest["rebuilt_sha256"]) == {"data/raw/part.bin", "data/sequences/part.bin"}
    # the item table, held three times, is stored once: table, bias and the RNG state
    assert len(list((tmp_path / "snap" / snapshot.TENSORS).iterdir())) == 3
    restored = snapshot.restore(tmp_path / "snap", tmp_path / "fresh", rebuild=_rebuild_as_saved)
    assert "data/embeddings/part.bin" in restored and not any(name.startswith(snapshot.TENSORS) for name in restored)
    fresh = Layout(tmp_path / "fresh")
    assert (fresh.embeddings_dir / "part.bin").read_bytes() == b"embeddings"
    assert (fresh.sequences_dir / "part.bin").read_bytes() == b"sequences"
    for name in ("models/baselines/model.pt", "checkpoints/run.pt"):
        original, rebuilt = torch.load(source.root / name, weights_only=False), torch.load(fresh.root / name, weights_only=False)
        assert snapshot._same(rebuilt, original), name
    model = torch.load(fresh.baselines_dir / "model.pt", weights_only=True)  # as load_model reads it
    assert model["bias"].dtype == torch.bfloat16


def test_restore_refuses_when_the_rebuilt_interaction_data_is_not_what_the_run_trained_on(tmp_path: Path) -> None:
    snapshot.save(_small_workspace(tmp_path / "source").root, tmp_path / "snap")
    with pytest.raises(ValueError, match="data/sequences/part.bin"):
        snapshot.restore(tmp_path / "snap", tmp_path / "fresh", rebuild=_rebuild_from_other_data)
    fresh = Layout(tmp_path / "fresh")
    assert not any(path.exists() for path in (*snapshot.data_outputs(fresh), *snapshot.training_outputs(fresh)))


def test_restore_refuses_a_snapshot_whose_files_are_not_as_saved(tmp_path: Path) -> None:
    snapshot.save(_small_workspace(tmp_path / "source").root, tmp_path / "snap")
    (tmp_path / "snap" / "data" / "embeddings" / "part.bin").write_bytes(b"version https://git-lfs.github.com/spec/v1")
    with pytest.raises(ValueError, match="data/embeddings/part.bin"):
        snapshot.restore(tmp_path / "snap", tmp_path / "fresh", rebuild=_rebuild_as_saved)
    assert not (tmp_path / "fresh").exists()  # nothing was copied


def test_restore_never_overwrites_a_workspace_that_has_outputs(tmp_path: Path) -> None:
    source = _small_workspace(tmp_path / "source")
    snapshot.save(source.root, tmp_path / "snap")
    (source.baselines_dir / "model.pt").write_bytes(b"newer weights")
    with pytest.raises(ValueError, match="already holds"):
        snapshot.restore(tmp_path / "snap", source.root, rebuild=_rebuild_as_saved)
    assert (source.baselines_dir / "model.pt").read_bytes() == b"newer weights"


def test_an_experiment_of_sasrec_alone_is_saved_without_the_codebook_it_never_made(tmp_path: Path) -> None:
    layout = _small_workspace(tmp_path / "source")
    shutil.rmtree(layout.codebook_dir)
    shutil.rmtree(layout.codebook_figures_dir)
    snapshot.save(layout.root, tmp_path / "snap")
    restored = snapshot.restore(tmp_path / "snap", tmp_path / "fresh", rebuild=_rebuild_as_saved)
    assert "models/baselines/model.pt" in restored and not any(name.startswith("models/codebook") for name in restored)


def test_save_refuses_a_workspace_without_the_sequences_every_model_reads(tmp_path: Path) -> None:
    layout = _small_workspace(tmp_path / "source")
    shutil.rmtree(layout.sequences_dir)
    with pytest.raises(FileNotFoundError, match="sequences"):
        snapshot.save(layout.root, tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def test_save_refuses_a_workspace_that_has_trained_nothing(tmp_path: Path) -> None:
    layout = _small_workspace(tmp_path / "source")
    shutil.rmtree(layout.baselines_dir)
    shutil.rmtree(layout.root / "checkpoints")
    with pytest.raises(FileNotFoundError, match="nothing to save"):
        snapshot.save(layout.root, tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def _restored(snap: Path, smollm2_cache: Path, fresh: Path) -> dict[str, str]:
    """``hymirec snapshot restore`` of ``snap`` into a fresh workspace at ``fresh``; its environment."""
    fresh.mkdir()
    env = build_workspace(fresh, smollm2_cache)
    run([sys.executable, "-m", "hymirec.cli", "snapshot", "restore", str(snap)], fresh, env)
    return env


def _dvc_status(root: Path, env: dict[str, str]) -> dict:
    """``dvc status --json`` of the workspace: the stages a ``dvc repro`` there would run, with why."""
    return json.loads(subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=root, env=env, capture_output=True,
                                     text=True, check=True).stdout)


@pytest.mark.slow
def test_a_restored_workspace_reports_the_metrics_of_the_original(materialised, smollm2_cache: Path, tmp_path: Path) -> None:
    original, _, _ = materialised
    snapshot.save(original, tmp_path / "snap")
    fresh = tmp_path / "fresh"
    env = _restored(tmp_path / "snap", smollm2_cache, fresh)
    # DVC finds every carried stage as it left it: only the report, whose outputs a snapshot leaves behind, would run
    status = _dvc_status(fresh, env)
    assert set(status) == {"evaluation_report"}, status
    run([sys.executable, "-m", "hymirec.cli", "stage", "evaluation_report"], fresh, env)
    restored, expected = read_json(Layout(fresh).metrics), read_json(Layout(original).metrics)
    assert restored["test"] == expected["test"] and restored["valid"] == expected["valid"]


@pytest.mark.slow
def test_a_stage_whose_outputs_dvc_lock_does_not_record_is_left_to_run(materialised, smollm2_cache: Path, tmp_path: Path) -> None:
    """Part way through a training stage its folder can hold finished models (the coarse model on the codebook,
    its exact-history twin still training) while dvc.lock holds another run's record of it: restored, DVC must
    run that stage again (it resumes from its checkpoints) rather than find it finished because its folder exists."""
    original, _, _ = materialised
    snap = tmp_path / "snap"
    snapshot.save(original, snap)
    lock = yaml.safe_load((snap / "dvc.lock").read_text())
    coarse_models = next(out for out in lock["stages"]["coarse_model"]["outs"] if out["path"] == "models/coarse")
    coarse_models["md5"] = "0" * 32 + ".dir"  # another run's models: what the lock held while this one trained
    (snap / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    manifest = read_json(snap / snapshot.MANIFEST)
    manifest["sha256"] = snapshot._digests(snap)  # as save would have written it from that workspace
    write_json(manifest, snap / snapshot.MANIFEST)
    fresh = tmp_path / "fresh"
    status = _dvc_status(fresh, _restored(snap, smollm2_cache, fresh))
    assert "coarse_model" in status and not {"raw_logs", "validated_sequences", "item_embeddings", "codebook"} & set(status), status


def test_each_stage_carries_exactly_the_outputs_dvc_yaml_declares(tmp_path: Path) -> None:
    """The workspace scripts copy a finished stage by these lists: an output dvc.yaml adds must appear here."""
    stages = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text())["stages"]
    layout = Layout(tmp_path)
    listed = snapshot.data_stage_outputs(layout) | snapshot.training_stage_outputs(layout)
    assert [*listed] == [name for name in stages if name not in ("resolved_config", "evaluation_report")]  # its output is in git
    for name, paths in listed.items():
        declared = {next(iter(out)) if isinstance(out, dict) else out for out in stages[name]["outs"]}
        assert {str(path.relative_to(tmp_path)) for path in paths} == declared, name
