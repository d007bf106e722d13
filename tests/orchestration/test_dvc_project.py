"""Reading the stage graph from dvc.yaml, and running one stage through `dvc repro`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.dvc_project import _OutputForwarder, read_stages, run_dvc_repro

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_read_stages_lists_every_dvc_yaml_stage_in_order() -> None:
    declared = list(yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    stages = read_stages(PROJECT_ROOT)
    assert [stage.name for stage in stages] == declared
    for stage in stages:
        assert stage.cmd and stage.outs + stage.metrics, stage


def test_upstream_comes_from_outs_to_deps(make_dvc_project) -> None:
    root = make_dvc_project(
        {
            "a": {"cmd": "true", "outs": ["data/a"]},
            "b": {"cmd": "true", "deps": ["data/a/part.parquet"], "outs": ["data/b.parquet"]},  # dep inside an out
            "c": {"cmd": "true", "deps": ["data"], "outs": ["reports/c"]},  # dep is a folder holding outs
            "d": {"cmd": "true", "deps": ["data/b.parquet", "code.py"], "params": [{"params.yaml": ["d"]}], "outs": ["d"]},
            "e": {"cmd": "true", "deps": ["data/ab"], "outs": ["e"]},  # a sibling with a common prefix is no dep
        },
        files={"params.yaml": "d: 1\n"},
    )
    stages = {stage.name: stage for stage in read_stages(root)}
    assert {name: set(stage.upstream) for name, stage in stages.items()} == {
        "a": set(),
        "b": {"a"},
        "c": {"a", "b"},
        "d": {"b"},
        "e": set(),
    }
    assert stages["d"].params_files == ("params.yaml",)
    assert stages["d"].deps == ("data/b.parquet", "code.py", "params.yaml")


def test_failing_stage_raises_failure_with_its_output(failing_project: Path, list_log) -> None:
    with pytest.raises(dg.Failure) as raised:
        run_dvc_repro(failing_project, "doomed", log=list_log)
    description = raised.value.description
    assert "dvc repro --single-item doomed" in description
    assert "doomed-stage-output" in description  # the command's own output
    assert "exited with 3" in description  # DVC's summary of the command's exit status
    assert "doomed-stage-output" in list_log.lines  # streamed to the log as it ran
    assert "doomed-stage-output" in raised.value.metadata["output_tail"].value


def test_repro_runs_then_skips_an_unchanged_stage(two_stage_project: Path, list_log) -> None:
    first = run_dvc_repro(two_stage_project, "produce", log=list_log, env={"MLFLOW_TRACKING_URI": "sqlite:///x.db"})
    assert first.reproduced
    assert "produced 3 rows" in list_log.lines
    assert (two_stage_project / "out" / "data.txt").read_text() == "sqlite:///x.db"
    second = run_dvc_repro(two_stage_project, "produce", log=list_log)
    assert not second.reproduced
    assert "didn't change, skipping" in second.output_tail


def test_repro_outside_a_dvc_repository_says_so(tmp_path: Path, list_log) -> None:
    with pytest.raises(dg.Failure, match="not a DVC repository"):
        run_dvc_repro(tmp_path, "anything", log=list_log)


def test_progress_bar_redraws_are_throttled_and_kept_once_in_the_tail(list_log) -> None:
    forwarder = _OutputForwarder(list_log)
    data = "epoch 1\n\r 10%\r 50%\r 90%\r\ndone ✓\n".encode()
    for start in range(0, len(data), 3):  # chunks cut inside "\r\n" and inside the 3-byte "✓"
        forwarder.feed(data[start : start + 3])
    forwarder.close()
    # the first redraw is logged, the next ones within PROGRESS_LOG_INTERVAL_S are not
    assert list_log.lines == ["epoch 1", " 10%", " 90%", "done ✓"]
    assert forwarder.tail().splitlines() == ["epoch 1", " 90%", "done ✓"]
