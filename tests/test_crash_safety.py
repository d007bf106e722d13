"""Crash safety and cross-process determinism of the real pipeline (ML-100K, the end-to-end test's run).

A copy of the workspace Dagster materialised (conftest's ``materialised``: run 1) is SIGKILLed twice,
each time at an exact moment (tests/kill_point.py): while ``item_embeddings`` writes the embeddings,
and while ``sasrec_model`` writes the checkpoint of SASRec's second epoch. Every pipeline output must
be byte-identical afterwards. Then a second pipeline run in its own processes (run 2: ``dvc repro``
forced over every stage after the data) must finish cleanly, resume the killed training from its
checkpoint, and reproduce run 1 byte for byte — metrics, rankings, embeddings, every model's
weights — except the measured durations in the stages' JSON records. Last, the LLM stage's last row,
trained alone in a copy, must be the model trained after the other rows.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from hymirec.io import read_json
from hymirec.paths import Layout
from orchestration.dvc_project import read_stages
from tests.pipeline import VENV_BIN, copy_workspace, run

pytestmark = pytest.mark.slow
KILL_POINT = Path(__file__).with_name("kill_point.py")
# Run 2: the stages after the data. The codebook's input, the embeddings, is compared byte for byte,
# so its run-1 outputs stand.
RERUN = ("item_embeddings", "sasrec_model", "coarse_model", "llm_model", "evaluation_report")
# measured, so never the same twice (serve_ms_*: the report's cost table times top-10 requests)
TIMINGS = {"train_seconds", "encode_seconds", "items_per_second", "serve_ms_p50", "serve_ms_p99"}


@dataclass(frozen=True)
class Interrupted:
    """The copy of run 1's workspace, what each kill left, and run 2."""

    root: Path
    before: dict[str, str]  # every pipeline output -> sha256, before the kills
    after_embeddings_kill: dict[str, str]
    after_checkpoint_kill: dict[str, str]
    embeddings_at_kill: list[int]  # sizes of the new embeddings the killed stage had written under a temporary name
    checkpoint_epochs: tuple[int, int]  # epochs in the checkpoint left in place, and in the one killed before its rename
    rerun_log: str
    status_after: str


def _output_digests(root: Path, stages: tuple[str, ...] | None = None) -> dict[str, str]:
    """sha256 of every file of the outputs dvc.yaml declares (of ``stages``, default all), by path."""
    digests = {}
    for stage in read_stages(root):
        if stages is None or stage.name in stages:
            for out in stage.all_outs:
                files = [root / out] if (root / out).is_file() else sorted(p for p in (root / out).rglob("*") if p.is_file())
                digests.update({p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    return digests


def _stopped_at(root: Path, env: dict[str, str], pattern: str, nth: int, stage: str, log: Path) -> subprocess.Popen:
    """``hymirec stage <stage>`` started in its own process group, returned once it stopped at the kill point."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-P", str(KILL_POINT), pattern, str(nth), "stage", stage, "-c", str(Layout(root).resolved_config)],
            cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"{stage} ended before its kill point:\n{log.read_text()[-4000:]}"
    return process


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


@pytest.fixture(scope="module")
def interrupted(materialised: tuple[Path, dict[str, str], str], tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    logs = tmp_path_factory.mktemp("interrupted")
    root = logs / "workspace"
    env = copy_workspace(materialised[0], root)
    before = _output_digests(root)

    # killed just before the new embeddings go into the staging folder that replaces data/embeddings
    process = _stopped_at(root, env, "*/data/.embeddings.*.tmp/items.npy", 1, "item_embeddings", logs / "embeddings.log")
    embeddings_at_kill = [p.stat().st_size for p in (root / "data").glob(".embeddings.*.tmp/.items.npy.*.tmp/items.npy")]
    _kill(process)
    after_embeddings_kill = _output_digests(root)

    # killed just before SASRec's epoch-2 checkpoint replaces the epoch-1 one
    process = _stopped_at(root, env, "*/checkpoints/sasrec_model-sasrec-*.pt", 2, "sasrec_model", logs / "training.log")
    _kill(process)
    after_checkpoint_kill = _output_digests(root)
    (checkpoint,) = (root / "checkpoints").glob("sasrec_model-sasrec-*.pt")
    (killed_checkpoint,) = (root / "checkpoints").glob(f".{checkpoint.name}.*.tmp/{checkpoint.name}")
    epochs = tuple(len(torch.load(path, weights_only=False)["history"]) for path in (checkpoint, killed_checkpoint))

    # forced: the kills changed nothing DVC tracks (--force also bypasses DVC's run cache)
    rerun_log = run([str(VENV_BIN / "dvc"), "repro", "--force", "--single-item", *RERUN], root, env)
    status_after = run([str(VENV_BIN / "dvc"), "status"], root, env)
    return Interrupted(root, before, after_embeddings_kill, after_checkpoint_kill, embeddings_at_kill, epochs, rerun_log, status_after)


def test_a_stage_killed_while_writing_embeddings_leaves_every_output_byte_identical(interrupted: Interrupted) -> None:
    # the kill came with the new embeddings complete under their temporary name, not yet in place
    assert interrupted.embeddings_at_kill == [Layout(interrupted.root).item_embeddings.stat().st_size]
    assert interrupted.after_embeddings_kill == interrupted.before


def test_training_killed_while_writing_a_checkpoint_keeps_the_last_one_and_every_output(interrupted: Interrupted) -> None:
    assert interrupted.checkpoint_epochs == (1, 2)  # epoch 2's checkpoint was complete but never replaced epoch 1's
    assert interrupted.after_checkpoint_kill == interrupted.before


def test_the_next_run_finishes_cleanly_and_resumes_the_killed_training(interrupted: Interrupted) -> None:
    assert all(f"Running stage '{stage}'" in interrupted.rerun_log for stage in RERUN)
    assert re.findall(r"resuming from \S+/(\S+)-\w+\.pt after epoch (\d+)", interrupted.rerun_log) == [("sasrec_model-sasrec", "1")]
    assert "up to date" in interrupted.status_after, interrupted.status_after
    leftovers = [p for folder in ("data", "models", "reports", "checkpoints") for pattern in (".*.tmp", ".*.old")
                 for p in (interrupted.root / folder).rglob(pattern)]
    assert leftovers == [] and not any((interrupted.root / "checkpoints").iterdir())


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_timings(item) for key, item in value.items() if key not in TIMINGS}
    return value


def test_resumed_training_ends_with_the_weights_and_metrics_of_the_uninterrupted_run(
    interrupted: Interrupted, materialised: tuple[Path, dict[str, str], str]
) -> None:
    first, resumed = Layout(materialised[0]), Layout(interrupted.root)
    for model in ("sasrec", "sasrec_text", "comirec"):
        for name in ("model.pt", "history.json"):
            assert (resumed.baselines_dir / model / name).read_bytes() == (first.baselines_dir / model / name).read_bytes(), (model, name)
    summaries = [_without_timings(read_json(layout.stage_metrics("sasrec_model"))) for layout in (first, resumed)]
    assert summaries[0] == summaries[1]


def test_a_second_run_in_other_processes_reproduces_the_first_byte_for_byte(
    interrupted: Interrupted, materialised: tuple[Path, dict[str, str], str]
) -> None:
    first_root = materialised[0]
    first, second = _output_digests(first_root, RERUN), _output_digests(interrupted.root, RERUN)
    assert set(first) == set(second)
    rankings = [path for path in first if path.startswith("reports/rankings/")]
    assert len(rankings) > 10 and all(first[path] == second[path] for path in rankings)
    assert _without_timings(read_json(first_root / "reports/metrics.json")) == _without_timings(
        read_json(interrupted.root / "reports/metrics.json"))  # every metric; only the cost table's timings may differ
    for path in (path for path in first if first[path] != second[path]):
        assert path.endswith(".json"), path  # only JSON records may differ, and only in what they time
        assert _without_timings(read_json(first_root / path)) == _without_timings(read_json(interrupted.root / path)), path


def test_the_last_llm_row_trained_alone_is_the_model_trained_after_the_others(
    interrupted: Interrupted, tmp_path: Path
) -> None:
    """Each LLM row seeds its own training, so a run's rows may train in two workspaces at once and be joined
    by their checkpoints (runs/README.md): the last row trained alone is, byte for byte, the one the whole
    stage trained after every other row."""
    root = tmp_path / "alone"
    env = copy_workspace(interrupted.root, root)
    layout = Layout(root)
    config = yaml.safe_load(layout.resolved_config.read_text())
    last = config["llm"]["variants"][-1]
    config["llm"]["variants"] = [last]
    alone = root / "build" / "alone.yaml"
    alone.write_text(yaml.safe_dump(config))
    run([sys.executable, "-m", "hymirec", "stage", "llm_model", "-c", str(alone)], root, env)
    assert [p.name for p in layout.llm_dir.iterdir()] == [last]
    trained = f"{layout.llm_dir.relative_to(root).as_posix()}/{last}/model.pt"
    assert _output_digests(root, ("llm_model",))[trained] == interrupted.before[trained]
