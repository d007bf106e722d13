"""HyMiRec's coarse model: reads history vectors, emits the last M states as context tokens, persists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hymirec.config import CoarseConfig
from hymirec.models.coarse import CoarseModel, PrefixStates
from hymirec.models.persistence import load_model, save_model
from hymirec.models.sasrec import training_batch

# unequal sizes so a wrong axis fails: 11 items, 6-d embeddings, width 8, window 5, M=3
CONFIG = CoarseConfig(hidden_size=8, num_layers=1, num_heads=2, dropout=0.0, max_length=5, num_tokens=3)


def _vectors(seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(11, 6)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_last_pooling_gives_the_last_states_with_a_padding_mask() -> None:
    model = CoarseModel.from_embeddings(CONFIG, _vectors(0), _vectors(1)).eval()
    tokens, mask = model.context_tokens([np.array([1, 2, 3, 4, 5, 6, 7]), np.array([9, 10])], "last")
    assert tokens.shape == (2, 3, 8)
    assert mask.tolist() == [[True, True, True], [False, True, True]]
    states = model(torch.tensor([[4, 5, 6, 7, 8], [0, 0, 0, 10, 11]]))  # tokens = item_idx + 1, last 5 items
    torch.testing.assert_close(tokens, states[:, -3:])


def test_chunk_pooling_averages_the_states_of_each_third_of_the_history() -> None:
    """M = 3 tokens, each the mean state over another period of the user's own items (oldest first)."""
    model = CoarseModel.from_embeddings(CONFIG, _vectors(0), _vectors(1)).eval()
    tokens, mask = model.context_tokens([np.array([1, 2, 3, 4, 5, 6, 7]), np.array([9, 10])], "chunks")
    states = model(torch.tensor([[4, 5, 6, 7, 8], [0, 0, 0, 10, 11]]))  # the last max_length = 5 items
    # 5 items -> chunks of positions {0}, {1, 2}, {3, 4} (the newest in the last); 2 items -> token 0 empty
    expected_first = torch.stack([states[0, 0], states[0, 1:3].mean(0), states[0, 3:5].mean(0)])
    torch.testing.assert_close(tokens[0], expected_first)
    assert mask.tolist() == [[True, True, True], [False, True, True]]
    torch.testing.assert_close(tokens[1, 1:], states[1, 3:])
    assert not torch.allclose(tokens[0, 0], tokens[0, 2])  # different periods, different tokens


def test_the_history_is_read_through_its_vectors_and_items_scored_through_the_tower() -> None:
    exact = _vectors(1)
    reconstructed = CoarseModel.from_embeddings(CONFIG, _vectors(0), exact)
    torch.manual_seed(0)
    twin = CoarseModel.from_embeddings(CONFIG, exact, exact)
    twin.load_state_dict({**reconstructed.state_dict(), "history_vectors": twin.history_vectors})
    histories = [np.array([1, 2, 3])]
    assert not np.allclose(reconstructed.score_items(histories), twin.score_items(histories))  # only the inputs differ
    assert reconstructed.item_vectors().shape == (11, 8)


def test_saved_model_reloads_with_its_embedding_size(tmp_path: Path) -> None:
    model = CoarseModel.from_embeddings(CONFIG, _vectors(0), _vectors(1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    batch = training_batch([np.arange(8) % 11, np.arange(3, 9)], CONFIG.max_length)
    first = model.loss(batch).item()
    for _ in range(20):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    assert model.loss(batch).item() < first
    save_model(model, CONFIG, 11, tmp_path, embedding_dim=6)
    reloaded = load_model(CoarseModel, CoarseConfig, tmp_path)
    histories = [np.array([1, 2, 3]), np.array([7])]
    np.testing.assert_allclose(reloaded.score_items(histories), model.score_items(histories), atol=1e-6)


def test_history_items_enter_with_their_tied_id_vectors_only_when_configured() -> None:
    with_ids = CoarseModel.from_embeddings(CONFIG, _vectors(0), _vectors(1)).eval()
    without = CoarseModel.from_embeddings(CONFIG.model_copy(update={"item_id_inputs": False}), _vectors(0), _vectors(1)).eval()
    without.load_state_dict(with_ids.state_dict())
    tokens = torch.tensor([[0, 3, 5]])
    projected = with_ids.input_projection(with_ids.history_vectors[tokens])
    scale = CONFIG.hidden_size**0.5
    torch.testing.assert_close(without.embed_tokens(tokens), projected * scale)
    ids = with_ids.item_tower.id_embedding.weight
    torch.testing.assert_close(with_ids.embed_tokens(tokens), (projected + torch.stack([torch.zeros(8), ids[2], ids[4]])[None]) * scale)


FROM_OLDEST = CONFIG.model_copy(update={"positions": "from_oldest", "max_length": 9})


def test_from_oldest_positions_make_a_historys_states_the_first_states_of_a_longer_one() -> None:
    model = CoarseModel.from_embeddings(FROM_OLDEST, _vectors(0), _vectors(1)).eval()
    longer = model(torch.tensor([[0, 3, 1, 4, 1, 5, 9, 2, 6]]))[0, 1:]  # 8 items, one column of padding
    shorter = model(torch.tensor([[3, 1, 4, 1]]))[0]
    torch.testing.assert_close(shorter, longer[:4])
    newest = CoarseModel.from_embeddings(CONFIG.model_copy(update={"max_length": 9}), _vectors(0), _vectors(1)).eval()
    assert not torch.allclose(newest(torch.tensor([[3, 1, 4, 1]]))[0], newest(torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]]))[0, :4])


def test_prefix_states_give_the_context_tokens_of_a_pass_over_each_prefix() -> None:
    model = CoarseModel.from_embeddings(FROM_OLDEST, _vectors(0), _vectors(1)).eval()
    sequences = [np.array([2, 0, 3, 0, 4, 8, 1, 5]), np.array([2, 0, 3, 7]), np.array([6, 6, 1, 2, 3, 4, 5, 6, 7, 9])]  # the last is too long
    stored = PrefixStates(model, sequences)
    prefixes = [sequences[0][:6], sequences[1][:4], sequences[0][:0], sequences[1][:2], sequences[0][:1]]
    for pooling in ("chunks", "last"):
        tokens, mask = stored.context_tokens(prefixes, pooling)
        expected, expected_mask = model.context_tokens(prefixes, pooling)
        assert mask.tolist() == expected_mask.tolist()
        torch.testing.assert_close(tokens[mask], expected[expected_mask], atol=1e-5, rtol=1e-5)
    assert stored.context_tokens([sequences[2][:3]], "chunks") is None  # a prefix of the too-long sequence only
    assert stored.context_tokens([np.array([2, 0, 9])], "chunks") is None  # same head, another history
    with pytest.raises(ValueError, match="from_oldest"):
        PrefixStates(CoarseModel.from_embeddings(CONFIG, _vectors(0), _vectors(1)), sequences)
