"""`python -m orchestration.run`: the whole graph in one in-process run, recorded in $DAGSTER_HOME."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from data_checks.errors import DataValidationError, RuleFailure
from data_checks.raw_logs import RawLogRules
from orchestration.dvc_project import chosen_config
from orchestration.run import main

CHOICE = "config: configs/default.yaml\n"  # params.yaml: the config file a run reads

pytestmark = pytest.mark.usefixtures("collect_garbage")


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instance for the module: creating its SQLite storage costs seconds."""
    return tmp_path_factory.mktemp("dagster_home")


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagster_home: Path) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return dagster_home


def test_run_materialises_everything_and_prints_the_report(
    one_stage_project: Path, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = one_stage_project
    assert main(["--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"Report:  {root / 'reports' / 'evaluation.md'}" in out
    assert f"Metrics: {root / 'reports' / 'metrics.json'}" in out
    assert (root / "out" / "data.txt").exists()
    run_id = re.search(r"Pipeline run (\S+) succeeded", out).group(1)
    with dg.DagsterInstance.get() as instance:  # the persistent instance `dagster dev` would show
        run = instance.get_run_by_id(run_id)
        assert run.job_name == "pipeline_job" and run.is_success
        assert instance.get_latest_materialization_event(dg.AssetKey("produce")) is not None


def test_failed_blocking_check_stops_downstream_and_exits_non_zero(
    make_dvc_project, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stages = {  # raw_logs "writes" data/raw prepared below (persist: keeps it), and its metrics
        "raw_logs": {
            "cmd": "mkdir -p reports && cp raw_metrics.json reports/raw_logs.json",
            "deps": ["raw_metrics.json"],
            "outs": [{"data/raw": {"persist": True}}],
            "metrics": [{"reports/raw_logs.json": {"cache": False}}],
        },
        "downstream": {"cmd": "touch downstream.txt", "deps": ["data/raw"], "outs": ["downstream.txt"]},
    }
    root = make_dvc_project(stages, files={"raw_metrics.json": '{"rows": 1}', "configs/default.yaml": "{}\n", "params.yaml": CHOICE})
    (root / "data" / "raw").mkdir(parents=True)
    pd.DataFrame({"user_id": ["u1"], "item_id": ["a"], "timestamp": [1]}).to_parquet(root / "data/raw/interactions.parquet")
    pd.DataFrame({"item_id": ["a"], "title": ["A"]}).to_parquet(root / "data/raw/items.parquet")
    broken = DataValidationError([RuleFailure(file="data/raw/interactions.parquet", rule="timestamp_in_range")])

    def validate_raw_log_files(interactions, items, rules, **kwargs):
        raise broken

    fake = types.ModuleType("data_checks.raw_logs")
    fake.RawLogRules, fake.validate_raw_log_files = RawLogRules, validate_raw_log_files
    monkeypatch.setitem(sys.modules, "data_checks.raw_logs", fake)

    assert main(["--root", str(root)]) == 1
    assert "raw_logs:check_raw_logs_expectations" in capsys.readouterr().err
    assert (root / "data" / "raw" / "items.parquet").exists()
    assert not (root / "downstream.txt").exists()  # the blocking check stopped the downstream stage


def test_a_config_that_is_missing_or_invalid_is_refused_before_anything_runs(
    make_dvc_project, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_dvc_project(
        {"s": {"cmd": "touch o", "params": ["config"], "outs": ["o"]}},
        files={"configs/default.yaml": "seed: 1\n", "configs/typo.yaml": "extends: default.yaml\nsed: 2\n", "params.yaml": CHOICE},
    )
    assert main(["--root", str(root), "--config", "configs/missing.yaml"]) == 2
    assert "configs/missing.yaml does not exist" in capsys.readouterr().err
    assert main(["--root", str(root), "--config", "configs/typo.yaml"]) == 2
    assert "sed" in capsys.readouterr().err
    assert chosen_config(root) == "configs/default.yaml" and not (root / "o").exists()  # nothing chosen, nothing run
    (root / "params.yaml").unlink()
    assert main(["--root", str(root)]) == 2
    assert "params.yaml: needs `config: configs/<name>.yaml`" in capsys.readouterr().err


def test_a_chosen_config_is_written_into_params_yaml_and_run(make_dvc_project, isolated_env: Path) -> None:
    """`--config` picks the experiment as `dvc exp run -S config=…` would: params.yaml names it, DVC runs it."""
    root = make_dvc_project(
        {"s": {"cmd": "cp ${config} o", "params": ["config"], "outs": ["o"]}},
        files={"configs/default.yaml": "seed: 1\n", "configs/small.yaml": "extends: default.yaml\nseed: 2\n", "params.yaml": CHOICE},
    )
    assert main(["--root", str(root), "--config", "configs/small.yaml"]) == 0
    assert chosen_config(root) == "configs/small.yaml"
    assert (root / "o").read_text() == "extends: default.yaml\nseed: 2\n"
