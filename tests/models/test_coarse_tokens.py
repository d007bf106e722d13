"""Coarse-token diagnostics on a tiny HyMiRec model: token cosine and the queries' attention share per layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hymirec.config import Variant
from hymirec.evaluation.coarse_tokens import coarse_token_diagnostics, mean_token_cosine
from tests.models.test_llm import CONFIG, NUM_ITEMS, _model


def test_token_cosine_averages_the_pairs_of_non_empty_tokens() -> None:
    tokens = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],   # pairs: 0, 1/√2, 1/√2
                           [[5.0, 0.0], [9.0, 9.0], [2.0, 0.0]]])  # token 1 empty: pair (0, 2) = 1
    real = torch.tensor([[True, True, True], [True, False, True]])
    assert mean_token_cosine(tokens, real) == pytest.approx(((0 + 2 ** -0.5 + 2 ** -0.5) / 3 + 1.0) / 2)
    assert mean_token_cosine(tokens, torch.tensor([[True, False, False], [False, False, True]])) is None


def test_diagnostics_measure_users_with_a_context_and_every_decoder_layer() -> None:
    model = _model(Variant.HYMIREC)
    attention_kind = model.backbone.config._attn_implementation
    histories = [np.arange(u, u + 9) % NUM_ITEMS for u in range(5)] + [np.array([1, 2])]  # the last fits the window
    diagnostics = coarse_token_diagnostics(model, histories)
    assert diagnostics["users"] == 5
    assert -1.0 <= diagnostics["token_cosine"] <= 1.0
    shares = diagnostics["query_attention_share"]
    assert len(shares) == CONFIG.backbone.num_layers and all(0.0 < share < 1.0 for share in shares)
    assert model.backbone.config._attn_implementation == attention_kind  # eager only while measuring


def test_no_context_or_no_long_history_gives_none() -> None:
    assert coarse_token_diagnostics(_model(Variant.RECENT_ONLY), [np.arange(9)]) is None
    assert coarse_token_diagnostics(_model(Variant.HYMIREC), [np.array([1, 2, 3])]) is None
