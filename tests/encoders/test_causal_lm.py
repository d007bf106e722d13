"""The causal-LM encoder on tiny Llama / Qwen2 checkpoints built from a config: EOS appended, its last hidden state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from hymirec.config import ItemEmbeddingsConfig
from hymirec.encoders import CausalLMEncoder, build_encoder

TEXTS = ["star wars ( 1977 ) . genres action sci-fi", "toy story", "the matrix ( 1999 ) . genres action sci-fi", "alien", "a comedy drama"]


def config(path: Path, **overrides) -> ItemEmbeddingsConfig:
    return ItemEmbeddingsConfig(**{"encoder": "causal_lm", "model_path": path, "batch_size": 2, **overrides})


def test_shape_norm_determinism_and_padding_independence(tiny_decoder: Path) -> None:
    encoder = build_encoder(config(tiny_decoder))
    assert isinstance(encoder, CausalLMEncoder)
    vectors = encoder.encode(TEXTS, progress=False)
    assert vectors.shape == (5, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.encode(TEXTS, progress=False), vectors)
    alone = np.concatenate([encoder.encode([text], progress=False) for text in TEXTS])
    np.testing.assert_allclose(alone, vectors, atol=1e-5)  # right padding never leaks into the EOS state


def test_embedding_is_the_last_hidden_state_of_an_appended_eos(tiny_decoder: Path) -> None:
    tokenizer, model = AutoTokenizer.from_pretrained(tiny_decoder), AutoModel.from_pretrained(tiny_decoder).eval()
    ids = tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
    expected = (expected / expected.norm()).numpy()
    np.testing.assert_allclose(build_encoder(config(tiny_decoder)).encode(TEXTS[:1], progress=False)[0], expected, atol=1e-5)


def test_truncation_keeps_room_for_eos(tiny_llama: Path) -> None:
    tokenizer, model = AutoTokenizer.from_pretrained(tiny_llama), AutoModel.from_pretrained(tiny_llama).eval()
    ids = tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"][:3] + [tokenizer.eos_token_id]
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
    vector = build_encoder(config(tiny_llama, max_length=4)).encode(TEXTS[:1], progress=False)[0]
    np.testing.assert_allclose(vector, (expected / expected.norm()).numpy(), atol=1e-5)


def test_bfloat16_stays_close_to_float32(tiny_llama: Path) -> None:
    exact = build_encoder(config(tiny_llama)).encode(TEXTS, progress=False)
    fast = build_encoder(config(tiny_llama, precision="bfloat16")).encode(TEXTS, progress=False)
    assert not np.array_equal(exact, fast)
    assert (exact * fast).sum(axis=1).min() > 0.98


def test_a_tokenizer_without_eos_is_rejected(tiny_llama: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="no EOS token"):
        CausalLMEncoder(AutoModel.from_pretrained(tiny_llama), tokenizer, config(tiny_llama))
