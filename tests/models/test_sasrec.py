from __future__ import annotations

import functools

import mlflow
import numpy as np
import pytest
import torch

from hymirec.config import EvaluationConfig, SASRecConfig
from hymirec.data.sequences import SplitView
from hymirec.evaluation.ranking import evaluate
from hymirec.models.persistence import load_model, save_model
from hymirec.models.popularity import Popularity
from hymirec.models.sasrec import SASRec, SASRecText, training_batch
from hymirec.training.loop import TrainingSchedule, seed_everything, train_with_early_stopping

# unequal sizes so a wrong axis fails: 13 users, 7 max length, hidden 12, 19 items
CONFIG = SASRecConfig(hidden_size=12, num_layers=2, num_heads=3, dropout=0.0, max_length=7)
NUM_ITEMS = 19


def _cyclic_sequences(users: int = 13, length: int = 9) -> list[np.ndarray]:
    """User u walks the items u, u+1, u+2, ... (mod 19): the next item is fully predictable."""
    return [np.arange(u, u + length) % NUM_ITEMS for u in range(users)]


def test_training_batch_aligns_inputs_and_labels() -> None:
    batch = training_batch([np.array([4, 5, 6]), np.array([1, 2, 3, 4, 5, 6, 7, 8, 9])], max_length=4)
    assert batch.inputs.tolist() == [[0, 0, 5, 6], [6, 7, 8, 9]]  # tokens = item_idx + 1, left-padded
    assert batch.labels.tolist() == [[-100, -100, 5, 6], [6, 7, 8, 9]]  # next item_idx


def test_forward_shapes_and_padding_does_not_leak() -> None:
    model = SASRec(CONFIG, NUM_ITEMS).eval()
    tokens = torch.tensor([[0, 0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]])
    hidden = model(tokens)
    assert hidden.shape == (2, 7, 12)
    # a user's vector does not depend on the other users in the batch (padding is masked)
    alone = model(tokens[:1])
    torch.testing.assert_close(hidden[0, -1], alone[0, -1], atol=1e-5, rtol=1e-5)
    scores = model.score_items([np.array([2, 3]), np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])])
    assert scores.shape == (2, NUM_ITEMS)


def test_scoring_reads_only_the_last_positions_and_trims_padding_without_changing_a_score() -> None:
    model = SASRec(CONFIG, NUM_ITEMS).eval()
    tokens = torch.tensor([[0, 0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]])
    full = model(tokens)
    torch.testing.assert_close(model(tokens, last=1)[:, 0], full[:, -1], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model(tokens, last=3), full[:, -3:], atol=1e-6, rtol=1e-5)
    histories = [np.array([2, 3]), np.array([0, 1, 2])]  # scored trimmed to 3 columns instead of 7
    padded = model(torch.tensor([[0, 0, 0, 0, 0, 3, 4], [0, 0, 0, 0, 1, 2, 3]]))[:, -1] @ model.item_vectors().T
    np.testing.assert_allclose(model.score_items(histories), padded.detach().numpy(), atol=1e-5, rtol=1e-5)
    assert model.score_items([np.array([], dtype=np.int64)]).shape == (1, NUM_ITEMS)  # an empty history still scores


@pytest.mark.parametrize("last", [None, 1, 3])
def test_a_batch_past_the_attention_budget_runs_in_parts_trimmed_to_their_longest_row_with_the_same_states(
    monkeypatch: pytest.MonkeyPatch, last: int | None
) -> None:
    model = SASRec(CONFIG, NUM_ITEMS).eval()
    torch.nn.init.normal_(model.final_norm.bias)  # a padding position's state is this bias, not zero
    tokens = torch.tensor([[0, 0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7], [0, 0, 9, 8, 7, 6, 5], [0, 0, 0, 0, 0, 0, 2],
                           [0, 0, 0, 0, 0, 0, 0]])
    whole = model(tokens, last)
    parts = []
    monkeypatch.setattr("hymirec.models.sasrec.ATTENTION_ENTRIES", 2 * 7**2)  # two rows of 7 × 7 a pass
    monkeypatch.setattr(model, "embed_tokens", lambda part: parts.append(tuple(part.shape)) or SASRec.embed_tokens(model, part))
    torch.testing.assert_close(model(tokens, last), whole, atol=1e-6, rtol=1e-5)
    # longest first: 7 and 5 items (two rows of 7 fit), then 4, 1 and 0 items in one part 4 wide (98 // 16 rows fit)
    assert parts == [(2, 7), (3, 4)]


@pytest.mark.parametrize("last", [None, 12])
def test_training_attention_in_query_blocks_drops_the_same_weights_and_trains_alike(monkeypatch: pytest.MonkeyPatch, last: int | None) -> None:
    config = SASRecConfig(hidden_size=12, num_layers=2, num_heads=3, dropout=0.3, max_length=30)
    sequences = [np.arange(u, u + length) % NUM_ITEMS for u, length in enumerate((31, 24, 9))]  # left padding too
    tokens = training_batch(sequences, config.max_length + 1).inputs

    def trained(block: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        monkeypatch.setattr("hymirec.models.sasrec.QUERY_BLOCK", block)
        seed_everything(3)
        model = SASRec(config, NUM_ITEMS).train()
        states = model(tokens, last=last)
        (states**2).sum().backward()
        return states.detach(), [parameter.grad for parameter in model.parameters()]

    whole, whole_grads = trained(10**6)
    blocked, blocked_grads = trained(5)  # 30 queries in blocks of 5 (the last layer with last = 12: 5, 5 and 2)
    torch.testing.assert_close(blocked, whole, atol=1e-5, rtol=1e-5)
    # float32 sums taken in another order differ by a few units of rounding at the scale of the largest
    # gradient (the final norm's, ~1e2 here), which is 1e-5 where a deep gradient is ~1e-3 (measured 1.2e-5
    # on one machine); a wrong mask or block would differ by the gradients themselves
    scale = max(float(grad.abs().max()) for grad in whole_grads)
    for got, expected in zip(blocked_grads, whole_grads, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-6 * scale, rtol=1e-5)


def test_causal_attention_ignores_future_items() -> None:
    model = SASRec(CONFIG, NUM_ITEMS).eval()
    a = model(torch.tensor([[1, 2, 3, 4, 5, 6, 7]]))
    b = model(torch.tensor([[1, 2, 3, 4, 9, 9, 9]]))
    torch.testing.assert_close(a[0, :4], b[0, :4])


def _train(
    sequences, epochs: int, seed: int = 0, checkpoint=None, interrupt_at_epoch=None, config=CONFIG, rate_schedule: str = "constant"
) -> tuple[SASRec, object]:
    seed_everything(seed)
    model = SASRec(config, NUM_ITEMS)
    view = SplitView([s[:-1] for s in sequences], np.array([s[-1] for s in sequences]), np.arange(len(sequences)), "valid")
    calls = []

    def validate(trained):
        calls.append(1)
        if len(calls) == interrupt_at_epoch:
            raise KeyboardInterrupt
        return evaluate(trained.score_items, view, EvaluationConfig(ks=(1, 10), ranking_depth=10), model_name="sasrec", with_top_items=False).metrics

    output = train_with_early_stopping(
        model,
        sequences,
        lambda batch: training_batch(batch, config.max_length),
        validate,
        TrainingSchedule(4, 1e-2, 0.0, max_epochs=epochs, patience=epochs, rate_schedule=rate_schedule, warmup_epochs=0.5),
        seed=seed,
        checkpoint=checkpoint,
    )
    return model, output


def test_tiny_model_overfits_a_predictable_data_set(tmp_path) -> None:
    model, output = _train(_cyclic_sequences(), epochs=40)
    assert output.best_valid["recall@10"] == 1.0
    assert output.best_valid["ndcg@10"] > 0.9
    save_model(model, CONFIG, NUM_ITEMS, tmp_path)
    reloaded = load_model(SASRec, SASRecConfig, tmp_path)
    histories = [np.array([1, 2, 3])]
    np.testing.assert_allclose(reloaded.score_items(histories), model.score_items(histories), rtol=1e-6)


def test_training_is_deterministic_and_resumes_identically(tmp_path) -> None:
    sequences, config = _cyclic_sequences(), CONFIG.model_copy(update={"dropout": 0.3})  # dropout masks drawn too
    train = functools.partial(_train, config=config, rate_schedule="cosine")  # and a rate that changes every step
    _, first = train(sequences, epochs=3)
    _, second = train(sequences, epochs=3)
    assert first.history == second.history
    # interrupted during epoch 3's validation: the epoch-2 checkpoint stays, and a rerun resumes from it
    checkpoint = tmp_path / "state.pt"
    with pytest.raises(KeyboardInterrupt):
        train(sequences, epochs=3, checkpoint=checkpoint, interrupt_at_epoch=3)
    assert checkpoint.exists()
    resumed_model, resumed = train(sequences, epochs=3, checkpoint=checkpoint)
    assert resumed.history == first.history
    assert mlflow.active_run() is None  # training outside a stage run leaves no stray MLflow run
    # the finished run's state stays (its caller removes it once the model is saved): a rerun returns the
    # same model and history without training another epoch
    assert checkpoint.exists()
    again, rerun = train(sequences, epochs=3, checkpoint=checkpoint, interrupt_at_epoch=1)  # raises if it trains an epoch
    assert rerun.history == first.history and rerun.best_epoch == first.best_epoch
    for name, weights in resumed_model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], weights, rtol=0, atol=0)


def test_popularity_ranks_by_input_counts() -> None:
    model = Popularity.of_histories([np.array([0, 1]), np.array([1, 2]), np.array([1])], num_items=4)
    assert model.score_items([np.array([0])]).tolist() == [[1.0, 3.0, 1.0, 0.0]]


def test_checkpoint_path_changes_with_training_settings(tmp_path) -> None:
    from hymirec.paths import Layout
    from hymirec.training.loop import fingerprint

    layout = Layout(tmp_path)
    base = layout.checkpoint("sasrec_model", fingerprint(42, CONFIG))
    assert base == layout.checkpoint("sasrec_model", fingerprint(42, SASRecConfig(**CONFIG.model_dump())))
    assert base != layout.checkpoint("sasrec_model", fingerprint(43, CONFIG))
    assert base != layout.checkpoint("sasrec_model", fingerprint(42, CONFIG.model_copy(update={"learning_rate": CONFIG.learning_rate * 2})))


def test_sasrec_text_reads_and_scores_items_through_one_tied_tower() -> None:
    vectors = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    config = SASRecConfig(hidden_size=8, num_layers=1, num_heads=2, dropout=0.0, max_length=4)
    model = SASRecText.from_embeddings(config, vectors).eval()
    tower = model.item_tower()
    torch.testing.assert_close(model.item_vectors(), tower)
    torch.testing.assert_close(model.embed_tokens(torch.tensor([[0, 1, 7]]))[0], torch.stack([torch.zeros(8), tower[0], tower[6]]) * 8**0.5)
    # the text vector matters: the same ids with other text score differently
    other = SASRecText.from_embeddings(config, vectors[::-1].copy())
    other.load_state_dict({**model.state_dict(), "item_tower.text_vectors": other.item_tower.text_vectors})
    assert not np.allclose(other.score_items([np.array([1, 2])]), model.score_items([np.array([1, 2])]))
