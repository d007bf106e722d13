"""What a model fetches per request, counted from what it reads; and the codebook's bytes per item."""

from __future__ import annotations

import numpy as np
import pytest

from hymirec.codebook.residual import CosineResidualCodebook
from hymirec.config import CodebookConfig, ScaleMode, SASRecConfig, Variant
from hymirec.evaluation.cost import FLOAT_BYTES, ID_BYTES, code_bytes, history_bytes_per_user, latency_ms
from hymirec.models.popularity import Popularity
from hymirec.models.sasrec import SASRec
from tests.models.test_llm import COARSE, CONFIG, EMBEDDING_DIM, NUM_ITEMS, _model

HISTORIES = [np.arange(12) % NUM_ITEMS, np.array([1, 2]), np.arange(6)]  # 12, 2 and 6 items
VECTOR = EMBEDDING_DIM * FLOAT_BYTES


@pytest.mark.parametrize("config", [CodebookConfig(num_layers=3, num_codes=16),
                                    CodebookConfig(num_layers=3, num_codes=16, scale_mode=ScaleMode.PER_ITEM, scale_bits=6)])
def test_code_bytes_are_what_the_fitted_codebook_stores(config: CodebookConfig) -> None:
    vectors = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codebook = CosineResidualCodebook.fit(vectors, config, seed=0, progress=False)
    assert code_bytes(config) == codebook.encode(vectors).bytes_per_item


def test_each_model_fetches_what_it_reads() -> None:
    code = 4
    window = [min(len(h), CONFIG.recent_items) for h in HISTORIES]  # R = 4
    before = [min(max(len(h) - CONFIG.recent_items, 0), COARSE.max_length) for h in HISTORIES]  # coarse L = 9
    expected = {
        Variant.HYMIREC: np.mean([w * (ID_BYTES + VECTOR) + b * (ID_BYTES + code) for w, b in zip(window, before)]),
        Variant.EXACT_HISTORY: np.mean([w * (ID_BYTES + VECTOR) + b * (ID_BYTES + VECTOR) for w, b in zip(window, before)]),
        Variant.NO_COARSE: np.mean([w * (ID_BYTES + VECTOR) + b * code for w, b in zip(window, before)]),
        Variant.RECENT_ONLY: np.mean([w * (ID_BYTES + VECTOR) for w in window]),
        Variant.FULL_HISTORY: np.mean([min(len(h), CONFIG.full_history_items) * (ID_BYTES + VECTOR) for h in HISTORIES]),
    }
    for variant, bytes_expected in expected.items():
        assert history_bytes_per_user(variant.value, _model(variant), HISTORIES, EMBEDDING_DIM, code) == pytest.approx(bytes_expected)
    coarse = _model(Variant.HYMIREC).context  # the coarse model alone, as the report's coarse_* rows
    read = np.mean([min(len(h), COARSE.max_length) for h in HISTORIES])
    assert history_bytes_per_user("coarse_codebook", coarse, HISTORIES, EMBEDDING_DIM, code) == pytest.approx(read * (ID_BYTES + code))
    assert history_bytes_per_user("coarse_exact", coarse, HISTORIES, EMBEDDING_DIM, code) == pytest.approx(read * (ID_BYTES + VECTOR))
    sasrec = SASRec(SASRecConfig(max_length=5), NUM_ITEMS)
    assert history_bytes_per_user("sasrec", sasrec, HISTORIES, EMBEDDING_DIM, code) == pytest.approx(ID_BYTES * (5 + 2 + 5) / 3)
    assert history_bytes_per_user("popularity", Popularity(np.ones(NUM_ITEMS)), HISTORIES, EMBEDDING_DIM, code) == 0.0


def test_latency_percentiles_of_top10_requests() -> None:
    latency = latency_ms(SASRec(SASRecConfig(max_length=5), NUM_ITEMS).eval(), HISTORIES, np.array([0, 1, 2, 0]))
    assert 0 < latency["p50"] <= latency["p99"]
