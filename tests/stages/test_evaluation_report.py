"""The report's cost-of-compression numbers: exact vs codebook history, per split and model pair."""

from __future__ import annotations

import pytest

from hymirec.evaluation.report import compression_table
from hymirec.stages.evaluation_report import compression_effect


def test_compression_effect_pairs_each_model_with_its_exact_history_twin() -> None:
    metrics = {
        "test": {
            "coarse_codebook": {"ndcg@10": 0.099}, "coarse_exact": {"ndcg@10": 0.100},
            "hymirec": {"ndcg@10": 0.0}, "hymirec_exact_history": {"ndcg@10": 0.0},
            "sasrec": {"ndcg@10": 0.2},
        },
        "valid": {"coarse_codebook": {"ndcg@10": 0.1}},  # twin missing: no pair
    }
    effect = compression_effect(metrics)
    assert set(effect) == {"test"}
    assert effect["test"]["coarse"] == {"exact_ndcg@10": 0.100, "codebook_ndcg@10": 0.099, "relative_change": pytest.approx(-0.01)}
    assert effect["test"]["hymirec"]["relative_change"] is None  # undefined when the exact model scores 0
    table = compression_table(effect)
    assert "| test | coarse | 0.1000 | 0.0990 | -1.00% |" in table and "| test | hymirec | 0.0000 | 0.0000 | n/a |" in table
