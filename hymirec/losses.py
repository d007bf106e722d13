"""Training losses, each a small function with its formula.

- ``next_item_cross_entropy``: full-softmax next-item loss of SASRec and the coarse model.
- ``in_batch_info_nce``: the item encoder's contrastive adaptation (DESIGN.md §2, item encoder).
- ``dmil_loss`` with ``cosine_kmeans`` and ``match_groups_to_interests``: disentangled
  multi-interest learning (DESIGN.md §2, DMIL).

Every contrastive loss goes through ``masked_info_nce``, where a false negative (a key that is the same
item as, or a near-duplicate of, one of the query's positives) is removed from the denominator.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


def next_item_cross_entropy(hidden: torch.Tensor, labels: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next item over the whole catalog, at every position that has a label.

    ``hidden`` [B L D], ``labels`` [B L] item_idx (negative: no label), ``item_vectors`` [I D].
    """
    has_label = labels >= 0
    logits = hidden[has_label] @ item_vectors.T  # [P I]
    return F.cross_entropy(logits, labels[has_label])


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
    """
    batch, width, _ = points.shape
    rows = torch.arange(batch, device=points.device)
    counts = valid.sum(dim=1)  # [B]
    centre_valid = torch.arange(num_groups, device=points.device)[None, :] < counts[:, None]  # [B K]
    taken = ~valid  # a fresh tensor: marking chosen points never touches ``valid``
    chosen = valid.float().argmax(dim=1)  # [B] first valid point
    centres = [points[rows, chosen]]
    taken[rows, chosen] = True
    closeness = torch.einsum("bwd,bd->bw", points, centres[0])  # [B W] similarity to the nearest centre
    for _ in range(1, num_groups):
        chosen = closeness.masked_fill(taken, float("inf")).argmin(dim=1)
        centres.append(points[rows, chosen])
        taken[rows, chosen] = True
        closeness = torch.maximum(closeness, torch.einsum("bwd,bd->bw", points, centres[-1]))
    centroids = torch.stack(centres, dim=1)  # [B K D]
    for _ in range(iterations):
        similarity = torch.einsum("bwd,bkd->bwk", points, centroids).masked_fill(~centre_valid[:, None, :], float("-inf"))
        groups = similarity.argmax(dim=-1)  # [B W]
        members = F.one_hot(groups, num_groups).float() * valid[..., None]  # [B W K]
        sums = torch.einsum("bwk,bwd->bkd", members, points)
        has_members = members.sum(dim=1) > 0  # [B K]
        centroids = torch.where(has_members[..., None], F.normalize(sums, dim=-1), centroids)
    similarity = torch.einsum("bwd,bkd->bwk", points, centroids).masked_fill(~centre_valid[:, None, :], float("-inf"))
    return similarity.argmax(dim=-1).masked_fill(~valid, -1)


@torch.no_grad()
def match_groups_to_interests(group_vectors: torch.Tensor, group_valid: torch.Tensor, interests: torch.Tensor) -> torch.Tensor:
    """Hungarian matching of each row's target groups to its interests, maximising the total cosine.

    ``group_vectors`` [B G D] and ``interests`` [B K D] unit vectors (G ≤ K), ``group_valid`` [B G].
    Returns the interest index of each group [B G], -1 for invalid groups; two groups of a row never
    share an interest.
    """
    similarity = torch.einsum("bgd,bkd->bgk", group_vectors, interests).cpu().numpy()
    valid = group_valid.cpu().numpy()
    assignment = np.full(valid.shape, -1, dtype=np.int64)
    for row in range(len(similarity)):
        groups = np.flatnonzero(valid[row])
        if len(groups):
            group_order, interest_of_group = linear_sum_assignment(similarity[row, groups], maximize=True)
            assignment[row, groups[group_order]] = interest_of_group
    return torch.from_numpy(assignment).to(interests.device)


def dmil_loss(
    interests: torch.Tensor,
    target_vectors: torch.Tensor,
    target_ids: torch.Tensor,
    target_groups: torch.Tensor,
    negative_vectors: torch.Tensor,
    negative_ids: torch.Tensor,
    temperature: torch.Tensor,
    duplicate_cosine: float = 0.99,
) -> torch.Tensor:
    """Disentangled multi-interest loss (DESIGN.md §2).

    Each row has K unit interests and up to W next items (``target_ids`` [B W], -1 = none) split into
    groups (``target_groups`` [B W], from ``cosine_kmeans``). Groups are matched one-to-one to interests
    by the Hungarian algorithm on cos(group centroid, interest); every target item is then a positive
    of its group's interest, against the batch's other targets and the sampled negatives:

        L = −mean_{(b,w)} log [ exp(cos(u_{b,m(g_bw)}, v_bw)/τ) / Σ_{keys j not excluded} exp(cos(u_{b,m(g_bw)}, k_j)/τ) ]

    A key is excluded (a false negative) when it is any of row b's targets, or has cosine >
    ``duplicate_cosine`` to one of them (the same film under two ids is not a negative). ``target_vectors`` [B W D], ``negative_vectors`` [S D] are
    unit vectors in the interests' space; ``temperature`` is a (learnable) scalar tensor.
    """
    batch, width = target_ids.shape
    num_interests = interests.shape[1]
    valid = target_ids >= 0
    # group centroids in the interest space, then which interest serves which group
    members = F.one_hot(target_groups.clamp(min=0), num_interests).float() * valid[..., None]  # [B W G]
    group_vectors = F.normalize(torch.einsum("bwg,bwd->bgd", members, target_vectors.detach()), dim=-1)
    interest_of_group = match_groups_to_interests(group_vectors, members.sum(dim=1) > 0, interests.detach())  # [B G]
    row_of, column_of = valid.nonzero(as_tuple=True)  # positives P
    interest_of_positive = interest_of_group[row_of, target_groups[row_of, column_of]]
    queries = interests[row_of, interest_of_positive]  # [P D]
    positives = target_vectors[row_of, column_of]  # [P D]
    keys = torch.cat([positives, negative_vectors])  # [P+S D]
    key_ids = torch.cat([target_ids[row_of, column_of], negative_ids])
    # false negatives: a key that is one of row b's targets, or a near-duplicate of one
    same_item = (key_ids[None, :, None] == target_ids[:, None, :]).any(dim=-1)  # [B N]
    near_duplicate = (torch.einsum("bwd,nd->bwn", target_vectors.detach(), keys.detach()) > duplicate_cosine) & valid[..., None]
    excluded = (same_item | near_duplicate.any(dim=1))[row_of]  # [P N]
    logits = queries @ keys.T / temperature
    return masked_info_nce(logits, torch.arange(len(positives), device=keys.device), excluded)
