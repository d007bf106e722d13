from __future__ import annotations

import numpy as np
import torch

from hymirec.config import ComiRecConfig, EvaluationConfig
from hymirec.data.sequences import SplitView
from hymirec.evaluation.ranking import evaluate
from hymirec.models.comirec import ComiRec, hard_readout
from hymirec.models.persistence import load_model, save_model
from hymirec.models.sasrec import training_batch
from hymirec.training.loop import TrainingSchedule, seed_everything, train_with_early_stopping

# unequal sizes so a wrong axis fails: 7 max length, hidden 12, attention 10, 3 interests, 19 items
CONFIG = ComiRecConfig(hidden_size=12, attention_size=10, num_interests=3, max_length=7)
NUM_ITEMS = 19
HISTORIES = [np.array([2, 3]), np.array([0, 1, 2, 3, 4, 5, 6, 7, 8]), np.array([11, 4, 17, 9, 5])]


def _model(seed: int = 0) -> ComiRec:
    torch.manual_seed(seed)
    return ComiRec(CONFIG, NUM_ITEMS).eval()


def _cyclic_sequences(users: int = 13, length: int = 9) -> list[np.ndarray]:
    """User u walks the items u, u+1, u+2, ... (mod 19): the next item is fully predictable."""
    return [np.arange(u, u + length) % NUM_ITEMS for u in range(users)]


def test_shapes_of_interests_and_scores() -> None:
    model = _model()
    assert model(torch.tensor([[0, 0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]])).shape == (2, 7, 3, 12)  # [B L K D]
    assert model.user_interests(HISTORIES).shape == (3, 3, 12)  # [B K D]
    assert model.score_items(HISTORIES).shape == (3, NUM_ITEMS)  # [B I]


def test_score_is_the_best_interest_dot_product() -> None:
    model = _model()
    interests = model.user_interests(HISTORIES)  # [B K D]
    items = model.item_vectors().detach().numpy()  # [I D]
    expected = np.einsum("bkd,id->bki", interests, items).max(axis=1)
    np.testing.assert_allclose(model.score_items(HISTORIES), expected, rtol=1e-5, atol=1e-6)


def test_a_users_scores_do_not_depend_on_the_batch() -> None:
    model = _model()
    together = model.score_items(HISTORIES)
    for row, history in enumerate(HISTORIES):
        np.testing.assert_allclose(model.score_items([history])[0], together[row], rtol=1e-5, atol=1e-6)
    # nor on how wide the batch is padded: positions count from the right end
    tokens = torch.tensor([[0, 0, 0, 0, 0, 3, 4, 5, 6][-CONFIG.max_length :]])
    torch.testing.assert_close(model(tokens)[:, -1], model(tokens[:, -4:])[:, -1])


def test_interests_at_a_position_ignore_later_items() -> None:
    model = _model()
    a = model(torch.tensor([[0, 1, 2, 3, 4, 5, 6]]))
    b = model(torch.tensor([[0, 1, 2, 3, 9, 9, 19]]))
    torch.testing.assert_close(a[0, :4], b[0, :4])
    assert not torch.allclose(a[0, 4:], b[0, 4:])
    # padding positions pool nothing
    assert model(torch.tensor([[0, 0, 5]]))[0, :2].abs().max() == 0


def test_serving_pools_only_the_last_position_of_a_trimmed_batch() -> None:
    model = ComiRec(CONFIG, NUM_ITEMS).eval()
    tokens = torch.tensor([[0, 0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]])
    torch.testing.assert_close(model(tokens, last=1)[:, 0], model(tokens)[:, -1])
    short = [np.array([2, 3]), np.array([0, 1, 2])]  # trimmed to 3 columns instead of 7
    padded = model(torch.tensor([[0, 0, 0, 0, 0, 3, 4], [0, 0, 0, 0, 1, 2, 3]]))[:, -1]
    torch.testing.assert_close(model.interests(short), padded, atol=1e-6, rtol=1e-5)


def test_hard_readout_picks_the_best_interest() -> None:
    interests = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]], [[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]]])  # [N=2 K=3 D=2]
    targets = torch.tensor([[0.0, 1.0], [-1.0, 0.5]])  # best: interest 1 (2.0), interest 2 (3.0 vs 1.0)
    torch.testing.assert_close(hard_readout(interests, targets), torch.tensor([[0.0, 2.0], [-3.0, 0.0]]))


def test_loss_is_finite_and_reaches_every_parameter() -> None:
    model = _model().train()
    model.loss(training_batch(_cyclic_sequences(users=4), CONFIG.max_length)).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_tiny_model_overfits_a_predictable_data_set(tmp_path) -> None:
    seed_everything(0)
    model = ComiRec(CONFIG, NUM_ITEMS)
    sequences = _cyclic_sequences()
    view = SplitView(
        histories=[s[:-1] for s in sequences],
        targets=np.array([s[-1] for s in sequences]),
        user_idx=np.arange(len(sequences)),
        split="valid",
    )

    def validate(trained: ComiRec) -> dict[str, float]:
        metrics = EvaluationConfig(ks=(1, 10), ranking_depth=10)
        return evaluate(trained.score_items, view, metrics, model_name="comirec", with_top_items=False).metrics

    output = train_with_early_stopping(
        model,
        sequences,
        lambda batch: training_batch(batch, CONFIG.max_length),
        validate,
        TrainingSchedule(batch_size=4, learning_rate=3e-2, weight_decay=0.0, max_epochs=60, patience=15),
        seed=0,
    )
    assert output.best_valid["recall@1"] == 1.0
    save_model(model, CONFIG, NUM_ITEMS, tmp_path)
    reloaded = load_model(ComiRec, ComiRecConfig, tmp_path)
    np.testing.assert_array_equal(reloaded.score_items(HISTORIES), model.score_items(HISTORIES))
