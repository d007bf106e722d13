"""hymirec.data.streaming (DuckDB) writes what the pandas path of raw_logs and validated_sequences writes.

Compared as the stages write them (Parquet read back): on the tiny hand-checkable log (a same-second tie,
a repeated item, a short user), on it split over two files (the source row runs across files) and cut
into ranges of users, and on the bundled ML-1M in four ranges of users, row for row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from hymirec.config import SequencesConfig
from hymirec.data.files import coerce_types, read_table
from hymirec.data.movielens import BundledDataMissing, load_movielens
from hymirec.data.schema import RawLogs
from hymirec.data.sequences import build_sequences
from hymirec.data.streaming import EngineSettings, write_raw_logs, write_sequences
from hymirec.io import write_parquet

OUTPUTS = ("sequences.parquet", "items.parquet", "users.parquet")


def _pandas_raw_logs(interactions: Path, items: Path, out: Path) -> RawLogs:
    """What stage raw_logs does with a user's files, validation and inbox aside."""
    raw = coerce_types(RawLogs(read_table(interactions), read_table(items)))
    write_parquet(raw.interactions, out / "interactions.parquet")
    write_parquet(raw.items, out / "items.parquet")
    return raw


def _pandas_sequences(raw: RawLogs, out: Path, min_user_interactions: int) -> dict:
    """What stage validated_sequences does, validation aside."""
    data = build_sequences(raw, SequencesConfig(min_user_interactions=min_user_interactions))
    write_parquet(data.sequences, out / "sequences.parquet")
    write_parquet(data.items, out / "items.parquet")
    write_parquet(data.users, out / "users.parquet")
    lengths = data.sequences["items"].map(len)
    return {
        **data.stats,
        "sequence_length": {
            "min": int(lengths.min()),
            "median": float(lengths.median()),
            "mean": float(lengths.mean()),
            "max": int(lengths.max()),
        },
    }


def _logical(arrow_type) -> str:
    """The Parquet column's logical type: pandas writes its str columns as Arrow large_string and lists with
    items named "item", DuckDB string and "element"; both are UTF-8 byte arrays and read back alike."""
    return str(arrow_type).replace("large_string", "string").replace("element", "item")


def _assert_same_parquet(expected: Path, actual: Path) -> None:
    left, right = pq.read_table(expected), pq.read_table(actual)
    assert left.column_names == right.column_names, expected.name
    for name in left.column_names:
        assert _logical(left.schema.field(name).type) == _logical(right.schema.field(name).type), (expected.name, name)
        assert left.column(name).to_pylist() == right.column(name).to_pylist(), (expected.name, name)
    pd.testing.assert_frame_equal(
        pd.read_parquet(expected).drop(columns=["items", "timestamps"], errors="ignore"),
        pd.read_parquet(actual).drop(columns=["items", "timestamps"], errors="ignore"),
    )


def _compare(
    interaction_files: list[Path], items_file: Path, tmp_path: Path, min_user_interactions: int = 5, events_per_partition: int = 10**7
) -> dict:
    source = pd.concat([read_table(path) for path in interaction_files], ignore_index=True)
    joined = tmp_path / "joined.parquet"
    source.to_parquet(joined, index=False)
    raw = _pandas_raw_logs(joined, items_file, tmp_path / "pandas" / "raw")
    streamed_raw = write_raw_logs(interaction_files, items_file, tmp_path / "duckdb" / "raw")
    for name in ("interactions.parquet", "items.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pandas" / "raw" / name), pd.read_parquet(tmp_path / "duckdb" / "raw" / name))
    assert streamed_raw == {
        "rows": len(raw.interactions),
        "users": raw.interactions["user_id"].nunique(),
        "items": raw.interactions["item_id"].nunique(),
        "catalog_items": len(raw.items),
        "timestamp_min": int(raw.interactions["timestamp"].min()),
        "timestamp_max": int(raw.interactions["timestamp"].max()),
    }

    expected = _pandas_sequences(raw, tmp_path / "pandas" / "sequences", min_user_interactions)
    streamed = write_sequences(
        [tmp_path / "duckdb" / "raw" / "interactions.parquet"],
        tmp_path / "duckdb" / "raw" / "items.parquet",
        tmp_path / "duckdb" / "sequences",
        min_user_interactions,
        EngineSettings(events_per_partition=events_per_partition),
    )
    for name in OUTPUTS:
        _assert_same_parquet(tmp_path / "pandas" / "sequences" / name, tmp_path / "duckdb" / "sequences" / name)
    assert streamed == expected
    return streamed


def _write_tiny(raw: RawLogs, folder: Path, split_at: int | None = None) -> tuple[list[Path], Path]:
    folder.mkdir(parents=True)
    frames = [raw.interactions] if split_at is None else [raw.interactions.iloc[:split_at], raw.interactions.iloc[split_at:]]
    paths = []
    for number, frame in enumerate(frames):
        path = folder / f"part-{number}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    items = folder / "items.csv"
    raw.items.to_csv(items, index=False)
    return paths, items


def test_the_tiny_log_gives_the_pandas_outputs(tiny_raw: RawLogs, tmp_path: Path) -> None:
    files, items = _write_tiny(tiny_raw, tmp_path / "in")
    stats = _compare(files, items, tmp_path)
    assert stats["repeated_events_dropped"] == 1 and stats["users_dropped"] == 1 and stats["users"] == 3
    sequences = pd.read_parquet(tmp_path / "duckdb" / "sequences" / "sequences.parquet")
    assert list(sequences.loc[sequences["user_id"] == "u1", "items"].iloc[0]) == [0, 1, 2, 4, 3]  # e before d: file order


def test_the_source_row_runs_across_files(tiny_raw: RawLogs, tmp_path: Path) -> None:
    files, items = _write_tiny(tiny_raw, tmp_path / "in", split_at=4)  # the u1 tie (e, d at 40) spans both files
    _compare(files, items, tmp_path)


def test_user_ranges_give_the_same_outputs(tiny_raw: RawLogs, tmp_path: Path) -> None:
    files, items = _write_tiny(tiny_raw, tmp_path / "in", split_at=4)
    _compare(files, items, tmp_path, events_per_partition=5)  # u0 | u1 | u2 | u3: four ranges, u3 dropped in the last


def test_ml1m_gives_the_pandas_outputs_row_for_row(tmp_path: Path) -> None:
    try:
        raw = load_movielens("movielens_1m")
    except BundledDataMissing as missing:
        pytest.skip(str(missing))
    (tmp_path / "in").mkdir()
    files = []
    for number, part in enumerate((raw.interactions.iloc[:400_000], raw.interactions.iloc[400_000:])):
        files.append(tmp_path / "in" / f"part-{number}.parquet")
        part.to_parquet(files[-1], index=False)
    items = tmp_path / "in" / "items.parquet"
    raw.items.to_parquet(items, index=False)
    stats = _compare(files, items, tmp_path, events_per_partition=300_000)  # four ranges of user_id
    assert stats["events"] == 1_000_209 and stats["users"] == 6_040 and stats["items"] == 3_706
