"""Sanity numbers stored with the item embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hymirec.encoders import embedding_summary


def test_summary_on_hand_checkable_vectors() -> None:
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    summary = embedding_summary(vectors, pd.Series(["Drama|War", "War", "Comedy"]))
    assert summary["norm_max_error"] < 1e-6
    assert summary["mean_pairwise_cosine"] == pytest.approx((0.8 + 0.0 + 0.6) / 3, abs=1e-6)
    # neighbours: 0 → 1 (shares War), 1 → 0 (shares War), 2 → 1 (no shared genre)
    assert summary["neighbour_shares_genre"] == pytest.approx(2 / 3)
    assert "neighbour_shares_genre" not in embedding_summary(vectors)
