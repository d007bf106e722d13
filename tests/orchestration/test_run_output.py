"""The last lines of `python -m orchestration.run` (`make run`): the metrics table after a run, the failing
stage's own error after a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from hymirec.cli import metrics_summary
from orchestration.run import main, stage_error_line

pytestmark = pytest.mark.usefixtures("collect_garbage")

METRICS = '{"test": {"sasrec": {"ndcg@10": 0.15625, "recall@10": 0.28}}, "valid": {"sasrec": {"ndcg@10": 0.17, "recall@10": 0.3}}}'

FAILING_STAGE = """\
import logging, sys
logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("hymirec").info("reading data/raw/interactions.csv")
print("error: data/raw/interactions.csv: rule timestamp_in_range failed on 2 rows", file=sys.stderr)
print("  row 2: timestamp=3", file=sys.stderr)
sys.exit(1)
"""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            "Running stage 'raw_logs':\n> hymirec stage raw_logs -c configs/default.yaml\nINFO hymirec: reading\n"
            "error: interactions.csv: rule timestamp_in_range failed on 2 rows\n  row 2: timestamp=3\n"
            "ERROR: failed to reproduce 'raw_logs': failed to run: hymirec stage raw_logs, exited with 1",
            "error: interactions.csv: rule timestamp_in_range failed on 2 rows",
            id="hymirec-error-with-details",
        ),
        pytest.param(
            "Running stage 'codebook':\n> hymirec stage codebook\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
            "ValueError: codebook.n_codes=512 exceeds the 300 items\nERROR: failed to reproduce 'codebook': failed to run: hymirec stage codebook, exited with 1",
            "ValueError: codebook.n_codes=512 exceeds the 300 items",
            id="traceback",
        ),
        pytest.param(
            "ERROR: failed to reproduce 'consume': missing data 'source': out/data.txt",
            "ERROR: failed to reproduce 'consume': missing data 'source': out/data.txt",
            id="command-never-ran",
        ),
        pytest.param("", None, id="no-output"),
    ],
)
def test_the_stage_error_line_is_found_in_dvc_output(output: str, expected: str | None) -> None:
    assert stage_error_line(output) == expected


def test_a_failed_run_ends_with_the_failing_stages_own_error(
    make_dvc_project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_dvc_project(
        {"ingest": {"cmd": "python fail.py", "deps": ["fail.py"], "outs": ["out"]}},
        files={"fail.py": FAILING_STAGE, "configs/default.yaml": "{}\n", "params.yaml": "config: configs/default.yaml\n"},
    )
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert main(["--root", str(root)]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-2:]
    assert last[0].startswith("error: pipeline run ") and "steps: ['ingest']" in last[0]
    assert last[1] == "ingest: error: data/raw/interactions.csv: rule timestamp_in_range failed on 2 rows"


def test_a_run_ends_with_the_table_hymirec_metrics_prints(
    make_dvc_project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_dvc_project(
        {"evaluation_report": {"cmd": "mkdir -p reports && cp metrics_source.json reports/metrics.json", "deps": ["metrics_source.json"],
                               "metrics": [{"reports/metrics.json": {"cache": False}}]}},
        files={"metrics_source.json": METRICS, "configs/default.yaml": "{}\n", "params.yaml": "config: configs/default.yaml\n"},
    )
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert main(["--root", str(root)]) == 0
    out = capsys.readouterr().out
    table = metrics_summary(root / "reports" / "metrics.json")
    assert out.endswith(f"\n\n{table}\n") and "| sasrec |  0.1562 |    0.2800 |" in table
