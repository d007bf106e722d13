"""Training losses, each a small function with its formula.

- ``next_item_cross_entropy``: full-softmax next-item loss of SASRec, ComiRec and the coarse model.
- ``in_batch_info_nce``: the item encoder's contrastive adaptation (DESIGN.md §2, item encoder).
- ``multi_interest_loss``: disentangled multi-interest learning (DESIGN.md §2, DMIL; with
  ``cosine_kmeans`` and ``match_groups_to_interests``) over the whole catalog, plus the softmax of the
  multi-interest serving score max_k s_k(i) (``llm.max_score_loss_weight``).

Every full-catalog loss goes through ``chunked_logsumexp`` or ``chunked_interest_logsumexp``, which never
materialise the [positions × catalog] logits. In every contrastive loss a false negative (a key that is
the same item as, or a near-duplicate of, one of the query's positives) is removed from the denominator.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


CHUNK_ELEMENTS = 1 << 18  # logits computed per chunk of rows: ~1 MB of fp32, small enough to stay in cache
# the forward keeps each chunk's softmax for the backward while all of them fit in this budget; above it
# (large catalogs) the backward recomputes them. 1 GiB keeps a batch of 256 ML-1M sequences of 200 items
# (51,200 positions × 3,706 items, 759 MB): its SASRec epoch took 16-21 s instead of 30 s with 256 MB
KEPT_SOFTMAX_BYTES = 1 << 30


class _ChunkedLogSumExp(torch.autograd.Function):
    """logsumexp_j (q_i · k_j) over all keys except the blocked (row, key) pairs, never holding [Q N] logits.

    Logits are computed chunk by chunk, so every elementwise pass runs on a chunk that is still in cache
    (the full logits of a batch, [positions × catalog] in fp32, are tens of MB and made each elementwise
    op memory-bound). The backward needs softmax_ij: the forward keeps each chunk's when the batch's
    fit in ``KEPT_SOFTMAX_BYTES`` (one matmul and the masking fewer: ~18 % of the loss's time for an
    ML-1M SASRec batch), otherwise the backward recomputes them and memory stays O(chunk · N).
    """

    @staticmethod
    def forward(ctx, queries: torch.Tensor, keys: torch.Tensor, blocked_rows: torch.Tensor, blocked_keys: torch.Tensor) -> torch.Tensor:
        chunk, bounds = _chunking(queries, keys, blocked_rows, vectors=1)
        result = torch.empty(len(queries), dtype=queries.dtype, device=queries.device)
        keep = len(queries) * len(keys) * queries.element_size() <= KEPT_SOFTMAX_BYTES
        kept = []
        for index, start in enumerate(range(0, len(queries), chunk)):
            logits = _blocked_chunk_logits(queries, keys, blocked_rows, blocked_keys, bounds, index, chunk)
            exps, totals, result[start : start + chunk] = _exp_and_logsumexp(logits)
            if keep:
                kept.append(_softmax_from_exps(exps, totals))
        ctx.save_for_backward(queries, keys, blocked_rows, blocked_keys, result, bounds)
        ctx.chunk, ctx.kept = chunk, kept if keep else None
        return result

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        queries, keys, blocked_rows, blocked_keys, result, bounds = ctx.saved_tensors
        chunk = ctx.chunk
        grad_queries, grad_keys = torch.empty_like(queries), torch.zeros_like(keys)
        for index, start in enumerate(range(0, len(queries), chunk)):
            rows = slice(start, start + chunk)
            if ctx.kept is not None:
                softmax = ctx.kept[index]
            else:
                softmax = _softmax(_blocked_chunk_logits(queries, keys, blocked_rows, blocked_keys, bounds, index, chunk), result[rows])
            weights = softmax.mul_(grad[rows, None])  # d lse_i / d logit_ij = softmax_ij
            grad_queries[rows] = weights @ keys
            grad_keys.addmm_(weights.T, queries[rows])
        ctx.kept = None
        return grad_queries, grad_keys, None, None


class _ChunkedInterestLogSumExp(torch.autograd.Function):
    """For queries of K vectors, each vector's logsumexp_j (q_ik · k_j) [Q K] and that of the merged serving
    score max_k (q_ik · k_j + b_ik) [Q] (offsets b: none without a gate), over the same unblocked keys, from
    one pass over the [Q K N] logits.

    DMIL needs the first (each interest's own softmax), the serving-score loss the second; computed
    apart, each paid the matmul, the masking and its backward's matmuls again (two thirds of a
    long-history LLM step went to the two). Chunked and kept as ``_ChunkedLogSumExp``. Gradient of logit
    (i, k, j): softmax_ikj · g_ik + [k wins j's max] · softmax^max_ij · g_i — a max passes its gradient to
    the vector that reaches it (an exact tie, of probability zero, would pass it to each tied vector), and
    offset b_ik's gradient is the merged softmax mass of the keys vector k wins.
    """

    @staticmethod
    def forward(
        ctx, queries: torch.Tensor, offsets: torch.Tensor | None, keys: torch.Tensor, blocked_rows: torch.Tensor, blocked_keys: torch.Tensor
    ):
        vectors = queries.shape[1]
        chunk, bounds = _chunking(queries, keys, blocked_rows, vectors)
        per_vector = torch.empty(len(queries), vectors, dtype=queries.dtype, device=queries.device)
        merged = torch.empty(len(queries), dtype=queries.dtype, device=queries.device)
        kept_bytes = len(queries) * len(keys) * ((vectors + 1) * queries.element_size() + vectors)  # softmaxes, winners
        keep = kept_bytes <= KEPT_SOFTMAX_BYTES
        kept = []
        for index, start in enumerate(range(0, len(queries), chunk)):
            rows = slice(start, start + chunk)
            logits, winners, merged_logits = _interest_chunk_logits(queries, offsets, keys, blocked_rows, blocked_keys, bounds, index, chunk)
            exps, totals, lse = _exp_and_logsumexp(logits.flatten(0, 1))
            per_vector[rows] = lse.view(-1, vectors)
            merged_exps, merged_totals, merged[rows] = _exp_and_logsumexp(merged_logits)
            if keep:
                kept.append((_softmax_from_exps(exps, totals).view_as(logits), winners, _softmax_from_exps(merged_exps, merged_totals)))
        ctx.save_for_backward(queries, offsets, keys, blocked_rows, blocked_keys, per_vector, merged, bounds)
        ctx.chunk, ctx.kept = chunk, kept if keep else None
        return per_vector, merged

    @staticmethod
    def backward(ctx, grad_per_vector: torch.Tensor, grad_merged: torch.Tensor):
        queries, offsets, keys, blocked_rows, blocked_keys, per_vector, merged, bounds = ctx.saved_tensors
        chunk = ctx.chunk
        grad_queries, grad_keys = torch.empty_like(queries), torch.zeros_like(keys)
        grad_offsets = None if offsets is None else torch.empty_like(offsets)
        for index, start in enumerate(range(0, len(queries), chunk)):
            rows = slice(start, start + chunk)
            if ctx.kept is not None:
                softmax, winners, merged_softmax = ctx.kept[index]
            else:
                logits, winners, merged_logits = _interest_chunk_logits(queries, offsets, keys, blocked_rows, blocked_keys, bounds, index, chunk)
                softmax = _softmax(logits.flatten(0, 1), per_vector[rows].flatten()).view_as(logits)
                merged_softmax = _softmax(merged_logits, merged[rows])
            weights = softmax.mul_(grad_per_vector[rows, :, None])  # [c K N]
            merged_weights = merged_softmax.mul_(grad_merged[rows, None])[:, None, :]
            if grad_offsets is None:
                weights.addcmul_(winners, merged_weights)
            else:
                to_winners = winners * merged_weights
                grad_offsets[rows] = to_winners.sum(dim=-1)
                weights.add_(to_winners)
            grad_queries[rows] = weights @ keys
            grad_keys.addmm_(weights.flatten(0, 1).T, queries[rows].flatten(0, 1))
        ctx.kept = None
        return grad_queries, grad_offsets, grad_keys, None, None


def _chunking(queries: torch.Tensor, keys: torch.Tensor, blocked_rows: torch.Tensor, vectors: int) -> tuple[int, torch.Tensor]:
    """Rows per chunk (``CHUNK_ELEMENTS`` logits) and where each chunk's blocked pairs start in ``blocked_rows``."""
    chunk = max(1, CHUNK_ELEMENTS // max(1, len(keys) * vectors))
    return chunk, torch.searchsorted(blocked_rows, torch.arange(0, len(queries) + chunk, chunk, device=queries.device))


def _blocked_chunk_logits(
    queries: torch.Tensor, keys: torch.Tensor, blocked_rows: torch.Tensor, blocked_keys: torch.Tensor, bounds: torch.Tensor, index: int, chunk: int
) -> torch.Tensor:
    """Chunk ``index``'s logits [c N] with its blocked pairs at -inf."""
    start = index * chunk
    logits = queries[start : start + chunk] @ keys.T
    low, high = bounds[index], bounds[index + 1]
    logits[blocked_rows[low:high] - start, blocked_keys[low:high]] = float("-inf")
    return logits


def _interest_chunk_logits(
    queries: torch.Tensor,
    offsets: torch.Tensor | None,
    keys: torch.Tensor,
    blocked_rows: torch.Tensor,
    blocked_keys: torch.Tensor,
    bounds: torch.Tensor,
    index: int,
    chunk: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chunk ``index``'s logits of every vector [c K N] with its blocked pairs at -inf, which vector wins
    each key's max [c K N] (bool), and the merged logits max_k (logit + offset) [c N].

    The winners are found by comparison with ``amax``: a ``max`` with indices more than doubled a
    chunk's time.
    """
    start = index * chunk
    logits = queries[start : start + chunk] @ keys.T  # [c K d] @ [d N]
    low, high = bounds[index], bounds[index + 1]
    logits[blocked_rows[low:high] - start, :, blocked_keys[low:high]] = float("-inf")
    shifted = logits if offsets is None else logits + offsets[start : start + chunk, :, None]
    merged = shifted.amax(dim=1)
    return logits, shifted == merged[:, None, :], merged


def _exp_and_logsumexp(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """exp(logit − row max) in place in ``logits``, each row's sum of them, and its logsumexp.

    One exp per logit serves both the logsumexp and the kept softmax (exps / sum): ``torch.logsumexp``
    and then a softmax took two, and the exp pass is the loss's largest cost after its matmuls. A row
    with every key blocked has sum 0 and logsumexp −inf (its max is clamped to a finite value, so its
    exps are 0, not NaN).
    """
    peaks = logits.amax(dim=1).clamp_(min=torch.finfo(logits.dtype).min)
    exps = logits.sub_(peaks[:, None]).exp_()
    totals = exps.sum(dim=1)
    return exps, totals, peaks + totals.log()


def _softmax_from_exps(exps: torch.Tensor, totals: torch.Tensor) -> torch.Tensor:
    """exps / their row sum, in place; a row with every key blocked (sum 0) stays zeros."""
    return exps.mul_(torch.where(totals > 0, totals, 1.0).reciprocal()[:, None])


def _softmax(logits: torch.Tensor, logsumexp: torch.Tensor) -> torch.Tensor:
    """softmax in place from the rows' logsumexp; a row with every key blocked gets zeros (no gradient)."""
    return logits.sub_(logsumexp[:, None]).exp_().nan_to_num_(0.0)


def chunked_logsumexp(
    queries: torch.Tensor, keys: torch.Tensor, blocked: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """[Q] logsumexp over keys of the logits ``queries`` [Q d] · ``keys`` [N d]ᵀ, skipping ``blocked`` (rows, keys) pairs.

    Equal to ``torch.logsumexp((queries @ keys.T).index_put(blocked, -inf), dim=1)``, with gradients, at a
    fraction of the memory traffic (``_ChunkedLogSumExp``). ``blocked`` rows must be sorted.
    """
    return _ChunkedLogSumExp.apply(queries, keys, *_blocked_pairs(queries, blocked))


def chunked_interest_logsumexp(
    queries: torch.Tensor,
    keys: torch.Tensor,
    blocked: tuple[torch.Tensor, torch.Tensor] | None = None,
    offsets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For ``queries`` [Q K d]: each vector's logsumexp over ``keys`` [N d] [Q K], and that of the merged
    logits max_k (q_k · k_j + b_k) [Q] with ``offsets`` b [Q K] (none: the plain max), with ``blocked``
    (rows, keys) pairs skipped by every vector of the row.

    Equal to ``torch.logsumexp(logits, -1)`` and ``torch.logsumexp((logits + b[..., None]).amax(1), -1)`` of
    ``logits = einsum("qkd,nd->qkn")`` with the blocked pairs at -inf, with gradients, from one chunked
    pass (``_ChunkedInterestLogSumExp``).
    """
    return _ChunkedInterestLogSumExp.apply(queries, offsets, keys, *_blocked_pairs(queries, blocked))


def _blocked_pairs(queries: torch.Tensor, blocked: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
    empty = torch.empty(0, dtype=torch.long, device=queries.device)
    return blocked if blocked is not None else (empty, empty)


def next_item_cross_entropy(hidden: torch.Tensor, labels: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next item over the whole catalog, at every position that has a label.

    ``hidden`` [B L D], ``labels`` [B L] item_idx (negative: no label), ``item_vectors`` [I D].
    """
    has_label = labels >= 0
    states, targets = hidden[has_label], labels[has_label]  # [P D], [P]
    target_logits = (states * item_vectors[targets]).sum(dim=-1)
    return (chunked_logsumexp(states, item_vectors) - target_logits).mean()


def masked_info_nce(logits: torch.Tensor, positive: torch.Tensor, excluded: torch.Tensor) -> torch.Tensor:
    """InfoNCE over precomputed logits: −mean_p log softmax(logits[p] without excluded keys)[positive[p]].

    ``logits`` [P N] (already divided by the temperature), ``positive`` [P] key index of each row's
    positive, ``excluded`` [P N] keys that are not negatives of that row (the positive itself is
    always kept).
    """
    rows = torch.arange(len(positive), device=logits.device)
    excluded = excluded.clone()
    excluded[rows, positive] = False
    return F.cross_entropy(logits.masked_fill(excluded, float("-inf")), positive)


def in_batch_info_nce(queries: torch.Tensor, keys: torch.Tensor, key_ids: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with in-batch negatives and false negatives masked.

        L = −1/B Σ_i log [ exp(q_i·k_i / τ) / Σ_{j : j = i or id_j ≠ id_i} exp(q_i·k_j / τ) ]

    ``queries``, ``keys`` [B D] unit vectors (row i is a positive pair), ``key_ids`` [B] item ids: a key
    equal to row i's positive (same id, another row) is not a negative for row i.
    """
    same_item = key_ids[:, None] == key_ids[None, :]
    return masked_info_nce(queries @ keys.T / temperature, torch.arange(len(keys), device=keys.device), same_item)


@torch.no_grad()
def cosine_kmeans(points: torch.Tensor, valid: torch.Tensor, num_groups: int, iterations: int = 10) -> torch.Tensor:
    """Group each row's points into at most ``num_groups`` clusters by cosine k-means, batched over rows.

    ``points`` [B W D] unit vectors, ``valid`` [B W]. A row with n valid points gets min(n, K) groups.
    Initialisation is farthest-point (first valid point, then the point least similar to every chosen
    centre), so the grouping is deterministic. Returns the group of each point [B W], -1 where invalid.

    A centroid is the normalised sum of its members, so every cosine the algorithm needs follows from
    the rows' Gram matrices G = P Pᵀ [B W W]: cos(p_w, c_k) = (G m_k)_w / sqrt(m_kᵀ G m_k) for the
    membership vector m_k. The D-dimensional vectors are read once; the iterations work on W × W.
    """
    batch, width, _ = points.shape
    rows = torch.arange(batch, device=points.device)
    gram = torch.einsum("bwd,bvd->bwv", points, points)  # [B W W]
    counts = valid.sum(dim=1)  # [B]
    centre_valid = torch.arange(num_groups, device=points.device)[None, :] < counts[:, None]  # [B K]
    taken = ~valid  # a fresh tensor: marking chosen points never touches ``valid``
    chosen = valid.float().argmax(dim=1)  # [B] first valid point
    centres = [chosen]
    taken[rows, chosen] = True
    closeness = gram[rows, :, chosen]  # [B W] similarity to the nearest centre
    for _ in range(1, num_groups):
        chosen = closeness.masked_fill(taken, float("inf")).argmin(dim=1)
        centres.append(chosen)
        taken[rows, chosen] = True
        closeness = torch.maximum(closeness, gram[rows, :, chosen])
    weights = F.one_hot(torch.stack(centres, dim=1), width).float().transpose(1, 2)  # [B W K] centroid memberships

    def similarity(weights: torch.Tensor) -> torch.Tensor:  # [B W K] cos(point, centroid), invalid centres -inf
        dots = gram @ weights
        norms = (weights * dots).sum(dim=1).clamp(min=1e-12).sqrt()  # [B K]
        return (dots / norms[:, None, :]).masked_fill(~centre_valid[:, None, :], float("-inf"))

    for _ in range(iterations):
        members = F.one_hot(similarity(weights).argmax(dim=-1), num_groups).float() * valid[..., None]  # [B W K]
        has_members = members.sum(dim=1) > 0  # [B K]; an emptied centre keeps its previous members
        weights = torch.where(has_members[:, None, :], members, weights)
    return similarity(weights).argmax(dim=-1).masked_fill(~valid, -1)


MAX_ENUMERATED_INTERESTS = 6  # 6! = 720 assignments per row; above it, scipy row by row


@torch.no_grad()
def match_groups_to_interests(group_vectors: torch.Tensor, group_valid: torch.Tensor, interests: torch.Tensor) -> torch.Tensor:
    """Hungarian matching of each row's target groups to its interests, maximising the total cosine.

    ``group_vectors`` [B G D] and ``interests`` [B K D] unit vectors (G ≤ K), ``group_valid`` [B G].
    Returns the interest index of each group [B G], -1 for invalid groups; two groups of a row never
    share an interest. K is small, so every assignment (K!/(K-G)! permutations) is scored at once for all
    rows — one batched argmax instead of a Python loop over positions; above
    ``MAX_ENUMERATED_INTERESTS`` interests it falls back to scipy's solver per row.
    """
    similarity = torch.einsum("bgd,bkd->bgk", group_vectors, interests)  # [B G K]
    rows, num_groups = group_valid.shape
    if interests.shape[1] > MAX_ENUMERATED_INTERESTS:
        return _match_row_by_row(similarity, group_valid)
    assignments = torch.tensor(list(itertools.permutations(range(interests.shape[1]), num_groups)), device=similarity.device)  # [A G]
    gained = similarity[:, torch.arange(num_groups, device=similarity.device)[None, :], assignments]  # [B A G]
    total = (gained * group_valid[:, None, :]).sum(dim=-1)  # [B A]
    best = assignments[total.argmax(dim=1)]  # [B G]
    return best.masked_fill(~group_valid, -1)


def _match_row_by_row(similarity: torch.Tensor, group_valid: torch.Tensor) -> torch.Tensor:
    scores, valid = similarity.cpu().numpy(), group_valid.cpu().numpy()
    assignment = np.full(valid.shape, -1, dtype=np.int64)
    for row in range(len(scores)):
        groups = np.flatnonzero(valid[row])
        if len(groups):
            group_order, interest_of_group = linear_sum_assignment(scores[row, groups], maximize=True)
            assignment[row, groups[group_order]] = interest_of_group
    return torch.from_numpy(assignment).to(similarity.device)


def excluded_pairs(
    targets: torch.Tensor, duplicates: torch.Tensor, rows: torch.Tensor, candidates: torch.Tensor | None, num_items: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(query, key) pairs that are no negatives: for query q of row ``rows[q]``, that row's targets and
    their near-duplicates, as columns of the keys (the catalog, or ``candidates`` when sampled).

    ``targets`` [P W] item_idx (-1 none), ``duplicates`` [I D] near-duplicate item_idx of each item (-1
    none). Sparse and sorted by query, as ``chunked_logsumexp`` takes them: a row has at most W(1+D).
    """
    related = torch.cat([targets[..., None], duplicates[targets.clamp(min=0)]], dim=-1)  # [P W 1+D]
    related = related.masked_fill((targets < 0)[..., None], -1).flatten(1)[rows]  # [Q W(1+D)]
    if candidates is not None:  # item -> its column among the sampled keys, -1 when not sampled
        column_of = torch.full((num_items + 1,), -1, dtype=torch.long, device=targets.device)
        column_of[candidates + 1] = torch.arange(len(candidates), device=targets.device)
        related = column_of[related + 1]
    query, slot = (related >= 0).nonzero(as_tuple=True)
    return query, related[query, slot]


def interest_partitions(
    queries: torch.Tensor,
    items: torch.Tensor,
    targets: torch.Tensor,
    duplicates: torch.Tensor,
    candidates: torch.Tensor | None,
    offsets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row p's logsumexp over its negatives for each of its vectors ``queries`` [P K d] [P K], and for
    their max [P], shifted by ``offsets`` [P K] (``chunked_interest_logsumexp``). A row's negatives are the catalog ``items`` minus its
    targets and their near-duplicates (``excluded_pairs``). With ``candidates`` [S] the sums run over
    those uniformly drawn items only, plus log(I / S): the log-Q correction that makes the sampled sum
    estimate the full one.
    """
    keys, correction = items, 0.0
    if candidates is not None:
        keys, correction = items[candidates], math.log(len(items) / len(candidates))
    rows = torch.arange(len(targets), device=targets.device)
    per_interest, merged = chunked_interest_logsumexp(queries, keys, excluded_pairs(targets, duplicates, rows, candidates, len(items)), offsets)
    return per_interest + correction, merged + correction


def multi_interest_loss(
    interests: torch.Tensor,
    items: torch.Tensor,
    targets: torch.Tensor,
    target_groups: torch.Tensor,
    temperature: torch.Tensor,
    duplicates: torch.Tensor,
    candidates: torch.Tensor | None = None,
    max_score_weight: float = 0.0,
    log_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Disentangled multi-interest loss (DESIGN.md §2) over a full-catalog softmax, plus ``max_score_weight``
    times the softmax of the serving score; both from one chunked pass over the catalog
    (``interest_partitions``).

    **DMIL.** Each row (a training position) has K unit interests ``interests`` [P K d] and up to W next
    items ``targets`` [P W] (-1 = none) split into groups (``target_groups`` [P W], from ``cosine_kmeans``).
    Groups are matched one-to-one to interests (Hungarian, on cos(group centroid, interest)); each target
    item v is a positive of its group's interest u = u_{p,m(g)}, against every catalog item that is not
    one of row p's targets or a near-duplicate of one (``excluded_pairs``):

        L = −mean_{(p,w)} log [ exp(cos(u, v_w)/τ) / (exp(cos(u, v_w)/τ) + Σ_{j ∉ E_p} exp(cos(u, v_j)/τ)) ]

    The denominator does not depend on w except through its positive, so it is computed once per
    (row, interest) as Z = logsumexp_{j ∉ E_p}, and L_pw = logaddexp(Z, l_w) − l_w: K softmaxes per
    position, not W. ``items`` [I d] are the item vectors: unit ones for cosine scoring (``llm.scoring``); for
    dot-product scoring ``temperature`` is 1 and cos(u, v)/τ reads u·v. Groups are matched by cosine either way.

    **Serving score.** DMIL trains each interest on its own group against its own scores: nothing in it
    asks that an item one interest scores highly rank below the target another interest scores — yet
    serving merges the interests by a max. The second term trains that merged ranking, with the same E_p:

        L = −mean_{(p,w)} log [ exp(s_p(v_w)) / (exp(s_p(v_w)) + Σ_{j ∉ E_p} exp(s_p(j))) ],  s_p(j) = max_k u_pk · v_j / τ

    With K = 1 it is the plain next-items softmax. With a gate (``llm.merge: gated_max``), ``log_weights``
    [P K] = log π_pk enter the merged score, s_p(j) = max_k (u_pk · v_j / τ + log π_pk): the gate learns which
    interest to trust for each user where the max alone takes whichever is peakiest. DMIL is unchanged. With
    ``candidates`` [S] (catalogs too large for a full softmax), both partitions are estimated from a sample.
    """
    scaled = interests / temperature  # dividing [P K d] rather than the [P K N] logits: same values, far less work
    per_interest, merged = interest_partitions(scaled, items, targets, duplicates, candidates, log_weights)  # [P K], [P]
    valid = targets >= 0
    target_vectors = items[targets.clamp(min=0)]  # [P W d]
    # group centroids in the interest space, then which interest serves which group
    members = F.one_hot(target_groups.clamp(min=0), interests.shape[1]).float() * valid[..., None]  # [P W G]
    group_vectors = F.normalize(torch.einsum("pwg,pwd->pgd", members, target_vectors.detach()), dim=-1)
    group_used = members.sum(dim=1) > 0  # [P G]
    interest_of_group = match_groups_to_interests(group_vectors, group_used, F.normalize(interests.detach(), dim=-1))  # [P G]
    # every positive reads its group's interest's partition
    positive_row, positive_column = valid.nonzero(as_tuple=True)  # [N+]
    positive_interest = interest_of_group[positive_row, target_groups[positive_row, positive_column]]
    positive_logits = (scaled[positive_row, positive_interest] * target_vectors[positive_row, positive_column]).sum(dim=-1)
    loss = (torch.logaddexp(per_interest[positive_row, positive_interest], positive_logits) - positive_logits).mean()
    if max_score_weight > 0:
        target_logits = torch.einsum("pkd,pwd->pwk", scaled, target_vectors)  # [P W K]
        merged_logits = (target_logits if log_weights is None else target_logits + log_weights[:, None, :]).amax(dim=-1)  # [P W]
        loss = loss + max_score_weight * (torch.logaddexp(merged[:, None], merged_logits) - merged_logits)[valid].mean()
    return loss
