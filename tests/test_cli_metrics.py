"""`hymirec metrics`: the evaluation metrics as a model × metric table per split, 4 decimals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hymirec.cli import main, metrics_summary

METRICS = {
    "valid": {"sasrec": {"mrr": 0.1, "ndcg@10": 0.2, "recall@10": 0.3, "catalog_coverage@10": 0.4}},
    "test": {
        "popularity": {"mrr": 0.019886932921417945, "ndcg@10": 0.01781499649694793, "recall@10": 0.03625827814569536, "catalog_coverage@10": 0.05},
        "hymirec": {"mrr": 0.12341986745378714, "ndcg@10": 0.14263744633215938, "recall@10": 0.25596026490066226, "catalog_coverage@10": 0.48},
    },
    "compression": {},
}


@pytest.fixture
def metrics_file(tmp_path: Path) -> Path:
    path = tmp_path / "reports" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps(METRICS))
    return path


def test_headline_metrics_per_split_test_first_aligned_with_4_decimals(metrics_file: Path) -> None:
    assert metrics_summary(metrics_file).splitlines() == [
        "test",
        "| model      | ndcg@10 | recall@10 |    mrr |",
        "|------------|--------:|----------:|-------:|",
        "| popularity |  0.0178 |    0.0363 | 0.0199 |",
        "| hymirec    |  0.1426 |    0.2560 | 0.1234 |",
        "",
        "valid",
        "| model  | ndcg@10 | recall@10 |    mrr |",
        "|--------|--------:|----------:|-------:|",
        "| sasrec |  0.2000 |    0.3000 | 0.1000 |",
    ]


def test_all_shows_every_metric_in_the_files_order(metrics_file: Path) -> None:
    header = metrics_summary(metrics_file, every_metric=True).splitlines()[1]
    assert header.split("|")[1:-1] == [" model      ", "    mrr ", " ndcg@10 ", " recall@10 ", " catalog_coverage@10 "]


def test_the_command_reads_the_workspaces_reports_metrics_json_by_default(
    metrics_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(metrics_file.parents[1])
    assert main(["metrics"]) == 0
    assert capsys.readouterr().out == metrics_summary(metrics_file) + "\n"


def test_a_missing_or_foreign_file_is_one_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope" / "metrics.json"
    assert main(["metrics", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {missing} does not exist") and "Traceback" not in err
    other = tmp_path / "raw_logs.json"
    other.write_text('{"rows": 3}')
    assert main(["metrics", str(other)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {other}: no 'test' or 'valid' table")
