"""new_raw_logs_sensor, one tick per situation, carrying the cursor from tick to tick."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from hymirec.config import DataConfig, HyMiRecConfig, load_config
from hymirec.paths import Layout
from hymirec.stages import raw_logs
from orchestration.dvc_project import repro_environment
from orchestration.dvc_project import chosen_config
from orchestration.resources import DvcProject, RawLogInbox
from orchestration.sensors import new_raw_logs_sensor

GOOD_LOGS = Path(__file__).resolve().parents[1] / "data" / "good_logs"


def tick(root: Path, cursor: str | None = None, inbox: RawLogInbox | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor, resources={"dvc_project": DvcProject(root=str(root)), "raw_log_inbox": inbox or RawLogInbox()}
    )
    return new_raw_logs_sensor(context)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "incoming"
    folder.mkdir(parents=True)
    return folder


def test_no_files_skips(tmp_path: Path) -> None:
    result = tick(tmp_path)  # the inbox folder does not even exist yet
    assert not result.run_requests
    assert "no new or changed raw log files" in result.skip_reason.skip_message


def test_new_file_requests_a_run(tmp_path: Path, inbox: Path) -> None:
    (inbox / "interactions.csv").write_text("user_id,item_id,timestamp\nu,i,1\n")
    result = tick(tmp_path)
    (request,) = result.run_requests
    assert request.run_key
    assert request.tags["hymirec/changed_files"] == "interactions.csv"
    assert "interactions.csv" in result.cursor


def test_same_files_again_skip(tmp_path: Path, inbox: Path) -> None:
    (inbox / "interactions.csv").write_text("user_id,item_id,timestamp\nu,i,1\n")
    first = tick(tmp_path)
    second = tick(tmp_path, cursor=first.cursor)
    assert not second.run_requests and second.skip_reason
    assert second.cursor == first.cursor


def test_modified_file_requests_a_new_run(tmp_path: Path, inbox: Path) -> None:
    path = inbox / "interactions.csv"
    path.write_text("user_id,item_id,timestamp\nu,i,1\n")
    first = tick(tmp_path)
    path.write_text("user_id,item_id,timestamp\nu,i,1\nu,j,2\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    second = tick(tmp_path, cursor=first.cursor)
    (request,) = second.run_requests
    assert request.run_key != first.run_requests[0].run_key
    assert request.tags["hymirec/changed_files"] == "interactions.csv"


def test_a_second_new_file_requests_a_run_naming_only_it(tmp_path: Path, inbox: Path) -> None:
    (inbox / "interactions.csv").write_text("a\n")
    first = tick(tmp_path)
    (inbox / "batch2").mkdir()
    (inbox / "batch2" / "items.parquet").write_bytes(b"PAR1")
    (request,) = tick(tmp_path, cursor=first.cursor).run_requests
    assert request.tags["hymirec/changed_files"] == "batch2/items.parquet"


def test_hidden_and_unrelated_files_are_ignored(tmp_path: Path, inbox: Path) -> None:
    (inbox / ".interactions.csv.tmp").write_text("being written")
    (inbox / ".partial.csv").write_text("being written")
    (inbox / "README.txt").write_text("drop files here")
    assert not tick(tmp_path).run_requests


def test_removed_file_only_updates_the_cursor(tmp_path: Path, inbox: Path) -> None:
    (inbox / "old.csv").write_text("a\n")
    first = tick(tmp_path)
    (inbox / "old.csv").unlink()
    second = tick(tmp_path, cursor=first.cursor)
    assert not second.run_requests
    assert "removed: old.csv" in second.skip_reason.skip_message
    assert second.cursor == "{}"


def test_watched_folder_is_configurable(tmp_path: Path) -> None:
    elsewhere = tmp_path / "drop"
    elsewhere.mkdir()
    (elsewhere / "log.tsv").write_text("a\n")
    assert tick(tmp_path, inbox=RawLogInbox(path=str(elsewhere))).run_requests
    assert not tick(tmp_path, inbox=RawLogInbox(path="drop", patterns=["*.csv"])).run_requests


def test_sensor_targets_pipeline_job_and_is_on_by_default() -> None:
    assert new_raw_logs_sensor.job_name == "pipeline_job"
    assert new_raw_logs_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_rejected_files_do_not_start_a_run(tmp_path: Path, inbox: Path) -> None:
    (inbox / "rejected").mkdir()
    (inbox / "rejected" / "bad.csv").write_text("a\n")  # raw_logs moved it here: not new data
    assert not tick(tmp_path).run_requests


def test_the_folder_watched_is_the_one_raw_logs_reads_and_dvc_tracks() -> None:
    root = Path(__file__).resolve().parents[2]
    inbox = load_config(root / chosen_config(root)).data.inbox
    raw_logs_deps = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["raw_logs"]["deps"]
    assert RawLogInbox().path == str(inbox) and str(inbox) in raw_logs_deps


def test_a_files_source_run_reads_the_files_the_sensor_saw(tmp_path: Path, inbox: Path) -> None:
    """data.source: files with its files in the inbox; a later file joins the log, a bad one is set aside."""
    for name in ("interactions.csv", "items.csv"):
        shutil.copy(GOOD_LOGS / name, inbox / name)
    data = DataConfig(source="files", interactions_path=inbox / "interactions.csv", items_path=inbox / "items.csv", inbox="data/incoming")
    config, layout = HyMiRecConfig(data=data), Layout(tmp_path)
    first = tick(tmp_path)
    assert first.run_requests[0].tags["hymirec/changed_files"] == "interactions.csv, items.csv"
    raw_logs.run(config, layout)  # what the requested run materialises first
    assert len(pd.read_parquet(layout.raw_interactions)) == 6

    (inbox / "batch.csv").write_text("user_id,item_id,timestamp\nu3,i1,978301000\n")
    (inbox / "bad.csv").write_text("user_id,item_id,timestamp\nu3,i404,978301001\n")
    second = tick(tmp_path, cursor=first.cursor)
    assert second.run_requests[0].tags["hymirec/changed_files"] == "bad.csv, batch.csv"
    raw_logs.run(config, layout)
    assert pd.read_parquet(layout.raw_interactions).tail(1).values.tolist() == [["u3", "i1", 978301000]]
    assert (inbox / "rejected" / "bad.csv.reason.txt").exists()
    assert not tick(tmp_path, cursor=second.cursor).run_requests  # the run's own moves start no run


RUN_RAW_LOGS = (
    "from pathlib import Path; from hymirec.config import load_config; from hymirec.paths import Layout; "
    "from hymirec.stages import raw_logs; raw_logs.run(load_config(\"config.yaml\"), Layout(Path.cwd()))"
)


def test_dvc_repro_reruns_raw_logs_when_a_file_is_dropped_and_is_clean_after(make_dvc_project) -> None:
    """The run the sensor starts is `dvc repro`: the inbox is a raw_logs dep, and the files the stage moves
    to rejected/ leave DVC's record of that dep true (DVC hashes deps after the command)."""
    config = {"data": {"source": "files", "interactions_path": "data/incoming/interactions.csv", "items_path": "data/incoming/items.csv", "inbox": "data/incoming"}}
    stage = {
        # the stage's run() without the CLI, whose torch import would cost seconds here
        "cmd": f"{sys.executable} -c '{RUN_RAW_LOGS}'",
        "deps": ["data/incoming"],
        "params": [{"config.yaml": ["data"]}],
        "outs": [{"data/raw": {"persist": True}}],
    }
    files = {f"data/incoming/{name}": (GOOD_LOGS / name).read_text() for name in ("interactions.csv", "items.csv")}
    root = make_dvc_project({"raw_logs": stage}, files={**files, "config.yaml": yaml.safe_dump(config)})
    env = repro_environment({"PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    dvc = lambda *args: subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=env, capture_output=True, text=True, check=True).stdout  # noqa: E731
    dvc("repro")
    (root / "data" / "incoming" / "batch.csv").write_text("user_id,item_id,timestamp\nu3,i1,978301000\n")
    (root / "data" / "incoming" / "bad.csv").write_text("user_id,item_id,timestamp\n,i1,978301001\n")
    assert "changed deps" in dvc("status")
    dvc("repro")
    assert len(pd.read_parquet(Layout(root).raw_interactions)) == 7
    assert (root / "data" / "incoming" / "rejected" / "bad.csv.reason.txt").exists()
    assert "up to date" in dvc("status")
