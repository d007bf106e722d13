"""benchmarks/synthetic_logs.py: the same seed writes the same bytes, and 10⁶ events look like ML-1M.

Tolerances (1M synthetic events against the bundled ML-1M, re-measured here): events-per-user
quantiles 10/25/50/75/90 % within 10 % of ML-1M's; the power-law slope of item popularity over ranks
10–1,000 within 0.05 of ML-1M's (-0.54); the catalog within 1 % of ML-1M's 3,706 items; timestamps
within ML-1M's first and last day.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hymirec.data.movielens import BundledDataMissing, load_movielens
from hymirec.data.schema import ITEM_ID, TIMESTAMP, USER_ID

ROOT = Path(__file__).resolve().parents[1]
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
QUANTILE_TOLERANCE = 0.10  # relative
SLOPE_TOLERANCE = 0.05
SLOPE_RANKS = (10, 1000)


def _script():
    spec = importlib.util.spec_from_file_location("synthetic_logs", ROOT / "benchmarks" / "synthetic_logs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("synthetic_logs", module)
    spec.loader.exec_module(module)
    return module


def _read(out: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(path) for path in _script().interaction_files(out)], ignore_index=True)


def _length_quantiles(interactions: pd.DataFrame) -> np.ndarray:
    return np.quantile(interactions.groupby(USER_ID).size().to_numpy(), QUANTILES)


def _popularity_slope(interactions: pd.DataFrame) -> float:
    counts = np.sort(interactions.groupby(ITEM_ID).size().to_numpy())[::-1]
    low, high = SLOPE_RANKS
    ranks = np.arange(low, high + 1)
    return float(np.polyfit(np.log(ranks), np.log(counts[low - 1 : high]), 1)[0])


def test_the_same_seed_writes_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    script = _script()
    first = script.generate(30_000, tmp_path / "a", seed=5, chunk_events=10_000)
    script.generate(30_000, tmp_path / "b", seed=5, chunk_events=10_000)
    script.generate(30_000, tmp_path / "c", seed=6, chunk_events=10_000)
    files = [path.relative_to(tmp_path / "a") for path in sorted((tmp_path / "a").rglob("*.parquet"))]
    assert len(files) == 1 + len(first["files"]) and len(first["files"]) >= 3
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not _read(tmp_path / "a").equals(_read(tmp_path / "c"))
    events = _read(tmp_path / "a")
    assert len(events) == 30_000 and list(events.columns) == [USER_ID, ITEM_ID, TIMESTAMP]
    assert events[USER_ID].nunique() == first["users"] and not events.duplicated().any()
    items = pd.read_parquet(tmp_path / "a" / script.ITEMS_FILE)
    assert list(items.columns) == ["item_id", "title", "year", "genres"] and len(items) == first["items"]
    assert set(events[ITEM_ID]) <= set(items[ITEM_ID]) and items[ITEM_ID].is_unique
    assert (items["title"].str.len() > 0).all() and items["genres"].str.len().gt(0).all()


def test_a_million_events_have_ml1m_history_lengths_popularity_and_time_span(tmp_path: Path) -> None:
    try:
        ml1m = load_movielens("movielens_1m").interactions
    except BundledDataMissing as missing:
        pytest.skip(str(missing))
    script = _script()
    manifest = script.generate(len(ml1m), tmp_path / "1m", seed=0)
    synthetic = _read(tmp_path / "1m")

    expected, measured = _length_quantiles(ml1m), _length_quantiles(synthetic)
    assert np.all(np.abs(measured / expected - 1) <= QUANTILE_TOLERANCE), (expected, measured)
    assert abs(_popularity_slope(synthetic) - _popularity_slope(ml1m)) <= SLOPE_TOLERANCE
    assert abs(manifest["items"] / ml1m[ITEM_ID].nunique() - 1) <= 0.01
    assert abs(manifest["users"] / ml1m[USER_ID].nunique() - 1) <= 0.05
    assert ml1m[TIMESTAMP].min() <= synthetic[TIMESTAMP].min() and synthetic[TIMESTAMP].max() <= ml1m[TIMESTAMP].max()


def test_users_and_items_grow_with_events_up_to_100k_items() -> None:
    script = _script()
    assert script.catalog_size(1_000_209) == 3_706
    assert [script.catalog_size(events) for events in (10**7, 10**8, 10**9)] == [19_248, 99_985, 100_000]
    lengths = script.user_lengths(2_000_000, seed=1)
    assert lengths.sum() == 2_000_000 and 11_000 < len(lengths) < 13_000
