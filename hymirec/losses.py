"""Training losses, each a small function with its formula.

DESIGN.md §2: the item encoder may be adapted with a contrastive next-item loss (this file);
DMIL's per-interest InfoNCE will live here too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def in_batch_info_nce(queries: torch.Tensor, keys: torch.Tensor, key_ids: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with in-batch negatives and false negatives masked.

        L = −1/B Σ_i log [ exp(q_i·k_i / τ) / Σ_{j : j = i or id_j ≠ id_i} exp(q_i·k_j / τ) ]

    ``queries``, ``keys`` [B D] unit vectors (row i is a positive pair), ``key_ids`` [B] item ids: a key
    equal to row i's positive (same id, another row) is not a negative for row i.
    """
    logits = queries @ keys.T / temperature  # [B B]
    same_item = key_ids[:, None] == key_ids[None, :]
    diagonal = torch.eye(len(keys), dtype=torch.bool, device=keys.device)
    logits = logits.masked_fill(same_item & ~diagonal, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(keys), device=keys.device))
