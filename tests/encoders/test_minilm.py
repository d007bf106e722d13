"""The default encoder: the real all-MiniLM-L6-v2 from its package, on a handful of texts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from hymirec.config import ItemEmbeddingsConfig
from hymirec.encoders import MiniLMEncoder, build_encoder, packaged_model_path

TEXTS = [
    "Star Wars: Episode IV - A New Hope (1977). Genres: Action, Adventure, Fantasy, Sci-Fi",
    "Toy Story (1995). Genres: Animation, Children's, Comedy",
    "Star Wars: Episode V - The Empire Strikes Back (1980). Genres: Action, Adventure, Drama, Sci-Fi, War",
    "Heat (1995). Genres: Action, Crime, Thriller",
    "Babe (1995). Genres: Children's, Comedy, Drama",
]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return build_encoder(ItemEmbeddingsConfig(batch_size=2))


def test_unit_norm_384_d_and_deterministic(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(TEXTS, progress=False)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.encode(TEXTS, progress=False), vectors)
    # batching groups texts by length; each row still belongs to its own text
    np.testing.assert_allclose(encoder.encode(TEXTS[::-1], progress=False)[::-1], vectors, atol=1e-5)


def test_mean_pooling_matches_a_direct_computation(encoder: MiniLMEncoder) -> None:
    path = packaged_model_path()
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    tokens = tokenizer(TEXTS[1], return_tensors="pt")
    with torch.inference_mode():
        expected = model(**tokens).last_hidden_state[0].mean(dim=0)
    expected = (expected / expected.norm()).numpy()
    np.testing.assert_allclose(encoder.encode(TEXTS[1:2], progress=False)[0], expected, atol=1e-5)


def test_neighbours_make_sense(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(TEXTS, progress=False)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    assert similarity[0].argmax() == 2  # A New Hope's nearest neighbour is The Empire Strikes Back
