"""Stages raw_logs and validated_sequences (DuckDB, hymirec.data.streaming) write what the pandas path wrote.

The oracle is the pandas path the stages ran before: ``load_movielens`` + ``coerce_types`` for raw_logs,
``build_sequences`` for validated_sequences, written with ``write_parquet``. Compared file by file, row for
row, on the bundled ML-100K and (slow) ML-1M, and the stage metrics key by key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hymirec.config import DataConfig, HyMiRecConfig
from hymirec.data.files import coerce_types
from hymirec.data.movielens import BundledDataMissing, load_movielens
from hymirec.data.sequences import build_sequences
from hymirec.io import read_json, write_parquet
from hymirec.paths import Layout
from hymirec.stages import raw_logs, validated_sequences
from tests.test_streaming import _assert_same_parquet


def _pandas_outputs(name: str, config: HyMiRecConfig, out: Path) -> dict:
    raw = coerce_types(load_movielens(name))
    write_parquet(raw.interactions, out / "raw" / "interactions.parquet")
    write_parquet(raw.items, out / "raw" / "items.parquet")
    data = build_sequences(raw, config.sequences)
    for frame, file in ((data.sequences, "sequences.parquet"), (data.items, "items.parquet"), (data.users, "users.parquet")):
        write_parquet(frame, out / "sequences" / file)
    return data.stats


@pytest.mark.slow  # ML-100K ~30 s, ML-1M ~50 s on 2 shared cores
@pytest.mark.parametrize("name", ["movielens_100k", "movielens_1m"])
def test_the_stages_write_the_pandas_outputs_row_for_row(name: str, tmp_path: Path) -> None:
    try:
        load_movielens(name)
    except BundledDataMissing as missing:
        pytest.skip(str(missing))
    config = HyMiRecConfig(data=DataConfig(source=name, inbox=None))
    layout = Layout(tmp_path / "workspace")
    raw_logs.run(config, layout)
    validated_sequences.run(config, layout)

    stats = _pandas_outputs(name, config, tmp_path / "pandas")
    for file in ("interactions.parquet", "items.parquet"):
        _assert_same_parquet(tmp_path / "pandas" / "raw" / file, layout.raw_dir / file)
    for file in ("sequences.parquet", "items.parquet", "users.parquet"):
        _assert_same_parquet(tmp_path / "pandas" / "sequences" / file, layout.sequences_dir / file)
    metrics = read_json(layout.stage_metrics("validated_sequences"))
    assert {key: metrics[key] for key in stats} == stats
    assert read_json(layout.stage_metrics("raw_logs"))["rows"] == stats["raw_events"]
