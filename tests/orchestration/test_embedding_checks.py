"""The blocking item-embeddings check, and the Dagster metadata of the two new assets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from hymirec.paths import Layout
from orchestration.assets import stage_metadata
from orchestration.checks import check_item_embeddings_unit_norm
from orchestration.resources import DvcProject


def write_embeddings(root: Path, embeddings: np.ndarray, catalog_items: int) -> None:
    layout = Layout(root)
    layout.sequences_dir.mkdir(parents=True)
    layout.embeddings_dir.mkdir(parents=True)
    pd.DataFrame({"item_idx": range(catalog_items), "item_id": [f"i{i}" for i in range(catalog_items)]}).to_parquet(layout.item_map)
    np.save(layout.item_embeddings, embeddings.astype(np.float32))


def unit_rows(n: int, d: int = 6) -> np.ndarray:
    rows = np.random.default_rng(0).normal(size=(n, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def check(root: Path) -> dg.AssetCheckResult:
    return check_item_embeddings_unit_norm(dvc_project=DvcProject(root=str(root)))


def test_finite_unit_rows_one_per_item_pass(tmp_path: Path) -> None:
    write_embeddings(tmp_path, unit_rows(4), catalog_items=4)
    result = check(tmp_path)
    assert result.passed
    assert result.metadata["rows"] == dg.IntMetadataValue(4) and result.metadata["non_finite_rows"] == dg.IntMetadataValue(0)


@pytest.mark.parametrize(
    ("damage", "catalog_items", "message"),
    [
        (lambda rows: rows[:3], 4, "3 rows for 4 catalog items"),
        (lambda rows: np.where(np.arange(4)[:, None] == 2, np.nan, rows), 4, "1 rows with NaN/inf (first item_idx 2)"),
        (lambda rows: rows * np.array([1, 1, 1.01, 1])[:, None], 4, "1 rows with |norm − 1| > 0.001 (first item_idx 2"),
    ],
    ids=["row_count", "non_finite", "not_unit_norm"],
)
def test_broken_embeddings_fail_naming_the_problem(tmp_path: Path, damage, catalog_items: int, message: str) -> None:
    write_embeddings(tmp_path, damage(unit_rows(4)), catalog_items)
    result = check(tmp_path)
    assert not result.passed and message in result.description


def test_missing_embeddings_fail_the_check(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert not result.passed and "items.npy" in result.description


def test_codebook_metadata_has_tables_plot_and_numbers(tmp_path: Path) -> None:
    row = {"bytes_per_item": 4, "recon_cosine_mean": 0.9081, "recon_cosine_p5": 0.8628}
    metrics = {
        "bytes_per_item": 4,
        "recon_cosine_mean": 0.9081,
        "at_equal_bytes": {"cosine_rq": row, "faiss_pq": {**row, "recon_cosine_mean": 0.81}},
        "curve": {"1": {**row, "num_layers": 1, "bytes_per_item": 1}, "4": {**row, "num_layers": 4}},
    }
    metadata = stage_metadata("codebook", metrics, Layout(tmp_path))
    assert metadata["bytes_per_item"] == 4 and metadata["recon_cosine_mean"] == 0.9081
    assert metadata["recon_cosine_plot"] == dg.MetadataValue.path(str(tmp_path / "reports" / "codebook" / "recon_cosine_by_layers.png"))
    assert "| faiss_pq | 4 | 0.8100 | 0.8628 |" in metadata["comparison_at_equal_bytes"].value
    assert metadata["recon_cosine_by_layers"].value.splitlines()[2] == "| 1 | 1 | 0.9081 | 0.8628 |"


def test_item_embeddings_metadata_has_the_row_count(tmp_path: Path) -> None:
    metadata = stage_metadata("item_embeddings", {"items": 3706, "dim": 384, "encoder": "minilm"}, Layout(tmp_path))
    assert metadata["dagster/row_count"] == 3706 and metadata["dim"] == 384
