"""The shared training loop: a broken loss stops the run; batches of similar lengths change no sample; the rate schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hymirec.config import CoarseConfig, ComiRecConfig, SASRecConfig
from hymirec.models.base import left_pad
from hymirec.models.sasrec import SASRec, training_batch
from hymirec.training.loop import NonFiniteLossError, TrainingSchedule, batch_order, train_with_early_stopping


class _ExplodingModel(nn.Module):
    """Its loss is finite for ``finite_steps`` batches, then NaN."""

    def __init__(self, finite_steps: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))
        self.finite_steps, self.steps = finite_steps, 0

    def loss(self, batch: list[int]) -> torch.Tensor:
        self.steps += 1
        value = self.weight.sum() * len(batch)
        return value if self.steps <= self.finite_steps else value * float("nan")


def test_a_nan_loss_stops_training_with_a_clear_error_and_no_validation() -> None:
    validated = []
    model = _ExplodingModel(finite_steps=3)
    with pytest.raises(NonFiniteLossError, match=r"_ExplodingModel: loss nan at epoch 1, batch 3"):
        train_with_early_stopping(
            model, list(range(20)), lambda batch: batch, lambda trained: validated.append(1) or {"ndcg@10": 0.5},
            TrainingSchedule(batch_size=4, learning_rate=0.1, weight_decay=0.0, max_epochs=3, patience=3), seed=0,
        )
    assert not validated  # no epoch finished, nothing could be kept as "best"
    assert torch.isfinite(model.weight).all()  # the poisoned step was never applied


def test_samples_may_be_drawn_anew_each_epoch() -> None:
    seen: list[list[int]] = []
    model = _ExplodingModel(finite_steps=10**6)
    train_with_early_stopping(
        model, lambda epoch: [epoch * 10 + i for i in range(3)], lambda batch: seen.append(sorted(batch)) or batch,
        lambda trained: {"ndcg@10": 0.0}, TrainingSchedule(3, 0.0, 0.0, 2, 5), seed=0,
    )
    assert seen == [[10, 11, 12], [20, 21, 22]]


class _HalfFrozenModel(nn.Module):
    """A trainable weight scaled by a frozen one (as LoRA adapts a frozen pretrained decoder)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3))
        self.pretrained = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]), requires_grad=False)

    def loss(self, batch: list[int]) -> torch.Tensor:
        return (self.weight * self.pretrained - 1.0).pow(2).sum() * len(batch)


def _fit(model: _HalfFrozenModel, epochs: int, checkpoint=None) -> None:
    train_with_early_stopping(
        model, list(range(8)), lambda batch: batch, lambda trained: {"ndcg@10": 1 / (1 + trained.loss([0]).item())},
        TrainingSchedule(4, 0.05, 0.0, epochs, 5), seed=0, checkpoint=checkpoint,
    )


def test_checkpoints_leave_frozen_parameters_out_and_resume_to_the_same_weights(tmp_path) -> None:
    uninterrupted, resumed = _HalfFrozenModel(), _HalfFrozenModel()
    _fit(uninterrupted, epochs=4)
    _fit(_HalfFrozenModel(), epochs=2, checkpoint=tmp_path / "state.pt")
    saved = torch.load(tmp_path / "state.pt", weights_only=False)
    assert set(saved["model"]) == set(saved["best_state"]) == {"weight"}
    _fit(resumed, epochs=4, checkpoint=tmp_path / "state.pt")  # epochs 3 and 4 on top of the checkpoint
    torch.testing.assert_close(resumed.weight, uninterrupted.weight, rtol=0, atol=0)
    torch.testing.assert_close(resumed.pretrained, torch.tensor([1.0, 2.0, 3.0]), rtol=0, atol=0)


def test_bucketed_batches_hold_every_sample_once_with_similar_lengths() -> None:
    lengths = np.random.default_rng(0).integers(1, 300, size=1000)
    batches = batch_order(list(lengths), 16, np.random.default_rng(1), length_of=int)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[batch]) for batch in batches])
    unsorted = np.mean([np.ptp(lengths[batch]) for batch in batch_order(list(lengths), 16, np.random.default_rng(1))])
    assert spread < unsorted / 5


def test_a_trimmed_batch_gives_every_sample_the_same_inputs_and_targets_as_a_full_width_one() -> None:
    sequences = [np.array([3, 1, 4, 1, 5]), np.array([9, 2]), np.array([6, 5, 3])]
    trimmed = training_batch(sequences, max_length=50)
    assert trimmed.inputs.shape == (3, 4)
    full = left_pad([s[:-1] for s in sequences], 50)
    assert torch.equal(full[:, -4:], trimmed.inputs) and not full[:, :-4].any()
    model = SASRec(SASRecConfig(hidden_size=8, num_layers=1, num_heads=1, dropout=0.0, max_length=50), 10).eval()
    torch.testing.assert_close(model(full)[:, -4:], model(trimmed.inputs))  # positions count from the right


def test_the_cosine_schedule_warms_up_then_falls_to_zero_at_max_epochs() -> None:
    schedule = TrainingSchedule(4, 0.01, 0.0, max_epochs=11, patience=3, rate_schedule="cosine", warmup_epochs=1.0)
    assert schedule.rate_at(0.0) == 0.0 and schedule.rate_at(0.5) == pytest.approx(0.005)
    assert schedule.rate_at(1.0) == pytest.approx(0.01) and schedule.rate_at(6.0) == pytest.approx(0.005)
    assert schedule.rate_at(11.0) == pytest.approx(0.0, abs=1e-12)
    rates = [schedule.rate_at(progress / 10) for progress in range(10, 111)]
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))
    constant = TrainingSchedule(4, 0.01, 0.0, max_epochs=11, patience=3)
    assert constant.rate_at(0.0) == constant.rate_at(10.5) == 0.01


def test_training_sets_each_step_s_rate_from_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []
    original_step = torch.optim.AdamW.step

    def recording_step(self: torch.optim.AdamW, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    schedule = TrainingSchedule(2, 0.01, 0.0, max_epochs=2, patience=5, rate_schedule="cosine", warmup_epochs=0.5)
    train_with_early_stopping(_ExplodingModel(finite_steps=10**6), list(range(8)), lambda batch: batch, lambda trained: {"ndcg@10": 0.0}, schedule, seed=0)
    assert seen == pytest.approx([schedule.rate_at(step / 4) for step in range(8)])


def test_sequence_models_sort_batches_by_length_unless_told_to_mix_them() -> None:
    """The earlier SASRec's training (mixed batches, N(0, 1) positions) stays available as a selection candidate."""
    assert SASRecConfig().batch_length() is len and ComiRecConfig().batch_length() is len
    assert CoarseConfig(length_sorted_batches=False).batch_length() is None


def test_position_init_sets_the_learned_positions_scale() -> None:
    sizes = {"hidden_size": 64, "num_layers": 1, "max_length": 200}
    torch.manual_seed(0)
    item_scale = SASRec(SASRecConfig(**sizes), 30).position_embedding.weight.detach()
    torch.manual_seed(0)
    unit = SASRec(SASRecConfig(**sizes, position_init="unit"), 30).position_embedding.weight.detach()
    assert abs(float(item_scale.std()) - 64**-0.5) < 0.01 and abs(float(unit.std()) - 1.0) < 0.05
