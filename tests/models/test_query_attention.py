"""The decoder's query-token attention equals SDPA over the whole [T × T] mask, values and gradients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hymirec.config import BackboneConfig, CoarseConfig, LLMConfig, Variant
from hymirec.models.coarse import CoarseModel
from hymirec.models.llm import build_hymirec, llm_batch, training_windows
from hymirec.models.query_attention import QUERY_TOKEN_ATTENTION
from hymirec.training.loop import seed_everything

NUM_ITEMS = 23
COARSE = CoarseConfig(hidden_size=8, num_layers=1, num_heads=1, dropout=0.0, max_length=9, num_tokens=2)
CONFIG = LLMConfig(
    backbone=BackboneConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, dropout=0.0),
    num_interests=3, interest_size=12, recent_items=5, target_window=3, windows_per_user=2,
)


def _model(variant: Variant, cache_dir: Path = Path("unused")):
    seed_everything(0)
    embeddings = np.random.default_rng(0).normal(size=(NUM_ITEMS, 10)).astype(np.float32)
    coarse = CoarseModel.from_embeddings(COARSE, embeddings, embeddings)
    return build_hymirec(CONFIG, variant, COARSE, embeddings, embeddings, cache_dir, coarse.state_dict())


def _states_and_gradients(model, batch, every_key: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The decoder's states of every window position's [context + window + queries], with the narrow mask
    (query-token attention) or with the whole one (SDPA), and the gradients of a weighted sum of them."""
    base = model.backbone.get_base_model() if hasattr(model.backbone, "get_base_model") else model.backbone
    base.set_attn_implementation("sdpa" if every_key else QUERY_TOKEN_ATTENTION)
    try:
        model.zero_grad()
        decoder_input = model.decoder_input(batch.before, batch.window, model.item_vectors(), torch.arange(CONFIG.recent_items))
        states = model.backbone(**decoder_input.backbone_arguments(every_key=every_key)).last_hidden_state
        (states * torch.linspace(-1, 1, states.numel()).view_as(states)).sum().backward()
    finally:
        base.set_attn_implementation(QUERY_TOKEN_ATTENTION)
    return states.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def _batch():
    sequences = [np.arange(u, u + length) % NUM_ITEMS for u, length in zip(range(6), (3, 14, 8, 20, 6, 11))]
    return llm_batch(training_windows(sequences, CONFIG.recent_items, 2, seed=0, epoch=1), CONFIG.recent_items, CONFIG.target_window)


@pytest.mark.parametrize("variant", [Variant.HYMIREC, Variant.RECENT_ONLY], ids=lambda v: v.value)
def test_query_token_attention_equals_sdpa_over_the_whole_mask(variant: Variant) -> None:
    model, batch = _model(variant).train(), _batch()  # dropout 0: train mode only so that gradients flow as in training
    narrow, narrow_grads = _states_and_gradients(model, batch, every_key=False)
    whole, whole_grads = _states_and_gradients(model, batch, every_key=True)
    torch.testing.assert_close(narrow, whole, atol=1e-5, rtol=1e-5)
    assert len(narrow_grads) == len(whole_grads) > 0
    for mine, theirs in zip(narrow_grads, whole_grads):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-4)


def test_a_decoder_on_another_attention_is_given_the_whole_mask_and_trains_alike() -> None:
    """The model passes the narrow mask to the query-token attention only (``hymirec bench``'s llm_steps A/B runs
    the same model on SDPA): SDPA given the narrow mask would fail on its shape."""
    batch, losses, gradients = _batch(), [], []
    for attention in (QUERY_TOKEN_ATTENTION, "sdpa"):
        model = _model(Variant.HYMIREC).train()
        model.backbone.set_attn_implementation(attention)
        assert model.attends_over_keys_only is (attention == QUERY_TOKEN_ATTENTION)
        loss = model.loss(batch)
        loss.backward()
        losses.append(loss.detach())
        gradients.append([p.grad for p in model.parameters() if p.grad is not None])
    torch.testing.assert_close(losses[0], losses[1], atol=1e-6, rtol=1e-6)
    assert len(gradients[0]) == len(gradients[1]) > 0
    for mine, theirs in zip(*gradients):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-4)

def test_the_narrow_mask_leaves_out_only_what_no_token_may_see() -> None:
    """Every column the narrow mask drops is a query's, and the whole mask lets a query see only itself there."""
    model, batch = _model(Variant.HYMIREC).eval(), _batch()
    decoder_input = model.decoder_input(batch.before, batch.window, model.item_vectors(), torch.arange(CONFIG.recent_items))
    dropped = decoder_input.allowed[:, :, decoder_input.num_keys :]  # [B T Q]
    queries = dropped.shape[2]
    assert queries == CONFIG.recent_items * CONFIG.num_interests
    own = torch.zeros_like(dropped)
    own[:, decoder_input.num_keys :, :] = torch.eye(queries, dtype=torch.bool)
    assert torch.equal(dropped, own)
    assert decoder_input.backbone_arguments()["attention_mask"].shape[-1] == decoder_input.num_keys


@pytest.mark.slow
def test_query_token_attention_equals_sdpa_on_smollm2s_grouped_heads(smollm2_cache: Path) -> None:
    model, batch = _model(Variant.SMOLLM2, smollm2_cache).train(), _batch()
    narrow, narrow_grads = _states_and_gradients(model, batch, every_key=False)
    whole, whole_grads = _states_and_gradients(model, batch, every_key=True)
    torch.testing.assert_close(narrow, whole, atol=1e-4, rtol=1e-4)
    for mine, theirs in zip(narrow_grads, whole_grads):
        torch.testing.assert_close(mine, theirs, atol=1e-4, rtol=1e-3)
