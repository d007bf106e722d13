"""Stages ``item_embeddings`` and ``codebook`` on a tiny workspace (5 catalog items, real MiniLM, tiny codebook)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from hymirec.codebook.residual import load_encoding, load_reconstructions
from hymirec.config import HyMiRecConfig
from hymirec.data.schema import RawLogs
from hymirec.data.sequences import build_sequences
from hymirec.io import read_json, write_parquet
from hymirec.paths import Layout
from hymirec.stages import codebook, item_embeddings
from tests.encoders.tiny_models import build_tiny_decoder

TINY_CODEBOOK = {"num_layers": 2, "num_codes": 2, "kmeans_iterations": 5, "refine_iterations": 2, "curve_max_layers": 3}


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri


def workspace(root: Path, raw: RawLogs) -> Layout:
    layout = Layout(root)
    data = build_sequences(raw, HyMiRecConfig().sequences)
    write_parquet(data.sequences, layout.sequences)
    write_parquet(data.items, layout.item_map)
    write_parquet(data.users, layout.user_map)
    return layout


def test_item_embeddings_then_codebook(tmp_path: Path, tiny_raw: RawLogs, tracking: str) -> None:
    layout = workspace(tmp_path, tiny_raw)
    config = HyMiRecConfig.model_validate({"item_embeddings": {"template": "{title}. Genres: {genres}"}, "codebook": TINY_CODEBOOK})

    item_embeddings.run(config, layout)
    embeddings = np.load(layout.item_embeddings)
    ids = pd.read_parquet(layout.embedding_items)
    assert embeddings.shape == (5, 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert ids["item_idx"].tolist() == list(range(5)) and ids["item_id"].tolist() == list("abcde")
    assert ids["text"][2] == "Gamma. Genres: Drama, Comedy"
    metrics = read_json(layout.stage_metrics("item_embeddings"))
    assert (metrics["items"], metrics["dim"], metrics["encoder"]) == (5, 384, "minilm")
    assert metrics["norm_max_error"] < 1e-5 and "adaptation" not in metrics

    codebook.run(config, layout)
    report = read_json(layout.stage_metrics("codebook"))
    assert report["bytes_per_item"] == 2 and 0.0 < report["recon_cosine_mean"] <= 1.0
    assert {"recon_cosine_p5", "collision_rate", "perplexity", "codes_used", "at_equal_bytes", "curve"} <= set(report)
    assert list(report["curve"]) == ["1", "2", "3"] and set(report["at_equal_bytes"]) == {"cosine_rq"}  # 5 items: no 8-bit baselines
    codes = load_encoding(layout.codebook_dir).codes
    assert codes.shape == (5, 2) and codes.dtype == np.uint8 and codes.max() < 2
    reconstructions = load_reconstructions(layout.codebook_dir)
    cosine = (reconstructions * embeddings).sum(axis=1)
    assert cosine.mean() == pytest.approx(report["recon_cosine_mean"], abs=1e-5)
    assert layout.codebook_figure.stat().st_size > 1000
    runs = mlflow.search_runs(experiment_names=["hymirec"], filter_string="tags.stage = 'codebook'")
    assert len(runs) == 1 and runs.iloc[0]["metrics.recon_cosine_mean"] == pytest.approx(report["recon_cosine_mean"])


def test_adapted_causal_lm_embeddings_are_tracked(tmp_path: Path, tiny_raw: RawLogs, tracking: str) -> None:
    layout = workspace(tmp_path / "workspace", tiny_raw)
    model = build_tiny_decoder(tmp_path / "model", "llama")
    config = HyMiRecConfig.model_validate(
        {
            "item_embeddings": {
                "encoder": "causal_lm", "model_path": str(model), "template": "{title}",
                "adaptation": {"enabled": True, "epochs": 1, "batch_size": 4, "lora_rank": 2},
            },
            "tracking": {"experiment_name": "adaptation-test"},
        }
    )
    item_embeddings.run(config, layout)
    metrics = read_json(layout.stage_metrics("item_embeddings"))
    assert metrics["dim"] == 32 and metrics["adaptation"]["pairs"] == 6  # u0, u1, u2: 3 training events each → 2 pairs
    runs = mlflow.search_runs(experiment_names=["adaptation-test"], filter_string="tags.stage = 'item_embeddings'")
    assert len(runs) == 1 and np.isfinite(runs.iloc[0]["metrics.adaptation_loss"])
