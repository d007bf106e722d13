"""The baselines stage sasrec_model builds: sasrec_full_history reads the whole history at sasrec's tokens per batch."""

from __future__ import annotations

from pathlib import Path

from hymirec.config import HyMiRecConfig
from hymirec.paths import Layout
from hymirec.stages.sasrec_model import baselines


def test_the_full_history_twin_reads_everything_at_the_same_tokens_per_batch(tmp_path: Path) -> None:
    config = HyMiRecConfig.model_validate({"sasrec": {"max_length": 200, "batch_size": 64, "full_history_length": 2314,
                                                      "train_text_twin": False}, "comirec": {"enabled": False}})
    chosen = baselines(config, Layout(tmp_path), num_items=30)
    assert list(chosen) == ["sasrec", "sasrec_full_history"]
    whole = chosen["sasrec_full_history"].section
    assert (whole.max_length, whole.batch_size, whole.full_history_length) == (2314, 64 * 200 // 2314, None)
    assert chosen["sasrec_full_history"].build().config.max_length == 2314
    plain = HyMiRecConfig.model_validate({"sasrec": {"train_text_twin": False}})
    assert "sasrec_full_history" not in baselines(plain, Layout(tmp_path), num_items=30)
