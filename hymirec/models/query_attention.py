"""The decoder's attention when its last tokens are interest queries that no token attends to.

HyMiRec's decoder reads [M context tokens] + [R window items] + [K queries per trained position]
(``hymirec.models.llm.window_attention``): a query sees the context, the items up to its position and
itself, and no token sees a query. With every position trained, the queries outnumber the rest K to 1,
so most of the [T × T] attention scores are blocked ones: for ``llm_full_history`` (R = 200, K = 4) a
layer computed [1,000 × 1,000] scores per window where [1,000 × 200] and one score per query are
all that is attended (profile of a long-history step: the attention was three quarters of it).

``QUERY_TOKEN_ATTENTION`` computes exactly that. The decoder passes a mask over the first N tokens
only ([B 1 T N], ``DecoderInput.backbone_arguments``): those N are the keys every token may see, as the
mask says, and each later token also sees itself — nothing else of the later ones. A mask as wide as
the sequence falls back to transformers' SDPA attention, and a 2D padding mask is made into SDPA's 4D
one (the mask function is SDPA's too), so the decoder still works as any other. Attention dropout uses
the fast CPU masks of ``hymirec.models.dropout``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import sdpa_mask

from hymirec.models.dropout import fast_dropout

QUERY_TOKEN_ATTENTION = "hymirec_query_tokens"


def query_token_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Attention of ``query`` [B H T D] over the first N = ``attention_mask.shape[-1]`` tokens' keys (a float
    mask [B 1 T N] added to the scores), each token after the N also attending to its own key.

    Returns the output as transformers' attention functions do, [B T H D], and no weights."""
    keys = key.shape[2] if attention_mask is None else attention_mask.shape[-1]
    if keys == key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    shared_keys, shared_values = key[:, :, :keys], value[:, :, :keys]
    scores = torch.matmul(query, shared_keys.transpose(2, 3)).mul_(scaling).add_(attention_mask)  # [B H T N]
    own = (query[:, :, keys:] * key[:, :, keys:]).sum(dim=-1, keepdim=True).mul_(scaling)  # [B H T-N 1]
    first = torch.softmax(scores[:, :, :keys], dim=-1)  # the first N tokens' own keys are among the N
    later = torch.softmax(torch.cat([scores[:, :, keys:], own], dim=-1), dim=-1)  # [B H T-N N+1]
    first, later = fast_dropout(first, dropout, dropout > 0), fast_dropout(later, dropout, dropout > 0)
    attended_later = torch.matmul(later[..., :keys], shared_values) + later[..., keys:] * value[:, :, keys:]
    attended = torch.cat([torch.matmul(first, shared_values), attended_later], dim=2)  # [B H T D]
    return attended.transpose(1, 2).contiguous(), None


AttentionInterface.register(QUERY_TOKEN_ATTENTION, query_token_attention)
AttentionMaskInterface.register(QUERY_TOKEN_ATTENTION, sdpa_mask)
