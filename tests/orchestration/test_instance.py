"""$DAGSTER_HOME as `make run` and `make dagster` prepare it: no first-visit dialog in the UI, no telemetry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.instance import prepare_dagster_home

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_home_gets_an_instance_without_the_join_the_community_dialog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert prepare_dagster_home(tmp_path) == home.resolve()
    with dg.DagsterInstance.get() as instance:  # what `dagster dev` reads from the same folder
        assert not instance.nux_enabled and not instance.telemetry_enabled
        assert not instance.is_ephemeral


def test_default_home_is_under_the_root_and_the_variable_is_set_for_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = prepare_dagster_home(tmp_path)
    assert home == (tmp_path / ".dagster_home").resolve() and os.environ["DAGSTER_HOME"] == str(home)


def test_settings_a_user_wrote_are_kept_and_missing_ones_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("# mine\ntelemetry:\n  enabled: true\nrun_monitoring:\n  enabled: true\n")
    prepare_dagster_home(tmp_path)
    text = (tmp_path / "dagster.yaml").read_text()
    assert text.startswith("# mine\n")
    assert yaml.safe_load(text) == {"nux": {"enabled": False}, "telemetry": {"enabled": True}, "run_monitoring": {"enabled": True}}
    before = (tmp_path / "dagster.yaml").stat().st_mtime_ns
    prepare_dagster_home(tmp_path)  # nothing to add: the file is left alone
    assert (tmp_path / "dagster.yaml").stat().st_mtime_ns == before


def test_make_dagster_prepares_the_home_before_starting_the_ui(tmp_path: Path) -> None:
    dry_run = subprocess.run(["make", "-n", "dagster", f"DAGSTER_HOME={tmp_path}"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    (command,) = [line for line in dry_run.stdout.splitlines() if "dagster dev" in line]
    prepare, _, start = command.partition(" && ")
    assert prepare.endswith("python -m orchestration.instance") and "dagster dev -m orchestration.definitions" in start
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "ui_home")}
    subprocess.run([sys.executable, "-m", "orchestration.instance"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    assert yaml.safe_load((tmp_path / "ui_home" / "dagster.yaml").read_text()) == {"nux": {"enabled": False}, "telemetry": {"enabled": False}}
