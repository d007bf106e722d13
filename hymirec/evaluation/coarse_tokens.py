"""Do HyMiRec's M context tokens carry different information, and does the decoder read them?

Two measurements on users whose history is longer than the window (the others have no context):

- ``token_cosine``: the cosine between two of a user's context tokens (the pooled coarse states, or the
  pooled codebook vectors of ``hymirec_no_coarse``, before the decoder's input projection), averaged
  over the user's pairs of non-empty tokens and over users. Near 1 means M copies of one summary.
- ``query_attention_share``: per decoder layer, the attention the K interest queries of the serving
  position give the context tokens (summed over them, averaged over heads, queries and users). The
  rest goes to the window's items. Near 0 means the long history is carried along and ignored.

Stage ``llm_model`` writes both per variant into reports/llm_model.json.
"""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from hymirec.models.base import evaluating
from hymirec.models.llm import HyMiRecModel, split_histories

DIAGNOSED_USERS = 256  # the first users with a context; enough for means stable to ~0.01


@contextmanager
def eager_attention(backbone: nn.Module) -> Iterator[None]:
    """Eager attention for the block (SDPA returns no attention weights); the previous kind afterwards."""
    model = backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone  # a peft wrapper's model
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


def mean_token_cosine(tokens: torch.Tensor, real: torch.Tensor) -> float | None:
    """Mean over users of the mean cosine between pairs of their non-empty tokens [B M E]; None without a pair."""
    unit = torch.nn.functional.normalize(tokens, dim=-1)
    gram = torch.einsum("bme,bne->bmn", unit, unit)
    pairs = real[:, :, None] & real[:, None, :] & ~torch.eye(tokens.shape[1], dtype=torch.bool)[None]
    counts = pairs.sum(dim=(1, 2))
    users = counts > 0
    if not users.any():
        return None
    return float(((gram * pairs).sum(dim=(1, 2))[users] / counts[users]).mean())


@torch.no_grad()
def coarse_token_diagnostics(model: HyMiRecModel, histories: list[np.ndarray], max_users: int = DIAGNOSED_USERS) -> dict | None:
    """``token_cosine`` and ``query_attention_share`` (one value per decoder layer) for ``model``; None when it
    reads no context (``hymirec_recent_only``) or no user's history reaches past the window."""
    recent = model.recent_items
    users = [history for history in histories if len(history) > recent][:max_users]
    if model.context is None or not users:
        return None
    with evaluating(model):
        before, window = split_histories(users, recent)
        tokens, real = model.context_tokens(before)
        decoder_input = model.decoder_input(before, window, model.item_vectors(), torch.tensor([recent - 1]))
        with eager_attention(model.backbone):
            attentions = model.backbone(**decoder_input.backbone_arguments(every_key=True), output_attentions=True).attentions
    num_context, queries = decoder_input.num_context, model.num_interests
    shares = [float(layer[:, :, -queries:, :num_context].sum(dim=-1).mean()) for layer in attentions]  # [B heads T T]
    return {"users": len(users), "token_cosine": mean_token_cosine(tokens, real), "query_attention_share": shares}
