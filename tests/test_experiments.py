"""Published runs are DVC experiments of the one dvc.yaml: two seeds queued, run, and read back with `dvc exp show`.

The real pipeline on MovieLens-100K (every stage, tiny budgets, HyMiRec only), queued with
``python -m orchestration.experiment --queue`` and run with ``--run-queue``: each experiment runs in
DVC's temporary copy of the repository, so the stage commands must work without the workspace's venv
folder and with their own copy of the code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipeline import build_workspace, run, workspace_env

pytestmark = pytest.mark.slow

SEEDS = (1, 2)


def _tiny(seed: int) -> dict:
    # what the test is about is the queue, not the models: every stage at its cheapest (short item texts,
    # one codebook fit without the curve's baselines, one epoch of one model per stage)
    return {"extends": "ml100k.yaml", "seed": seed, "item_embeddings": {"max_length": 16},
            "codebook": {"num_layers": 2, "curve_max_layers": 1, "compare_baselines": False},
            "sasrec": {"max_epochs": 1, "train_text_twin": False}, "comirec": {"enabled": False},
            "coarse": {"train_exact_twin": False}, "llm": {"variants": ["hymirec"]}}


@pytest.fixture(scope="module")
def queued_runs(tmp_path_factory: pytest.TempPathFactory, smollm2_cache: Path) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("experiments")
    env = build_workspace(root, smollm2_cache)
    for seed in SEEDS:
        (root / "configs" / f"tiny_seed{seed}.yaml").write_text(yaml.safe_dump(_tiny(seed)))
    run(["git", "add", "-A"], root, env)
    run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qm", "tiny configs"], root, env)
    for seed in SEEDS:
        run([sys.executable, "-m", "orchestration.experiment", f"configs/tiny_seed{seed}.yaml", "--queue", "--name", f"seed{seed}",
             "--root", str(root)], root, env)
    assert (root / "params.yaml").read_text() == (Path(__file__).parents[1] / "params.yaml").read_text()  # queueing left it
    run([sys.executable, "-m", "orchestration.experiment", "--run-queue", "--root", str(root)], root, env, timeout=1800)
    return root, _shown(root, env)


def _shown(root: Path, env: dict[str, str]) -> list[dict]:
    """`dvc exp show --json` of the workspace at ``root``."""
    shown = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=root, env=env, capture_output=True,
                           text=True, check=True)
    return json.loads(shown.stdout)


def _experiments(shown: list[dict]) -> dict[str, dict]:
    """{experiment name: its `dvc exp show --json` data} of the experiments based on the workspace's commit."""
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for revision in experiment["revs"]:
                found[revision["name"]] = revision["data"]
    return found


def test_both_queued_seeds_ran_and_dvc_exp_shows_their_config_and_metrics(queued_runs) -> None:
    _, shown = queued_runs
    experiments = _experiments(shown)
    assert set(experiments) >= {"seed1", "seed2"}, experiments.keys()
    ndcg = {}
    for seed in SEEDS:
        data = experiments[f"seed{seed}"]
        params = data["params"]
        assert params["params.yaml"]["data"]["config"] == f"configs/tiny_seed{seed}.yaml"
        assert params["build/config.yaml"]["data"]["seed"] == seed  # the resolved config DVC tracks
        metrics = data["metrics"]["reports/metrics.json"]["data"]
        ndcg[seed] = metrics["test"]["hymirec"]["ndcg@10"]
        assert 0 < ndcg[seed] < 0.5
    assert ndcg[1] != ndcg[2]  # two seeds, two trainings


def test_an_experiment_of_one_stage_runs_no_stage_after_it(queued_runs) -> None:
    root, _ = queued_runs
    env = workspace_env(root)
    output = run([sys.executable, "-m", "orchestration.experiment", "configs/tiny_seed1.yaml", "--stage", "resolved_config",
                  "--name", "config-only", "--root", str(root)], root, env)
    assert "Running stage 'resolved_config'" in output  # params.yaml now names tiny_seed1.yaml
    assert "Running stage 'raw_logs'" not in output  # nothing after it ran (the queue ran in DVC's copies)
    assert not (root / "data" / "raw").exists()
    assert yaml.safe_load((root / "build" / "config.yaml").read_text())["seed"] == 1
    assert "config-only" in _experiments(_shown(root, env))
