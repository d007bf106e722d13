"""Losses against their formulas on hand-checkable inputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from hymirec.training.losses import in_batch_info_nce


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

from hymirec.training.losses import cosine_kmeans, match_groups_to_interests, multi_interest_loss  # noqa: E402



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
    """Two positions, K=2; catalog of 6 items. Row 0: targets {0, 1} in group 0 and {2} in group 1;
    row 1: target {4} (one group). Item 5 duplicates item 2 by text."""
    return {
        "interests": torch.stack([_unit([1, 0, 0.3, 0.2], [0.1, 0, 1, 0.3]), _unit([0, 1, 0, 0.4], [0.3, 0.3, 0.3, 0.3])]),
        "items": _unit([1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0.05, 1, 0]),
        "targets": torch.tensor([[0, 1, 2], [4, -1, -1]]),
        "target_groups": torch.tensor([[0, 0, 1], [0, -1, -1]]),
        "temperature": torch.tensor(0.1),
        "duplicates": torch.tensor([[-1], [-1], [5], [-1], [-1], [2]]),
    }


def _naive_dmil(case: dict[str, torch.Tensor]) -> float:
    """The formula, one positive at a time: its group's interest (optimal assignment by brute force)
    against the positive plus every item that is neither a target of its row nor a duplicate of one."""
    total, count = 0.0, 0
    for row, (targets, groups) in enumerate(zip(case["targets"].tolist(), case["target_groups"].tolist())):
        real = [(t, g) for t, g in zip(targets, groups) if t >= 0]
        used = sorted({g for _, g in real})
        centres = {g: torch.nn.functional.normalize(sum(case["items"][t] for t, gg in real if gg == g), dim=0) for g in used}
        interests = case["interests"][row]
        best = max(
            itertools.permutations(range(len(interests)), len(used)),
            key=lambda chosen: sum(float(centres[g] @ interests[k]) for g, k in zip(used, chosen)),
        )
        interest_of = dict(zip(used, best))
        excluded = {t for t, _ in real} | {int(d) for t, _ in real for d in case["duplicates"][t] if d >= 0}
        for target, group in real:
            query = interests[interest_of[group]]
            keys = [target] + [j for j in range(len(case["items"])) if j not in excluded]
            logits = torch.stack([query @ case["items"][j] for j in keys]) / case["temperature"]
            total += float(-torch.log_softmax(logits, dim=0)[0])
            count += 1
    return total / count


def test_full_catalog_dmil_equals_the_formula_computed_naively() -> None:
    case = _dmil_case()
    assert multi_interest_loss(**case).item() == pytest.approx(_naive_dmil(case), rel=1e-5)
    shuffled = {**case, "interests": case["interests"].flip(1)}  # the matching follows the interests
    assert multi_interest_loss(**shuffled).item() == pytest.approx(_naive_dmil(shuffled), rel=1e-5)


def test_a_sample_of_the_whole_catalog_gives_the_full_loss_and_a_smaller_one_is_log_q_corrected() -> None:
    case = _dmil_case()
    every_item = torch.tensor([3, 0, 5, 1, 4, 2])
    assert multi_interest_loss(**case, candidates=every_item).item() == pytest.approx(multi_interest_loss(**case).item(), rel=1e-5)
    # sampled: each kept negative stands for I/S items
    sampled = multi_interest_loss(**case, candidates=torch.tensor([3, 0, 4])).item()
    assert math.isfinite(sampled) and sampled != pytest.approx(multi_interest_loss(**case).item())


def test_false_negatives_do_not_contribute() -> None:
    case = _dmil_case()
    case = {**case, **{key: case[key][:1] for key in ("interests", "targets", "target_groups")}}  # row 0 only
    # item 5 (a text duplicate of row 0's target 2) pointing anywhere leaves row 0's loss unchanged
    moved = case["items"].clone()
    moved[5] = _unit([1, 0, 0.2, 0])[0]
    assert multi_interest_loss(**{**case, "items": moved}).item() == pytest.approx(multi_interest_loss(**case).item(), abs=1e-6)
    # without the duplicate table, item 5 is a negative so close to target 2 that the loss rises
    no_duplicates = {**case, "duplicates": torch.full((6, 1), -1)}
    assert multi_interest_loss(**no_duplicates).item() > multi_interest_loss(**case).item() + 0.1


def test_batched_matching_reaches_scipys_optimum_on_every_row() -> None:
    generator = torch.Generator().manual_seed(0)
    for interests_count, groups_count in [(4, 4), (4, 2), (3, 3), (1, 1), (6, 5)]:
        groups = torch.nn.functional.normalize(torch.randn(200, groups_count, 8, generator=generator), dim=-1)
        interests = torch.nn.functional.normalize(torch.randn(200, interests_count, 8, generator=generator), dim=-1)
        valid = torch.rand(200, groups_count, generator=generator) > 0.3
        assignment = match_groups_to_interests(groups, valid, interests)
        similarity = torch.einsum("bgd,bkd->bgk", groups, interests).numpy()
        for row in range(200):
            chosen = np.flatnonzero(valid[row].numpy())
            assert (assignment[row].numpy() >= 0).tolist() == valid[row].tolist()
            assert len(set(assignment[row, chosen].tolist())) == len(chosen)  # one interest per group
            reached = similarity[row, chosen, assignment[row, chosen].numpy()].sum()
            group_order, interest_order = linear_sum_assignment(similarity[row, chosen], maximize=True)
            assert reached == pytest.approx(similarity[row, chosen][group_order, interest_order].sum(), abs=1e-5)


def test_loss_decreases_as_interests_move_toward_their_targets() -> None:
    case = _dmil_case()
    group_centres = _unit([0.95, 0.05, 0, 0], [0, 0, 1, 0])  # interest 0 serves group 0, interest 1 group 1
    start = _unit([0.2, 0.3, 0.5, 0.8], [0.6, 0.1, 0.2, 0.7])
    losses = []
    for step in (0.0, 0.3, 0.6, 1.0):
        moved = torch.nn.functional.normalize((1 - step) * start + step * group_centres, dim=-1)
        losses.append(multi_interest_loss(**{**case, "interests": torch.stack([moved, case["interests"][1]])}).item())
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 1.0


def test_dmil_gradient_reaches_interests_items_and_temperature() -> None:
    case = _dmil_case()
    interests = case["interests"].clone().requires_grad_(True)
    items = case["items"].clone().requires_grad_(True)
    temperature = torch.tensor(0.1, requires_grad=True)
    multi_interest_loss(**{**case, "interests": interests, "items": items, "temperature": temperature}).backward()
    assert interests.grad.abs().sum() > 0 and items.grad.abs().sum() > 0 and temperature.grad is not None


# --- full-catalog softmax without the [positions × catalog] logits ---------------------------------

from hymirec.training import losses  # noqa: E402
from hymirec.training.losses import chunked_logsumexp, next_item_cross_entropy  # noqa: E402


@pytest.mark.parametrize("kept_bytes", [0, 1 << 28], ids=["recomputed", "kept"])  # the backward's softmax
@pytest.mark.parametrize("chunk_elements", [7, 1 << 18])  # many chunks of 1 row, and one chunk
def test_chunked_logsumexp_and_its_gradients_equal_the_plain_computation(monkeypatch, chunk_elements: int, kept_bytes: int) -> None:
    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(losses, "KEPT_SOFTMAX_BYTES", kept_bytes)
    generator = torch.Generator().manual_seed(0)
    queries = torch.randn(9, 5, generator=generator, requires_grad=True)
    keys = torch.randn(13, 5, generator=generator, requires_grad=True)
    blocked = (torch.tensor([0, 0, 3, 8, 8]), torch.tensor([2, 5, 0, 12, 1]))
    weights = torch.randn(9, generator=generator)
    (chunked_logsumexp(queries, keys, blocked) * weights).sum().backward()
    fused_grads = queries.grad.clone(), keys.grad.clone()
    queries.grad, keys.grad = None, None
    plain = (queries @ keys.T).index_put(blocked, torch.tensor(float("-inf")))
    expected = torch.logsumexp(plain, dim=1)
    (expected * weights).sum().backward()
    torch.testing.assert_close(chunked_logsumexp(queries, keys, blocked), expected)
    torch.testing.assert_close(fused_grads[0], queries.grad)
    torch.testing.assert_close(fused_grads[1], keys.grad)


@pytest.mark.parametrize("kept_bytes", [0, 1 << 28], ids=["recomputed", "kept"])
def test_a_row_with_every_key_blocked_has_logsumexp_minus_inf_and_no_gradient(monkeypatch, kept_bytes: int) -> None:
    monkeypatch.setattr(losses, "KEPT_SOFTMAX_BYTES", kept_bytes)
    generator = torch.Generator().manual_seed(3)
    queries = torch.randn(3, 4, generator=generator, requires_grad=True)
    keys = torch.randn(5, 4, generator=generator, requires_grad=True)
    blocked = (torch.tensor([1] * 5), torch.arange(5))  # row 1: no negative left
    values = chunked_logsumexp(queries, keys, blocked)
    assert values[1].item() == float("-inf")
    values[[0, 2]].sum().backward()
    assert torch.equal(queries.grad[1], torch.zeros(4))
    torch.testing.assert_close(values[[0, 2]], torch.logsumexp(queries[[0, 2]] @ keys.T, dim=1))
    assert torch.isfinite(keys.grad).all()


def test_next_item_cross_entropy_equals_torch_cross_entropy_on_the_labelled_positions(monkeypatch) -> None:
    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", 20)
    generator = torch.Generator().manual_seed(1)
    hidden = torch.randn(3, 4, 6, generator=generator, requires_grad=True)
    items = torch.randn(11, 6, generator=generator, requires_grad=True)
    labels = torch.tensor([[-100, 3, 4, 10], [-100, -100, 0, 1], [5, 5, 6, 7]])
    fused = next_item_cross_entropy(hidden, labels, items)
    fused.backward()
    fused_grads = hidden.grad.clone(), items.grad.clone()
    hidden.grad, items.grad = None, None
    plain = torch.nn.functional.cross_entropy((hidden @ items.T).flatten(0, 1), labels.flatten(), ignore_index=-100)
    plain.backward()
    torch.testing.assert_close(fused, plain)
    torch.testing.assert_close(fused_grads[0], hidden.grad)
    torch.testing.assert_close(fused_grads[1], items.grad)


# --- the serving score's own softmax, from the same pass as DMIL's ----------------------------------

from hymirec.training.losses import chunked_interest_logsumexp  # noqa: E402


@pytest.mark.parametrize("kept_bytes", [0, 1 << 28], ids=["recomputed", "kept"])  # the backward's softmaxes
@pytest.mark.parametrize("chunk_elements", [7, 1 << 18])
def test_interest_logsumexp_gives_each_vectors_and_the_maxs_and_routes_gradients_to_the_winner(monkeypatch, chunk_elements: int, kept_bytes: int) -> None:
    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(losses, "KEPT_SOFTMAX_BYTES", kept_bytes)
    generator = torch.Generator().manual_seed(2)
    keys = torch.randn(11, 5, generator=generator).abs().requires_grad_()
    queries = torch.randn(6, 3, 5, generator=generator)
    queries[1, 2] = queries[1, 0] - 10.0  # below vector 0 on every (positive) key: wins no max
    queries.requires_grad_()
    blocked = (torch.tensor([0, 2, 2, 5, 5, 5]), torch.tensor([4, 0, 10, 3, 0, 1]))
    per_vector_weights, merged_weights = torch.randn(6, 3, generator=generator), torch.randn(6, generator=generator)

    def weighted(per_vector: torch.Tensor, merged: torch.Tensor) -> torch.Tensor:
        return (per_vector * per_vector_weights).sum() + (merged * merged_weights).sum()

    per_vector, merged = chunked_interest_logsumexp(queries, keys, blocked)
    weighted(per_vector, merged).backward()
    fused_grads = queries.grad.clone(), keys.grad.clone()
    queries.grad, keys.grad = None, None
    logits = torch.einsum("qkd,nd->qkn", queries, keys).index_put((blocked[0], torch.tensor([[0], [1], [2]]), blocked[1]), torch.tensor(float("-inf")))
    expected = torch.logsumexp(logits, dim=2), torch.logsumexp(logits.amax(dim=1), dim=1)
    weighted(*expected).backward()
    torch.testing.assert_close(per_vector, expected[0])
    torch.testing.assert_close(merged, expected[1])
    torch.testing.assert_close(fused_grads[0], queries.grad)
    torch.testing.assert_close(fused_grads[1], keys.grad)
    # vector 2 of row 1 still gets its own softmax's gradient, none from the max it never wins
    only_own = per_vector_weights[1, 2] * torch.softmax(logits[1, 2], dim=0) @ keys
    torch.testing.assert_close(fused_grads[0][1, 2], only_own.detach())


@pytest.mark.parametrize("kept_bytes", [0, 1 << 28], ids=["recomputed", "kept"])
@pytest.mark.parametrize("chunk_elements", [7, 1 << 18])
def test_offsets_shift_each_vector_in_the_max_only_and_get_the_mass_of_the_keys_it_wins(monkeypatch, chunk_elements: int, kept_bytes: int) -> None:
    """A gate's log-weights b_k enter the merged score max_k (q_k · k_j + b_k), not the vectors' own softmaxes."""
    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(losses, "KEPT_SOFTMAX_BYTES", kept_bytes)
    generator = torch.Generator().manual_seed(4)
    keys = torch.randn(11, 5, generator=generator, dtype=torch.float64).requires_grad_()
    queries = torch.randn(6, 3, 5, generator=generator, dtype=torch.float64).requires_grad_()
    offsets = torch.randn(6, 3, generator=generator, dtype=torch.float64).requires_grad_()
    blocked = (torch.tensor([0, 2, 2, 5, 5, 5]), torch.tensor([4, 0, 10, 3, 0, 1]))
    per_vector_weights, merged_weights = torch.randn(6, 3, generator=generator, dtype=torch.float64), torch.randn(6, generator=generator, dtype=torch.float64)

    def weighted(per_vector: torch.Tensor, merged: torch.Tensor) -> torch.Tensor:
        return (per_vector * per_vector_weights).sum() + (merged * merged_weights).sum()

    weighted(*chunked_interest_logsumexp(queries, keys, blocked, offsets)).backward()
    fused_grads = [tensor.grad.clone() for tensor in (queries, keys, offsets)]
    for tensor in (queries, keys, offsets):
        tensor.grad = None
    logits = torch.einsum("qkd,nd->qkn", queries, keys).index_put((blocked[0], torch.tensor([[0], [1], [2]]), blocked[1]), torch.tensor(float("-inf"), dtype=torch.float64))
    expected = torch.logsumexp(logits, dim=2), torch.logsumexp((logits + offsets[..., None]).amax(dim=1), dim=1)
    weighted(*expected).backward()
    per_vector, merged = chunked_interest_logsumexp(queries, keys, blocked, offsets)
    torch.testing.assert_close(per_vector, expected[0])
    torch.testing.assert_close(merged, expected[1])
    for fused, tensor in zip(fused_grads, (queries, keys, offsets)):
        torch.testing.assert_close(fused, tensor.grad)
    assert not torch.equal(merged, chunked_interest_logsumexp(queries, keys, blocked)[1])  # the offsets did move the max


def _max_score_case() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    interests = F.normalize(torch.randn(4, 3, 6, generator=generator), dim=-1)
    items = F.normalize(torch.randn(9, 6, generator=generator), dim=-1)
    targets = torch.tensor([[1, 2], [0, -1], [5, 5], [8, 3]])
    duplicates = torch.full((9, 1), -1)
    duplicates[2, 0] = 7  # item 7 is a near-duplicate of item 2: no negative of row 0
    groups = cosine_kmeans(items[targets.clamp(min=0)], targets >= 0, 3)
    return {"interests": interests, "items": items, "targets": targets, "target_groups": groups,
            "temperature": torch.tensor(0.1), "duplicates": duplicates}


@pytest.mark.parametrize("gated", [False, True], ids=["max", "gated_max"])
def test_the_serving_score_term_equals_its_formula_computed_naively(gated: bool) -> None:
    case = _max_score_case()
    log_weights = torch.log_softmax(torch.randn(4, 3, generator=torch.Generator().manual_seed(5)), dim=1) if gated else torch.zeros(4, 3)
    scores = (torch.einsum("pkd,nd->pkn", case["interests"], case["items"]) / case["temperature"] + log_weights[..., None]).amax(dim=1)
    losses_by_hand = []
    for row, row_targets in enumerate(case["targets"].tolist()):
        positives = [t for t in row_targets if t >= 0]
        excluded = set(positives) | ({7} if 2 in positives else set())
        negatives = [j for j in range(9) if j not in excluded]
        for target in positives:
            logits = torch.cat([scores[row, [target]], scores[row, negatives]])
            losses_by_hand.append(-torch.log_softmax(logits, dim=0)[0])
    expected = torch.stack(losses_by_hand).mean()
    gate = {"log_weights": log_weights} if gated else {}
    with_term = multi_interest_loss(**case, max_score_weight=2.0, **gate)
    torch.testing.assert_close(with_term - multi_interest_loss(**case, **gate), 2.0 * expected)
    torch.testing.assert_close(multi_interest_loss(**case, **gate), multi_interest_loss(**case))  # DMIL ignores the gate


def test_the_serving_score_term_with_one_interest_is_the_next_item_cross_entropy() -> None:
    generator = torch.Generator().manual_seed(4)
    states = torch.randn(5, 1, 6, generator=generator)
    items = torch.randn(12, 6, generator=generator)
    labels = torch.tensor([[3], [0], [11], [7], [3]])
    case = {"interests": states, "items": items, "targets": labels, "target_groups": torch.zeros_like(labels),
            "temperature": torch.tensor(1.0), "duplicates": torch.full((12, 1), -1)}
    term = multi_interest_loss(**case, max_score_weight=1.0) - multi_interest_loss(**case)
    torch.testing.assert_close(term, next_item_cross_entropy(states[:, 0][None], labels[:, 0][None], items))
