"""Full-ranking evaluation (DESIGN.md §3).

Every model is scored over the whole catalog; the user's input history is masked (its items can never
be recommended) and the held-out target is never part of that history. A non-finite score (NaN, ±inf)
from the model is an error naming the model, the split and the user, never a rank.

Ties count against the target: with s the masked scores and t the target,
    r = 1 + |{j ≠ t : s_j ≥ s_t}|
so a model that scores every item the same gets the worst rank, not the best. The exported top lists
follow the same rule — score descending; among tied items the target comes last, the others by item
index — so the target's position in a list is its rank whenever it is in the list.

For a user whose target has 1-based rank r:
    Recall@k = 1[r ≤ k]                (one relevant item, so Recall@k = HitRate@k)
    NDCG@k   = 1[r ≤ k] / log2(r + 1)  (ideal DCG is 1)
    MRR      = 1 / r                   (over the full ranking, no cut-off)
Each metric is the mean over users.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hymirec.config import EvaluationConfig
from hymirec.data.sequences import SplitView

ScoreFn = Callable[[list[np.ndarray]], np.ndarray]  # histories of B users -> scores [B, I]
PRIMARY_METRIC = "ndcg@10"


@dataclass(frozen=True)
class EvaluationResult:
    metrics: dict[str, float]
    ranks: np.ndarray  # [U] 1-based rank of each user's target
    top_items: np.ndarray | None  # [U, depth] item_idx, best first; None when not requested
    by_history_length: list[dict[str, float]]


def mask_histories(scores: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
    """Set the score of every item in a user's input history to -inf (in place) and return scores."""
    rows = np.repeat(np.arange(len(histories)), [len(history) for history in histories])
    columns = np.concatenate(histories) if len(histories) else np.empty(0, dtype=np.int64)
    scores[rows, columns] = -np.inf
    return scores


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank r = 1 + |{j ≠ t : s_j ≥ s_t}| of each target t; target scores must not be NaN.

    Scores are compared as float32, as in ``top_items``, so the two always agree.
    """
    scores = np.asarray(scores, dtype=np.float32)
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    return (scores >= target_scores).sum(axis=1)  # the target itself counts as the 1


def ranking_keys(scores: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """One int64 per item that sorts ascending in the exported order: (score desc, is target, item index).

    High 32 bits: the float32 score's bits mapped to an order-preserving int32, complemented for
    descending order (−0.0 is folded into +0.0 first, as ``==`` treats them). Low 32 bits: bit 31 marks
    the target, so it follows every item tied with it; below it the item index. Keys are unique, so a
    partition on them has no ties to break at the depth boundary. Without ``targets`` (serving: there
    is no target) the order is (score desc, item index).
    """
    bits = (np.asarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.int32)
    ordered = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))  # int32 order == float order
    keys = (~ordered).astype(np.int64) << 32
    keys += np.arange(scores.shape[1], dtype=np.int64)
    if targets is not None:
        keys[np.arange(len(targets)), targets] += np.int64(1) << 31
    return keys


def top_items(scores: np.ndarray, depth: int, targets: np.ndarray | None = None) -> np.ndarray:
    """Item indices of the ``depth`` first items per row in the order of ``ranking_keys``, best first.

    A top-k selection on the keys (torch's, multi-threaded; ~40 % faster here than numpy's partition
    and sort); the target's 1-based position in a row equals its ``target_ranks`` value whenever it is
    within ``depth``. The keys are unique, so the order is fully determined.
    """
    keys = torch.from_numpy(ranking_keys(scores, targets))
    depth = min(depth, keys.shape[1])
    return torch.topk(keys, depth, dim=1, largest=False, sorted=True).indices.numpy()


def ranking_metrics(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """Recall@k, NDCG@k for each k and MRR from 1-based target ranks (formulas in the module docstring)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    metrics: dict[str, float] = {}
    for k in ks:
        hit = ranks <= k
        metrics[f"recall@{k}"] = float(hit.mean())
        metrics[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
    metrics["mrr"] = float((1.0 / ranks).mean())
    return metrics


def intra_list_distance(top: np.ndarray, item_features: np.ndarray) -> float:
    """Mean pairwise cosine distance (1 − cos) inside each list, averaged over users.

    ``item_features`` [I, F] are e.g. genre multi-hot vectors; rows are L2-normalised here, and an item
    without features counts as distance 1 from every other item.
    """
    norms = np.linalg.norm(item_features, axis=1, keepdims=True)
    unit = np.divide(item_features, norms, out=np.zeros_like(item_features, dtype=np.float64), where=norms > 0)
    vectors = unit[top]  # [U K F]
    similarity = np.einsum("ukf,ujf->ukj", vectors, vectors)
    k = top.shape[1]
    off_diagonal = similarity.sum(axis=(1, 2)) - np.einsum("ukk->u", similarity)
    return float((1.0 - off_diagonal / (k * (k - 1))).mean())


def category_coverage(top: np.ndarray, item_categories: np.ndarray) -> float:
    """Share of all categories that appear in a user's list, averaged over users."""
    present = item_categories[top].any(axis=1)  # [U C]
    return float(present.mean(axis=1).mean())


def facet_coverage(top: np.ndarray, histories: Sequence[np.ndarray], item_categories: np.ndarray, facets: int = 3) -> float:
    """Share of each user's ``facets`` most frequent history categories present in their list, averaged over users.

    A user's facets are the categories most often seen in their input history (ties: the lower category
    index first); users whose history carries no category are left out. A single-vector list that serves
    only a user's main taste covers one facet of three; one that serves every facet covers all.
    """
    covered = []
    for items, history in zip(top, histories):
        counts = item_categories[history].sum(axis=0)
        present = np.flatnonzero(counts)
        if not len(present):
            continue
        wanted = present[np.argsort(-counts[present], kind="stable")][:facets]
        covered.append(item_categories[items][:, wanted].any(axis=0).mean())
    return float(np.mean(covered)) if covered else 0.0


def catalog_coverage(top: np.ndarray, num_items: int) -> float:
    """Share of the catalog recommended to at least one user."""
    return float(len(np.unique(top)) / num_items)


def history_strata(lengths: np.ndarray, edges: Sequence[int]) -> list[tuple[str, np.ndarray]]:
    """(label, member mask) per history-length stratum [lo, hi) of ``edges``, empty strata left out.

    Labels read "0-50", "51-200", "501+" (items before the target).
    """
    bounds = [0, *edges, np.iinfo(np.int64).max]
    strata = []
    for low, high in zip(bounds[:-1], bounds[1:]):
        members = (lengths >= low) & (lengths < high)
        if members.any():
            strata.append((f"{low}-{high - 1}" if high != bounds[-1] else f"{low}+", members))
    return strata


def breakdown_by_history_length(ranks: np.ndarray, lengths: np.ndarray, edges: Sequence[int], k: int = 10) -> list[dict[str, float]]:
    """Recall@k and NDCG@k per history-length stratum (``history_strata``)."""
    rows = []
    for label, in_bucket in history_strata(lengths, edges):
        row = {"history_length": label, "users": int(in_bucket.sum())}
        row.update({key: value for key, value in ranking_metrics(ranks[in_bucket], [k]).items() if key != "mrr"})
        rows.append(row)
    return rows


def check_scores(scores: np.ndarray, user_idx: np.ndarray, model_name: str, split: str) -> None:
    """Raise unless the model's raw scores [B, I] for users ``user_idx`` [B] have one finite row per user."""
    where = f"model {model_name}, split {split}"
    if scores.ndim != 2 or len(scores) != len(user_idx):
        raise ValueError(f"{where}: scores of shape {scores.shape} for {len(user_idx)} users")
    if np.isfinite(scores).all():
        return
    row, item = np.argwhere(~np.isfinite(scores))[0]
    raise ValueError(f"{where}: non-finite score for user_idx {user_idx[row]} (item_idx {item}: {scores[row, item]})")


def evaluate(
    score_fn: ScoreFn,
    view: SplitView,
    config: EvaluationConfig,
    *,
    model_name: str,
    item_categories: np.ndarray | None = None,
    with_top_items: bool = True,
    chunk_size: int = 1024,
) -> EvaluationResult:
    """Score every user against the full catalog in chunks and compute all report metrics.

    ``model_name`` and ``view.split`` only label errors: a non-finite score or a target inside its own
    input history raises ``ValueError``.
    """
    ranks, tops = [], []
    for start in range(0, len(view.targets), chunk_size):
        histories = view.histories[start : start + chunk_size]
        targets = view.targets[start : start + chunk_size]
        scores = np.array(score_fn(histories), dtype=np.float32)
        check_scores(scores, view.user_idx[start : start + chunk_size], model_name, view.split)
        mask_histories(scores, histories)
        if np.isneginf(scores[np.arange(len(targets)), targets]).any():
            raise ValueError(f"model {model_name}, split {view.split}: a target item is in its own input history; the split is leaking")
        ranks.append(target_ranks(scores, targets))
        if with_top_items:
            tops.append(top_items(scores, config.ranking_depth, targets))
    all_ranks = np.concatenate(ranks)
    metrics = ranking_metrics(all_ranks, config.ks)
    top = np.concatenate(tops) if with_top_items else None
    if top is not None:
        diverse = top[:, : config.diversity_k]
        metrics[f"catalog_coverage@{config.diversity_k}"] = catalog_coverage(diverse, scores.shape[1])
        if item_categories is not None:
            metrics[f"ild@{config.diversity_k}"] = intra_list_distance(diverse, item_categories.astype(np.float64))
            metrics[f"category_coverage@{config.diversity_k}"] = category_coverage(diverse, item_categories)
            metrics[f"facet_coverage@{config.diversity_k}"] = facet_coverage(diverse, view.histories, item_categories)
    breakdown = breakdown_by_history_length(all_ranks, view.history_lengths, config.history_length_edges)
    return EvaluationResult(metrics=metrics, ranks=all_ranks, top_items=top, by_history_length=breakdown)
