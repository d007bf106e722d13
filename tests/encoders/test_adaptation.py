"""LoRA next-item adaptation on a tiny config-built decoder: only adapters train, result merged and frozen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hymirec.encoders.adaptation as adaptation
from hymirec.config import AdaptationConfig, ItemEmbeddingsConfig
from hymirec.encoders import adapt_with_lora, build_encoder, next_item_pairs

TEXTS = ["star wars", "toy story", "the matrix", "alien", "a comedy", "a drama", "horror", "action sci-fi"]


def test_next_item_pairs_are_consecutive_and_capped() -> None:
    sequences = [np.array([3, 1, 4]), np.array([5]), np.array([9, 2])]
    assert next_item_pairs(sequences, 10, seed=0).tolist() == [[3, 1], [1, 4], [9, 2]]
    capped = next_item_pairs(sequences, 2, seed=0)
    assert len(capped) == 2 and np.array_equal(capped, next_item_pairs(sequences, 2, seed=0))


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict, int | None]]:
    calls: list[tuple[dict, int | None]] = []
    monkeypatch.setattr(adaptation, "log_metrics", lambda metrics, step=None: calls.append((metrics, step)))
    return calls


def adapted(path: Path, seed: int = 0):
    encoder = build_encoder(ItemEmbeddingsConfig(encoder="causal_lm", model_path=path))
    pairs = np.array([[i, (i + 1) % len(TEXTS)] for i in range(len(TEXTS))] * 3)
    settings = AdaptationConfig(enabled=True, lora_rank=4, epochs=2, batch_size=8, learning_rate=5e-3)
    return encoder, adapt_with_lora(encoder, TEXTS, pairs, settings, seed=seed)


def test_lora_adapts_then_merges_and_freezes(tiny_llama: Path, logged: list) -> None:
    before = build_encoder(ItemEmbeddingsConfig(encoder="causal_lm", model_path=tiny_llama)).encode(TEXTS, progress=False)
    encoder, output = adapted(tiny_llama)
    assert output.pairs == 24 and len(output.epoch_losses) == 2 and np.isfinite(output.epoch_losses).all()
    assert output.epoch_losses[1] < output.epoch_losses[0]
    assert 0 < output.trainable_parameters < sum(p.numel() for p in encoder.model.parameters()) / 10
    assert not any("lora" in name for name in encoder.model.state_dict())  # merged into the weights
    assert not any(p.requires_grad for p in encoder.model.parameters())
    after = encoder.encode(TEXTS, progress=False)
    assert after.shape == before.shape and not np.allclose(after, before, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert [step for _, step in logged] == [1, 2] and "adaptation_loss" in logged[0][0]


def test_adaptation_is_deterministic_with_a_seed(tiny_llama: Path, logged: list) -> None:
    first, _ = adapted(tiny_llama, seed=3)
    second, _ = adapted(tiny_llama, seed=3)
    np.testing.assert_array_equal(first.encode(TEXTS, progress=False), second.encode(TEXTS, progress=False))
