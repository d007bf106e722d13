"""benchmarks/scale.py at a tiny size: each measurement runs in its own child process, and the report has
what docs/scale.md reads (runs with time and peak RSS, a growth exponent per stage, one line per stage)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("scale", ROOT / "benchmarks" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scale", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # ~60 s on 2 shared cores: four whole stage runs, each a process that imports GE
def test_the_benchmark_measures_the_data_stages_at_two_sizes(tmp_path: Path, capsys) -> None:
    script = _script()
    out = tmp_path / "scale.json"
    script.main(["--sizes", "2e4,6e4", "--downstream-sizes", "", "--engine-size", "0", "--polars-sizes", "", "--data", str(tmp_path / "data"),
                 "--out", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert [(run["stage"], run["events"]) for run in runs] == [
        ("raw_logs", 20_000), ("validated_sequences", 20_000), ("raw_logs", 60_000), ("validated_sequences", 60_000)
    ]  # fmt: skip
    for run in runs:
        assert run["seconds"] > 0 and 20 < run["peak_rss_mb"] < 4096 and run["users"] > 0 and run["items"] > 0, run
    assert set(report["growth_exponent"]) == {"raw_logs", "validated_sequences"}
    assert report["threads"] == 1 and report["thread_settings"]["POLARS_MAX_THREADS"] == "1"
    assert runs[1]["raw_events"] == 20_000 and runs[3]["output_events"] + runs[3]["repeated_events_dropped"] == 60_000
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("raw_logs: 20k ") and "time ~ events^" in line for line in lines)
    assert any(line.startswith("validated_sequences: 20k ") for line in lines)

    script.main(["--sizes", "", "--downstream-sizes", "", "--engine-size", "0", "--polars-sizes", "6e4", "--data",
                 str(tmp_path / "data"), "--out", str(out), "--append"])  # fmt: skip
    appended = json.loads(out.read_text())
    assert appended["runs"] == runs and [(run["stage"], run["engine"]) for run in appended["engines"]] == [
        ("raw_logs", "polars"), ("validated_sequences", "polars")
    ]  # fmt: skip
    assert appended["appended"][0]["commit"] == report["commit"] and appended["engines"][1]["output_users"] > 0


def test_the_growth_exponent_is_the_log_log_slope() -> None:
    script = _script()
    assert script.growth_exponent([(10**6, 2.0), (10**7, 20.0), (10**8, 200.0)]) == 1.0
    assert script.growth_exponent([(10**6, 1.0), (10**8, 100.0 * 10)]) == 1.5
    assert script.growth_exponent([(10**6, 1.0)]) is None
