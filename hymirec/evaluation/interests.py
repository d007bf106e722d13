"""Are a multi-interest model's K interests alive and distinct? Diagnostics over one evaluation split.

A model that ranks by max_k s_k(i) can hide a dead interest behind the live ones: the ranking looks
fine while one of the K vectors never wins an item. Measured per model on a split (``interest_report``):

- ``target_share[k]``: the share of held-out targets for which interest k gives the highest score
  (argmax_k s_k(target)) — which interest the model would have served the right item from;
- ``top_share[k]``: the share of the top-N slots interest k produced (argmax_k s_k(i) of each listed
  item, the attribution ``hymirec recommend --explain`` shows);
- ``pairwise_cosine``: the cosine between two interests of one user, averaged over the user's pairs and
  over users — near 1 means the K vectors are copies of one.

``attribution`` is the interest (0-based) behind each listed item, the ``interest`` column of the
exported rankings (1-based there).

How the K lists are merged is a serving choice, measured here without retraining: ``max`` ranks by
max_k s_k(i) (the method's score; one interest with high scores everywhere fills the list), and
``round_robin`` interleaves the K per-interest rankings — every interest's best unseen item, then
every interest's second, … (``round_robin_scores``), a per-interest quota of N/K slots in a top N.
Stage ``evaluation_report`` reports both on both splits; which one a model serves is chosen on
validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class ServedInterests(Protocol):
    """A multi-interest model as served (``hymirec.serving.served_model.ServedModel``): interests · item_vectors
    gives each interest's term of the merged score."""

    item_vectors: np.ndarray  # [I D]

    def interests(self, histories: list[np.ndarray]) -> np.ndarray: ...  # [B K D]

    def interest_vectors(self, interests: np.ndarray) -> np.ndarray: ...  # the K vectors themselves, for their cosine


@dataclass(frozen=True)
class InterestReport:
    attribution: np.ndarray  # [U N] interest (0-based) behind each listed item
    target_share: list[float]  # [K]
    top_share: list[float]  # [K] over the first ``cutoff`` slots
    pairwise_cosine: float | None  # None for K = 1

    def metrics(self, cutoff: int) -> dict[str, object]:
        return {"target_share": self.target_share, f"top{cutoff}_share": self.top_share, "pairwise_cosine": self.pairwise_cosine}


def round_robin_scores(per_interest: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
    """[B I] scores whose ranking interleaves the K per-interest rankings of ``per_interest`` [B K I].

    Seen items (``histories``) are ranked last in every interest first, so each interest's list is of unseen
    items. An item's merged position is its best rank over the interests; items of equal best rank are
    ordered by their max_k score (a tie-break bounded below one rank step, so it never reorders ranks).
    """
    scores = np.array(per_interest, dtype=np.float64)
    for row, history in enumerate(histories):
        scores[row, :, history] = -np.inf
    order = np.argsort(-scores, axis=-1, kind="stable")  # [B K I]
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[-1])[None, None, :], axis=-1)
    best_rank = ranks.min(axis=1)  # [B I]
    best_score = np.asarray(per_interest, dtype=np.float64).max(axis=1)  # seen items too: evaluation masks them anyway
    low, high = best_score.min(axis=1, keepdims=True), best_score.max(axis=1, keepdims=True)
    tie_break = 0.5 * (best_score - low) / np.maximum(high - low, 1e-12)  # in [0, 0.5]
    return -best_rank + tie_break


class RoundRobin:
    """A multi-interest model scored by ``round_robin_scores`` (``score_items`` as ``evaluate`` takes it)."""

    def __init__(self, served: ServedInterests) -> None:
        self.served = served

    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        interests = np.asarray(self.served.interests(histories), dtype=np.float64)
        return round_robin_scores(np.einsum("bkd,id->bki", interests, self.served.item_vectors), histories)


def interest_attribution(interests: np.ndarray, item_vectors: np.ndarray, items: np.ndarray) -> np.ndarray:
    """[B N] argmax_k s_k(i) for each item of ``items`` [B N], with s_k(i) = interests[b, k] · item_vectors[i]."""
    scores = np.einsum("bkd,bnd->bkn", interests, item_vectors[items])
    return scores.argmax(axis=1)


def mean_pairwise_cosine(interests: np.ndarray) -> np.ndarray:
    """[B] mean cosine over the K(K-1)/2 pairs of each user's interests [B K D] (K ≥ 2)."""
    unit = interests / np.maximum(np.linalg.norm(interests, axis=-1, keepdims=True), 1e-12)
    gram = np.einsum("bkd,bld->bkl", unit, unit)
    k = interests.shape[1]
    return (gram.sum(axis=(1, 2)) - np.einsum("bkk->b", gram)) / (k * (k - 1))


def interest_report(
    served: ServedInterests,
    histories: list[np.ndarray],
    targets: np.ndarray,
    top: np.ndarray,
    cutoff: int = 10,
    chunk_size: int = 1024,
) -> InterestReport:
    """Attribution, target and top-``cutoff`` shares and pairwise cosine of the ``served`` model over the users of a split.

    ``top`` [U N] is the model's ranking of the users' ``histories`` and ``targets`` [U] their held-out items.
    """
    attribution, winners, cosines = [], [], []
    for start in range(0, len(targets), chunk_size):
        interests = np.asarray(served.interests(histories[start : start + chunk_size]), dtype=np.float64)
        attribution.append(interest_attribution(interests, served.item_vectors, top[start : start + chunk_size]))
        winners.append(interest_attribution(interests, served.item_vectors, targets[start : start + chunk_size, None])[:, 0])
        if interests.shape[1] > 1:
            cosines.append(mean_pairwise_cosine(served.interest_vectors(interests)))
    attribution_all, winners_all = np.concatenate(attribution), np.concatenate(winners)
    num_interests = interests.shape[1]  # the last chunk's [B K D]: K is the model's

    def shares(chosen: np.ndarray) -> list[float]:
        return (np.bincount(chosen.ravel(), minlength=num_interests) / chosen.size).tolist()

    return InterestReport(
        attribution=attribution_all,
        target_share=shares(winners_all),
        top_share=shares(attribution_all[:, :cutoff]),
        pairwise_cosine=float(np.concatenate(cosines).mean()) if cosines else None,
    )
