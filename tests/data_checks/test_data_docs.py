"""Data Docs: each suite run with a docs folder writes GE's HTML site there, passing or failing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data_checks import runner
from data_checks.errors import DataValidationError
from data_checks.raw_logs import RawLogRules, check_logs
from data_checks.sequences import validate_sequences
from hymirec.data.schema import RawLogs
from data_checks.validate_files import read_user_files

GOOD = Path(__file__).resolve().parents[1] / "data" / "good_logs"
RULES = RawLogRules(timestamp_min=0, timestamp_max=4_102_444_800)


def _sequences() -> pd.DataFrame:
    return pd.DataFrame(
        {"user_idx": [0, 1], "user_id": ["u1", "u2"], "items": [[0, 1, 2], [2, 1, 0]], "timestamps": [[1, 2, 3], [4, 5, 6]]}
    )


def _validation_pages(docs: Path, suite_folder: str) -> list[Path]:
    return sorted((docs / "validations").glob(f"{suite_folder}/**/*.html"))


def test_docs_for_both_suites_are_written_and_indexed(tmp_path):
    docs = tmp_path / "reports" / "data_docs"
    raw = RawLogs(*read_user_files(GOOD / "interactions.csv", GOOD / "items.csv"))
    check_logs(raw.interactions, raw.items, "interactions.csv", "items.csv", RULES, docs_dir=docs)
    runner._context.cache_clear()  # stage validated_sequences runs in a new process, with a new context
    with pytest.raises(DataValidationError):
        validate_sequences(_sequences(), num_items=3, min_user_interactions=4, source="sequences.parquet", docs_dir=docs)

    index = (docs / "index.html").read_text(encoding="utf-8")
    for suite, folder in (("raw_logs.interactions", "raw_logs/interactions"), ("raw_logs.items", "raw_logs/items"), ("validated_sequences", "validated_sequences")):
        assert suite in index
        (page,) = _validation_pages(docs, folder)  # failed validations get a page too
        assert page.relative_to(docs).as_posix() in index
    suite_page = (docs / "expectations" / "validated_sequences.html").read_text(encoding="utf-8")
    assert "Rule <code>user_has_min_interactions</code>: every user has at least 4 events" in suite_page  # notes
    assert "local_site" not in {path.name for path in tmp_path.rglob("*")}


def test_no_docs_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    validate_sequences(_sequences(), num_items=3, min_user_interactions=3, source="sequences.parquet")
    assert list(tmp_path.iterdir()) == []
