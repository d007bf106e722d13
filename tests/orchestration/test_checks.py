"""Blocking asset checks: they call the data_checks suites on the stage outputs and report the verdict.

The suites themselves are tested in tests/data_checks; here they are replaced by recording fakes so
the wiring (which files, which config values, pass/fail mapping) is checked on its own, and once for
real on the stored files (read by DuckDB, as the stages check them).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

import data_checks.raw_logs
import data_checks.sequences
from data_checks.errors import DataValidationError, RuleFailure
from data_checks.raw_logs import RawLogRules
from hymirec.paths import Layout
from orchestration.checks import check_raw_logs_expectations, check_sequences_expectations
from orchestration.resources import DvcProject


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Stage outputs of a 2-user, 3-item data set and a config with non-default thresholds."""
    layout = Layout(tmp_path)
    layout.raw_dir.mkdir(parents=True)
    layout.sequences_dir.mkdir(parents=True)
    pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["a", "b", "c"], "timestamp": [10, 20, 30]}).to_parquet(layout.raw_interactions)
    pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["A", "B", "C"]}).to_parquet(layout.raw_items)
    pd.DataFrame({"user": [0, 1], "items": [[1, 2, 3], [2, 3, 1]]}).to_parquet(layout.sequences)
    pd.DataFrame({"item_id": ["a", "b", "c"], "index": [1, 2, 3]}).to_parquet(layout.item_map)
    (tmp_path / "params.yaml").write_text("config: configs/default.yaml\n", encoding="utf-8")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").write_text(
        "data:\n  timestamp_min: 5\n  timestamp_max: 100\nsequences:\n  min_user_interactions: 4\n", encoding="utf-8"
    )
    return tmp_path


def fake_suite(monkeypatch: pytest.MonkeyPatch, module: str, function: str, outcome: Any) -> list[dict[str, Any]]:
    """Install ``data_checks.<module>.<function>`` returning ``outcome`` (or raising it); returns its calls."""
    calls: list[dict[str, Any]] = []

    def validate(*args: Any, **kwargs: Any) -> Any:
        calls.append({"args": args, **kwargs})
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    fake = types.ModuleType(f"data_checks.{module}")  # the real module's names (RawLogRules …), one function faked
    fake.__dict__.update({name: value for name, value in vars(importlib.import_module(fake.__name__)).items() if not name.startswith("__")})
    setattr(fake, function, validate)
    monkeypatch.setitem(sys.modules, f"data_checks.{module}", fake)
    return calls


def test_raw_logs_check_passes_with_the_suite_summary(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_suite(monkeypatch, "raw_logs", "validate_raw_log_files", {"evaluated": 7, "success_percent": 100.0})
    result = check_raw_logs_expectations(dvc_project=DvcProject(root=str(workspace)))
    assert result.passed
    assert result.metadata["evaluated"] == dg.IntMetadataValue(7)
    (call,) = calls
    layout = Layout(workspace)
    assert call["args"] == (layout.raw_interactions, layout.raw_items, RawLogRules(timestamp_min=5, timestamp_max=100))  # configs/default.yaml's
    assert call["docs_dir"] == layout.data_docs_dir
    args, kwargs = call.pop("args"), call
    inspect.signature(data_checks.raw_logs.validate_raw_log_files).bind(*args, **kwargs)  # the real suite takes this call


def test_the_real_suites_read_the_stored_files(workspace: Path) -> None:
    """Unfaked, on the stored Parquet files read by DuckDB: each suite names the file and a rule the tiny
    workspace breaks (its users are shorter than any split needs)."""
    for check, file in ((check_raw_logs_expectations, "interactions.parquet"), (check_sequences_expectations, "sequences.parquet")):
        result = check(dvc_project=DvcProject(root=str(workspace)))
        assert not result.passed and file in result.description and result.metadata["broken_rules"].value, result.description


def test_raw_logs_check_fails_with_the_suite_message(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = DataValidationError(
        [RuleFailure(file="data/raw/interactions.parquet", rule="timestamp_in_range", sample_rows=({"row": 2, "timestamp": 3},))]
    )
    fake_suite(monkeypatch, "raw_logs", "validate_raw_log_files", error)
    result = check_raw_logs_expectations(dvc_project=DvcProject(root=str(workspace)))
    assert not result.passed
    assert "timestamp_in_range" in result.description and "interactions.parquet" in result.description
    assert result.metadata["broken_rules"] == dg.TextMetadataValue("timestamp_in_range")
    assert "row 2: timestamp=3" in result.metadata["error"].value


def test_sequences_check_passes_config_and_catalog_size(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_suite(monkeypatch, "sequences", "validate_sequence_file", {"evaluated": 4})
    result = check_sequences_expectations(dvc_project=DvcProject(root=str(workspace)))
    assert result.passed
    (call,) = calls
    assert call["args"] == (Layout(workspace).sequences,)
    assert call["num_items"] == 3
    assert call["min_user_interactions"] == 4
    args, kwargs = call.pop("args"), call
    inspect.signature(data_checks.sequences.validate_sequence_file).bind(*args, **kwargs)


def test_sequences_check_fails_on_a_broken_rule(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = DataValidationError([RuleFailure(file="data/sequences/sequences.parquet", rule="min_length", detail="2 rows")])
    fake_suite(monkeypatch, "sequences", "validate_sequence_file", error)
    result = check_sequences_expectations(dvc_project=DvcProject(root=str(workspace)))
    assert not result.passed and "min_length" in result.description


def test_missing_stage_output_fails_the_check(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_suite(monkeypatch, "sequences", "validate_sequence_file", {})
    Layout(workspace).item_map.unlink()
    result = check_sequences_expectations(dvc_project=DvcProject(root=str(workspace)))
    assert not result.passed and "items.parquet" in result.description
