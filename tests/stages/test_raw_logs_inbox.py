"""Stage ``raw_logs`` with ``data.inbox``: new files are checked, appended once, or rejected with their reason.

The source is the tiny ``tests/data/good_logs`` (3 users, items i1-i3); one test uses the bundled ML-100K.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hymirec.config import DataConfig, HyMiRecConfig
from hymirec.data.inbox import MANIFEST
from hymirec.io import read_json
from hymirec.paths import Layout
from hymirec.stages import raw_logs

GOOD_LOGS = Path(__file__).resolve().parents[1] / "data" / "good_logs"
SOURCE_ROWS = 6
NEW_EVENTS = "user_id,item_id,timestamp,rating\nu3,i1,978301000,4\nu9,i3,978301001,5\n"


def files_config(inbox: str | None = "incoming", **data) -> HyMiRecConfig:
    source = {"source": "files", "interactions_path": GOOD_LOGS / "interactions.csv", "items_path": GOOD_LOGS / "items.csv"}
    return HyMiRecConfig(data=DataConfig(**(source | data), inbox=inbox))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    (tmp_path / "incoming").mkdir()
    return Layout(tmp_path)


@pytest.fixture
def ingested(layout: Layout) -> Layout:
    """A workspace whose inbox had one good file, ``batch1.csv``, when raw_logs ran."""
    (layout.root / "incoming" / "batch1.csv").write_text(NEW_EVENTS)
    raw_logs.run(files_config(), layout)
    return layout


def test_good_file_is_appended_with_its_manifest_entry(ingested: Layout) -> None:
    interactions = pd.read_parquet(ingested.raw_interactions)
    assert len(interactions) == SOURCE_ROWS + 2
    assert interactions.tail(2).values.tolist() == [["u3", "i1", 978301000], ["u9", "i3", 978301001]]  # rating dropped
    sha256 = hashlib.sha256(NEW_EVENTS.encode()).hexdigest()
    events = f"inbox-{sha256[:16]}.parquet"
    assert read_json(ingested.raw_dir / MANIFEST)["files"] == [{"file": "batch1.csv", "sha256": sha256, "rows": 2, "events": events}]
    assert pd.read_parquet(ingested.raw_dir / events).values.tolist() == interactions.tail(2).values.tolist()
    metrics = read_json(ingested.stage_metrics("raw_logs"))
    assert (metrics["rows"], metrics["users"], metrics["inbox_files"], metrics["inbox_rows"]) == (8, 4, 1, 2)
    assert (ingested.root / "incoming" / "batch1.csv").exists()  # accepted files stay; their hash keeps them out


def test_same_content_is_never_ingested_twice_even_renamed(ingested: Layout) -> None:
    before = snapshot(ingested.raw_dir)
    inbox = ingested.root / "incoming"
    shutil.copy(inbox / "batch1.csv", inbox / "renamed.csv")
    (inbox / "again").mkdir()
    shutil.move(inbox / "batch1.csv", inbox / "again" / "batch1.csv")
    raw_logs.run(files_config(), ingested)
    assert snapshot(ingested.raw_dir) == before


def test_a_second_file_appends_and_keeps_the_first_byte_identical(ingested: Layout) -> None:
    first = snapshot(ingested.raw_dir)
    (ingested.root / "incoming" / "batch2.csv").write_text("user_id,item_id,timestamp\nu1,i1,978302000\n")
    raw_logs.run(files_config(), ingested)
    after = snapshot(ingested.raw_dir)
    kept = {name for name in first if name.startswith("inbox-")}
    assert len(kept) == 1 and {name: after[name] for name in kept} == {name: first[name] for name in kept}
    files = read_json(ingested.raw_dir / MANIFEST)["files"]
    assert [(entry["file"], entry["rows"]) for entry in files] == [("batch1.csv", 2), ("batch2.csv", 1)]
    assert pd.read_parquet(ingested.raw_interactions).tail(1).values.tolist() == [["u1", "i1", 978302000]]


BAD_FILES = {
    "ids_and_timestamp_not_empty": ("null_user.csv", "user_id,item_id,timestamp\nu1,i2,978303000\n,i1,978303001\n", "line 3"),
    "timestamp_not_in_future": ("future.csv", "user_id,item_id,timestamp\nu1,i2,4000000000\n", "line 2"),
    "item_exists_in_items_table": ("unknown_item.csv", "user_id,item_id,timestamp\nu1,i404,978303000\n", "line 2"),
    "interaction_is_unique": ("replayed.csv", "user_id,item_id,timestamp\nu2,i2,978303000\nu1,i2,978300761\n", "line 3"),
    "interactions_have_required_columns": ("items.csv", "item_id,title\ni4,New film\n", "columns"),
    "file_is_readable": ("log.inter", "user_id:token\titem_id:token\n", "unsupported file type"),
}


def test_bad_files_are_rejected_with_their_reasons_and_accepted_data_kept(ingested: Layout) -> None:
    inbox = ingested.root / "incoming"
    before = snapshot(ingested.raw_dir)
    for name, text, _ in BAD_FILES.values():
        (inbox / name).write_text(text)
    raw_logs.run(files_config(), ingested)
    for rule, (name, text, where) in BAD_FILES.items():
        assert not (inbox / name).exists()
        assert (inbox / "rejected" / name).read_text() == text
        reason = (inbox / "rejected" / f"{name}.reason.txt").read_text()
        assert f"rule {rule} failed" in reason and name in reason and where in reason, reason
    assert snapshot(ingested.raw_dir) == before  # the log, the accepted files and the manifest: byte-identical
    raw_logs.run(files_config(), ingested)  # rejected files are not read again
    assert snapshot(ingested.raw_dir) == before


def test_inbox_off_reads_no_file_and_writes_no_store(layout: Layout) -> None:
    (layout.root / "incoming" / "batch1.csv").write_text(NEW_EVENTS)
    raw_logs.run(files_config(inbox=None), layout)
    assert sorted(path.name for path in layout.raw_dir.iterdir()) == [layout.raw_interactions.name, layout.raw_items.name]
    assert len(pd.read_parquet(layout.raw_interactions)) == SOURCE_ROWS
    assert (layout.root / "incoming" / "batch1.csv").exists()


def test_another_source_checks_the_inbox_again_against_its_catalog(ingested: Layout, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "interactions.csv").write_text("user_id,item_id,timestamp\nu1,i1,978300000\nu1,i2,978300001\nu1,i1,978300002\n")
    (other / "items.csv").write_text("item_id,title\ni1,Toy Story\ni2,Heat\n")  # no i3: batch1 no longer fits
    raw_logs.run(files_config(interactions_path=other / "interactions.csv", items_path=other / "items.csv"), ingested)
    reason = (ingested.root / "incoming" / "rejected" / "batch1.csv.reason.txt").read_text()
    assert "rule item_exists_in_items_table failed" in reason
    assert len(pd.read_parquet(ingested.raw_interactions)) == 3 and not (ingested.raw_dir / MANIFEST).exists()


def test_bundled_data_set_with_an_inbox(tmp_path: Path) -> None:
    """ML-100K plus a dropped file: user "1" and item "1" exist there; the two events are new."""
    layout = Layout(tmp_path)
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming" / "new.csv").write_text("user_id,item_id,timestamp\n1,1,893286700\n943,1682,893286701\n")
    raw_logs.run(HyMiRecConfig(data=DataConfig(source="movielens_100k", inbox="incoming")), layout)
    interactions = pd.read_parquet(layout.raw_interactions)
    assert len(interactions) == 100_002
    assert interactions.tail(2).values.tolist() == [["1", "1", 893286700], ["943", "1682", 893286701]]
