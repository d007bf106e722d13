"""The bad-input corpus: every folder of ``tests/data/bad/`` is rejected loudly, by the named rule.

Each case is a folder with the files a user could hand us and an ``expected.yaml``:

    rule:    the rule the message must name (a data_checks rule, or a pydantic error type for configs)
    file:    the case's file the message must name
    sample:  text the message must show for the offending row (a line/row, or a config key and value);
             null where there is no row to show (a missing column, an empty or unreadable file)
    detail:  (optional) more text the message must contain
    why:     what is wrong, for a reader

Data cases (an interactions file and an items file) go through ``hymirec validate`` and through stage
``raw_logs`` (``data.source: files``); config cases (``config.yaml``) go through
``hymirec stage raw_logs -c <config>``. Every run must exit non-zero, print no traceback, break
exactly the named rule, and leave a workspace's previous good ``raw_logs`` outputs byte-identical.

Decision, extra columns: **allowed**. Interaction columns other than user_id, item_id and timestamp (a
rating, a session id) are ignored: ``hymirec validate`` passes and names them ("extra columns ignored:
rating"), and stage ``raw_logs`` drops them. Item columns other than item_id and title are kept as text
features (``item_embeddings.template`` reads them). Exports from real systems carry such columns, and a
misspelt required column already fails ``*_have_required_columns`` with the columns found listed. The
folder ``extra_columns_allowed`` (``rule: null``) pins that decision; it is not one of the bad cases.

Runs stay cheap: ``validate`` runs as a real subprocess of the venv's ``hymirec`` entry point for a
few cases (``SUBPROCESS``) and in-process for the rest; the good workspace is built once per module
and copied per case.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from data_checks import raw_logs
from data_checks.errors import DataValidationError
from data_checks.validate_files import DELIMITER_MATCHES_EXTENSION, FILE_IS_READABLE, validate_user_files
from hymirec.cli import main
from hymirec.config import SequencesConfig
from hymirec.paths import Layout

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
BAD = DATA / "bad"
GOOD = DATA / "good_logs"
HYMIREC = Path(sys.executable).parent / "hymirec"

EXPECTED = {folder.name: yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8")) for folder in sorted(BAD.iterdir())}
BAD_CASES = [name for name, expected in EXPECTED.items() if expected["rule"] is not None]
CONFIG_CASES = [name for name in BAD_CASES if (BAD / name / "config.yaml").exists()]
DATA_CASES = [name for name in BAD_CASES if name not in CONFIG_CASES]
SUBPROCESS = {"millisecond_timestamps", "truncated_parquet", "non_utf8_text", "config_unknown_key"}

DATA_RULES = {
    *raw_logs.INTERACTION_RULES,
    *raw_logs.ITEM_RULES,
    *raw_logs.DATA_SET_RULES,
    FILE_IS_READABLE,
    DELIMITER_MATCHES_EXTENSION,
}
CONFIG_RULES = {"extra_forbidden", "int_parsing", "greater_than_equal"}  # pydantic error types


def _hymirec(argv: list[str], capsys: pytest.CaptureFixture[str], *, subprocess_run: bool) -> tuple[int, str]:
    """Run the command as a user would (subprocess) or in-process; return exit code and stdout + stderr."""
    if subprocess_run:
        done = subprocess.run([str(HYMIREC), *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _data_files(case: str) -> tuple[Path, Path]:
    folder = BAD / case
    return next(folder.glob("interactions.*")), next(folder.glob("items.*"))


def _files_config(directory: Path, interactions: Path, items: Path) -> Path:
    path = directory / "config.yaml"
    config = {"data": {"source": "files", "interactions_path": str(interactions), "items_path": str(items)}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _outputs(root: Path) -> dict[str, bytes]:
    """Every file of a workspace but the Data Docs, which a failed validation rightly updates."""
    docs = Layout(root).data_docs_dir
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and docs not in path.parents
    }


def _assert_reported(case: str, code: int, output: str, named_file: Path) -> None:
    expected = EXPECTED[case]
    assert code == 1, output
    assert "Traceback" not in output
    if case in CONFIG_CASES:
        assert f"error: {named_file}: invalid config:\n1 validation error" in output
        assert f"[type={expected['rule']}," in output
    else:
        assert "data validation failed: 1 rule broken\n" in output  # the case breaks its rule and no other
        assert f"- {named_file}: rule {expected['rule']} failed" in output
    if expected["sample"] is not None:
        assert expected["sample"] in output
    if expected.get("detail"):
        assert expected["detail"] in output


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A workspace holding stage raw_logs' outputs for the good fixture, and a snapshot of them."""
    root = tmp_path_factory.mktemp("good") / "workspace"
    config = _files_config(root.parent, GOOD / "interactions.csv", GOOD / "items.csv")
    assert main(["stage", "raw_logs", "-c", str(config), "--root", str(root)]) == 0
    outputs = _outputs(root)
    assert {"data/raw/interactions.parquet", "data/raw/items.parquet"} <= set(outputs)
    return root, outputs


@pytest.fixture
def workspace(good_workspace: tuple[Path, dict[str, bytes]], tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    root, outputs = good_workspace
    copy = tmp_path / "workspace"
    shutil.copytree(root, copy)
    return copy, outputs


def test_corpus_covers_the_issue():
    assert len(BAD_CASES) >= 20
    assert len(CONFIG_CASES) == 3
    for case in BAD_CASES:
        expected = EXPECTED[case]
        assert expected["rule"] in (CONFIG_RULES if case in CONFIG_CASES else DATA_RULES), case
        assert (BAD / case / expected["file"]).is_file(), case
        assert expected["why"], case
    # some_user_has_min_interactions' default is the lowest min_user_interactions a config may set
    (bound,) = [meta.ge for meta in SequencesConfig.model_fields["min_user_interactions"].metadata if hasattr(meta, "ge")]
    assert raw_logs.MIN_EVENTS_FOR_SPLIT == bound


@pytest.mark.parametrize("case", DATA_CASES)
def test_validate_rejects_the_case(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    interactions, items = _data_files(case)
    code, output = _hymirec(
        ["validate", "--interactions", str(interactions), "--items", str(items)], capsys, subprocess_run=case in SUBPROCESS
    )
    _assert_reported(case, code, output, BAD / case / EXPECTED[case]["file"])
    assert "OK:" not in output


@pytest.mark.parametrize("case", BAD_CASES)
def test_raw_logs_stage_rejects_the_case_and_keeps_good_outputs(
    case: str, workspace: tuple[Path, dict[str, bytes]], tmp_path: Path, capsys, monkeypatch
) -> None:
    root, before = workspace
    if case in CONFIG_CASES:
        config = BAD / case / "config.yaml"  # its data paths are relative to the repository root
        monkeypatch.chdir(REPO)
        named = config
    else:
        config = _files_config(tmp_path, *_data_files(case))
        named = BAD / case / EXPECTED[case]["file"]
    code, output = _hymirec(
        ["stage", "raw_logs", "-c", str(config), "--root", str(root)], capsys, subprocess_run=case in SUBPROCESS and case in CONFIG_CASES
    )
    _assert_reported(case, code, output, named)
    assert _outputs(root) == before


def test_extra_columns_are_allowed_and_dropped(workspace: tuple[Path, dict[str, bytes]], tmp_path: Path, capsys) -> None:
    folder = BAD / "extra_columns_allowed"
    assert EXPECTED[folder.name]["rule"] is None
    code, output = _hymirec(
        ["validate", "--interactions", str(folder / "interactions.csv"), "--items", str(folder / "items.csv")], capsys, subprocess_run=False
    )
    assert code == 0, output
    ok, warning = output.strip().splitlines()  # the warning: 3 events a user are too few for the pipeline's 5-event filter
    assert ok.endswith("6 rows, 3 users, 3 items; 14 rules passed; extra columns ignored: rating") and warning.startswith("warning: ")

    root, _ = workspace
    config = _files_config(tmp_path, folder / "interactions.csv", folder / "items.csv")
    assert main(["stage", "raw_logs", "-c", str(config), "--root", str(root)]) == 0
    layout = Layout(root)
    assert list(pd.read_parquet(layout.raw_interactions).columns) == ["user_id", "item_id", "timestamp"]
    assert list(pd.read_parquet(layout.raw_items).columns) == ["item_id", "title", "genres"]


def test_data_set_rule_waits_for_the_row_rules():
    """With a broken row, the per-user count is not run but named as pending (and survives pickling)."""
    with pytest.raises(DataValidationError) as caught:
        validate_user_files(*_data_files("duplicate_events"))
    assert caught.value.rules == ["interaction_is_unique"]
    assert caught.value.pending == [raw_logs.SOME_USER_HAS_MIN_INTERACTIONS]
    assert str(caught.value).endswith("\n- not checked until the rules above pass: some_user_has_min_interactions")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.pending, str(copy)) == (caught.value.pending, str(caught.value))
