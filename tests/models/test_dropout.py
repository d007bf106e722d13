from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hymirec.models.dropout import MASK_LEVELS, Dropout, dropout_mask, fast_dropout
from hymirec.models.sasrec import CausalSelfAttentionBlock


def test_the_mask_keeps_one_minus_p_and_preserves_the_expectation_exactly() -> None:
    torch.manual_seed(0)
    mask = dropout_mask(torch.Size([1000, 1000]), 0.2)
    assert mask.dtype == torch.float32 and mask.shape == (1000, 1000)
    kept = mask > 0
    assert abs(kept.float().mean().item() - 0.8) < 0.003  # binomial std 0.0004
    scale = mask[kept].unique()
    assert len(scale) == 1
    keep_probability = (MASK_LEVELS - round(0.2 * MASK_LEVELS)) / MASK_LEVELS
    assert abs(keep_probability - 0.8) < 2**-17
    assert scale.item() * keep_probability == pytest.approx(1.0, abs=1e-7)  # E[mask] = 1


def test_a_rate_that_rounds_to_dropping_everything_gives_zeros_not_a_division_by_zero() -> None:
    mask = dropout_mask(torch.Size([3, 4]), 1.0 - 2**-18)
    assert torch.equal(mask, torch.zeros(3, 4))


def test_masks_follow_torchs_seed_and_differ_between_draws() -> None:
    torch.manual_seed(3)
    first, second = dropout_mask(torch.Size([64, 50]), 0.5), dropout_mask(torch.Size([64, 50]), 0.5)
    torch.manual_seed(3)
    assert torch.equal(dropout_mask(torch.Size([64, 50]), 0.5), first)
    assert not torch.equal(first, second)


def test_dropout_is_the_identity_in_eval_mode_and_at_zero_and_gradients_follow_the_mask() -> None:
    values = torch.randn(8, 5, requires_grad=True)
    assert fast_dropout(values, 0.5, training=False) is values
    assert fast_dropout(values, 0.0, training=True) is values
    assert torch.equal(fast_dropout(values, 1.0, training=True), torch.zeros(8, 5))
    torch.manual_seed(1)
    expected_mask = dropout_mask(values.shape, 0.4)
    torch.manual_seed(1)
    dropped = fast_dropout(values, 0.4, training=True)
    torch.testing.assert_close(dropped, values * expected_mask)
    dropped.sum().backward()
    torch.testing.assert_close(values.grad, expected_mask)
    layer = Dropout(0.4).eval()
    assert layer(values) is values
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.5)


def test_attention_computed_for_dropout_equals_the_fused_kernel_when_nothing_is_dropped() -> None:
    # p below 2^-17 rounds to no dropped level: the step-by-step training path runs with an all-ones mask
    torch.manual_seed(0)
    block = CausalSelfAttentionBlock(hidden_size=12, num_heads=3, dropout=1e-6)
    query, key, value = torch.randn(3, 2, 3, 7, 4).unbind(0)
    allowed = torch.ones(7, 7, dtype=torch.bool).tril()[None, None].expand(2, 1, 7, 7).clone()
    allowed[1, :, :, :2] = False  # a padded row's keys
    allowed[1, :, 0, 0] = allowed[1, :, 1, 1] = True
    block.train()
    trained_path = block._attend(query, key, value, allowed)
    fused = F.scaled_dot_product_attention(query, key, value, attn_mask=allowed)
    torch.testing.assert_close(trained_path, fused, atol=1e-6, rtol=1e-5)
    block.eval()
    torch.testing.assert_close(block._attend(query, key, value, allowed), fused)
