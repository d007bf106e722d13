"""Losses against their formulas on hand-checkable inputs."""

from __future__ import annotations

import math

import pytest
import torch

from hymirec.losses import in_batch_info_nce


def test_info_nce_matches_its_formula() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    loss = in_batch_info_nce(queries, keys, torch.tensor([7, 8]), temperature=0.5)
    row0 = -math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(1.2)))
    row1 = -math.log(math.exp(1.6) / (math.exp(0.0) + math.exp(1.6)))
    assert loss.item() == pytest.approx((row0 + row1) / 2, abs=1e-6)


def test_a_repeated_positive_is_not_a_negative() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    masked = in_batch_info_nce(queries, keys, torch.tensor([5, 5]), temperature=1.0)
    assert masked.item() == pytest.approx(0.0, abs=1e-6)  # each row's only other key is the same item: no negatives left
    unmasked = in_batch_info_nce(queries, keys, torch.tensor([5, 6]), temperature=1.0)
    assert unmasked.item() > 0.1


# --- DMIL -------------------------------------------------------------------------------------------

from hymirec.losses import cosine_kmeans, dmil_loss, match_groups_to_interests  # noqa: E402


def _unit(*rows: list[float]) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_cosine_kmeans_finds_obvious_groups_and_never_more_than_points() -> None:
    points = torch.stack([
        _unit([1, 0.1, 0], [0, 1, 0.1], [1, 0, 0.1], [0.1, 1, 0], [0, 0, 0]),  # two directions + one padding slot
        _unit([1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]),
    ])
    valid = torch.tensor([[True, True, True, True, False], [True, False, False, False, False]])
    groups = cosine_kmeans(points, valid, num_groups=2)
    first = groups[0].tolist()
    assert first[4] == -1 and first[0] == first[2] and first[1] == first[3] and first[0] != first[1]
    assert groups[1].tolist() == [0, -1, -1, -1, -1]  # one valid point: one group
    torch.testing.assert_close(cosine_kmeans(points, valid, 2), groups)  # deterministic
    assert cosine_kmeans(points, valid, num_groups=3)[1].tolist() == [0, -1, -1, -1, -1]  # never more groups than points


def test_matching_picks_the_optimal_assignment_not_the_greedy_one() -> None:
    # similarity[g, k] = interests[k][g]: greedy takes (g0,k0)=0.9 then (g1,k1)=0.1, total 1.0;
    # the optimum is (g0,k1)=0.8 + (g1,k0)=0.85 = 1.65
    groups = torch.eye(2)[None]
    interests = torch.tensor([[[0.9, 0.85], [0.8, 0.1]]])
    assignment = match_groups_to_interests(groups, torch.tensor([[True, True]]), interests)
    assert assignment.tolist() == [[1, 0]]
    # an invalid group gets no interest; the valid one takes its best
    single = match_groups_to_interests(groups, torch.tensor([[False, True]]), interests)
    assert single.tolist() == [[-1, 0]]


def _dmil_case() -> dict[str, torch.Tensor]:
    """One user, K=2 interests, targets {1, 2} in group 0 and {3} in group 1; two sampled negatives."""
    targets = _unit([1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 1, 0])
    return {
        "interests": _unit([1, 0, 0.3, 0.2], [0.1, 0, 1, 0.3])[None],
        "target_vectors": targets[None],
        "target_ids": torch.tensor([[1, 2, 3]]),
        "target_groups": torch.tensor([[0, 0, 1]]),
        "negative_vectors": _unit([0, 1, 0, 0], [0, 0, 0, 1]),
        "negative_ids": torch.tensor([7, 8]),
        "temperature": torch.tensor(0.1),
    }


def test_masked_false_negatives_do_not_contribute() -> None:
    case = _dmil_case()
    base = dmil_loss(**case).item()
    # a sampled negative that is one of the user's targets (id 3), pointing anywhere: no effect
    same_id = {**case, "negative_ids": torch.tensor([3, 8]), "negative_vectors": _unit([1, 0, 0, 0], [0, 0, 0, 1])}
    moved = {**same_id, "negative_vectors": _unit([0, 1, 0, 0], [0, 0, 0, 1])}
    assert dmil_loss(**same_id).item() == pytest.approx(dmil_loss(**moved).item(), abs=1e-6)
    # a near-duplicate of a positive (cosine > 0.99) under another id is masked too: it does not raise the loss
    duplicate = {**case, "negative_vectors": _unit([1, 0.01, 0, 0], [0, 0, 0, 1])}
    removed = {**case, "negative_vectors": _unit([0, 0, 0, 1]), "negative_ids": torch.tensor([8])}
    assert dmil_loss(**duplicate).item() == pytest.approx(dmil_loss(**removed).item(), abs=1e-6)
    # while the same vector as a real negative (masking off) does raise it
    assert dmil_loss(**duplicate, duplicate_cosine=1.0).item() > dmil_loss(**removed).item() + 0.1
    assert base > 0


def test_loss_decreases_as_interests_move_toward_their_targets() -> None:
    case = _dmil_case()
    group_centres = _unit([0.95, 0.05, 0, 0], [0, 0, 1, 0])  # interest 0 serves group 0, interest 1 group 1
    start = _unit([0.2, 0.3, 0.5, 0.8], [0.6, 0.1, 0.2, 0.7])
    losses = []
    for step in (0.0, 0.3, 0.6, 1.0):
        interests = torch.nn.functional.normalize((1 - step) * start + step * group_centres, dim=-1)
        losses.append(dmil_loss(**{**case, "interests": interests[None]}).item())
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 1.0


def test_dmil_gradient_reaches_interests_and_temperature() -> None:
    case = _dmil_case()
    interests = case["interests"].clone().requires_grad_(True)
    temperature = torch.tensor(0.1, requires_grad=True)
    dmil_loss(**{**case, "interests": interests, "temperature": temperature}).backward()
    assert interests.grad.abs().sum() > 0 and temperature.grad is not None
