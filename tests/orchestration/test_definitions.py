"""The Dagster definitions load, and their asset graph is the `dvc dag` of dvc.yaml."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from hymirec.paths import Layout
from orchestration.definitions import defs
from orchestration.dvc_project import read_stages, repro_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def asset_edges(definitions: dg.Definitions) -> set[tuple[str, str]]:
    """(upstream, downstream) asset-key pairs."""
    graph = definitions.resolve_asset_graph()
    return {
        (parent.to_user_string(), key.to_user_string())
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
    }


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("pipeline_job")
    assert defs.resolve_schedule_def("retrain_schedule")
    assert defs.resolve_sensor_def("new_raw_logs_sensor")


def test_one_asset_per_stage_in_group_hymirec() -> None:
    stage_names = set(yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    specs = list(defs.resolve_all_asset_specs())
    assert {spec.key.to_user_string() for spec in specs} == stage_names
    assert {spec.group_name for spec in specs} == {"hymirec"}
    assert all("dvc repro --single-item" in (spec.description or "") for spec in specs)


def test_asset_graph_edges_equal_dvc_index_graph() -> None:
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(str(PROJECT_ROOT), uninitialized=True) as repo:
        # DVC's graph points from a stage to the stage it depends on
        dvc_edges = {
            (dependency.name, stage.name)
            for stage, dependency in repo.index.graph.edges
            if isinstance(stage, PipelineStage) and isinstance(dependency, PipelineStage)
        }
    assert dvc_edges, "dvc.yaml should have at least one stage depending on another"
    assert asset_edges(defs) == dvc_edges


def test_asset_graph_edges_equal_dvc_dag_command(dvc_template: Path, tmp_path: Path) -> None:
    """`dvc dag --dot` run on a copy of dvc.yaml (in a fresh repo, so the checkout needs no `dvc init`)."""
    root = tmp_path / "copy"
    shutil.copytree(dvc_template, root)
    shutil.copy(PROJECT_ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copy(PROJECT_ROOT / "params.yaml", root / "params.yaml")  # dvc.yaml's ${config} comes from it
    dot = subprocess.run(
        [sys.executable, "-m", "dvc", "dag", "--dot"], cwd=root, check=True, env=repro_environment(), capture_output=True, text=True
    ).stdout
    dag_edges = set(re.findall(r'"([^"]+)" -> "([^"]+)"', dot))
    assert dag_edges and asset_edges(defs) == dag_edges


def test_asset_checks_are_blocking_and_guard_the_data_stages() -> None:
    checks = {key.name: key.asset_key.to_user_string() for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {
        "check_raw_logs_expectations": "raw_logs",
        "check_sequences_expectations": "validated_sequences",
        "check_item_embeddings_unit_norm": "item_embeddings",
    }
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).blocking, key


def test_pipeline_job_runs_everything_in_process() -> None:
    job = defs.resolve_job_def("pipeline_job")
    assert job.executor_def.name == "in_process"
    assert job.asset_layer.asset_graph.get_all_asset_keys() == defs.resolve_asset_graph().get_all_asset_keys()
    assert job.asset_layer.asset_graph.asset_check_keys == defs.resolve_asset_graph().asset_check_keys


def test_metrics_files_in_dvc_yaml_match_layout() -> None:
    """The asset reads a stage's metrics from dvc.yaml; the stage code writes Layout.stage_metrics."""
    layout = Layout(PROJECT_ROOT)
    for stage in read_stages(PROJECT_ROOT):
        if stage.name == "resolved_config":  # writes a config, no metrics
            assert stage.metrics == (), stage.name
            continue
        expected = layout.stage_metrics(stage.name).relative_to(PROJECT_ROOT).as_posix()
        assert stage.metrics == (expected,), stage.name
