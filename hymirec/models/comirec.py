"""ComiRec-SA: the self-attentive multi-interest baseline.

Reference: Cen, Zhang, Zou, Zhou, Yang & Tang, "Controllable Multi-Interest Framework for
Recommendation", KDD 2020 (the ComiRec-SA variant; the controllable aggregation module for diversity
is not part of it).

K interests pool the history's item embeddings with K attention heads,

    a[k, j] = w2_k · tanh(W1 (e_j + p_j)),   v_k = Σ_j softmax_j(a[k, j]) e_j,

and a user is scored against item i by max_k v_k · e_i. As in the authors' code, positions enter the
attention logits only, so interests live in the (tied) item embedding space. During training the
interest whose dot product with the target item is largest is read out (hard, under no_grad) and
scored against the catalog.

What we chose, and why:
- Causal all-position training, as SASRec: position t's K interests pool items j ≤ t only, so one
  left-padded batch gives a training example at every position (the paper draws one split point per
  user and step). The last position's interests are the user's interests at serving time.
- Full-softmax cross-entropy over the whole catalog instead of the paper's sampled softmax: the
  catalogs here are small, and SASRec is trained the same way, so the comparison isolates the model.
- Positions are counted from the right end (the most recent item is always p_{max_length-1}), so a
  user's interests do not depend on the width of the batch they are padded into.

Token 0 is padding; item_idx i is token i + 1 (``hymirec.models.sasrec.training_batch``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hymirec.config import ComiRecConfig
from hymirec.models.base import evaluating, trimmed_tokens
from hymirec.models.sasrec import SASRecBatch
from hymirec.training.losses import next_item_cross_entropy


def causal_item_mask(tokens: torch.Tensor) -> torch.Tensor:
    """Which items j each position t may pool: j ≤ t and j a real item; padding positions see themselves.

    ``tokens`` [B L] left-padded; returns [B L(t) L(j)] bool. The diagonal keeps every row non-empty
    (a padding row pools the zero padding embedding, so its interests are zero).
    """
    length = tokens.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
    eye = torch.eye(length, dtype=torch.bool, device=tokens.device)
    return (causal & (tokens > 0)[:, None, :]) | eye


def hard_readout(interests: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The interest with the largest dot product with each target: [N K D], [N D] -> [N D].

    The choice is made without gradient (an argmax has none); the chosen interest keeps its gradient.
    """
    with torch.no_grad():
        chosen = torch.einsum("nkd,nd->nk", interests, targets).argmax(dim=-1)  # [N]
    return interests[torch.arange(len(chosen), device=interests.device), chosen]


class ComiRec(nn.Module):
    def __init__(self, config: ComiRecConfig, num_items: int) -> None:
        super().__init__()
        self.config = config
        self.num_items = num_items
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden_size, padding_idx=0)
        self.position_embedding = nn.Embedding(config.max_length, config.hidden_size)
        self.attention_hidden = nn.Linear(config.hidden_size, config.attention_size)  # W1
        # w2 has no bias: a per-head constant cancels in the softmax over j
        self.attention_heads = nn.Linear(config.attention_size, config.num_interests, bias=False)  # w2
        nn.init.normal_(self.item_embedding.weight, std=config.hidden_size**-0.5)
        nn.init.normal_(self.position_embedding.weight, std=config.hidden_size**-0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def item_vectors(self) -> torch.Tensor:
        """Output vectors [I D]: the input embedding table without its padding row (tied)."""
        return self.item_embedding.weight[1:]

    def forward(self, tokens: torch.Tensor, last: int | None = None) -> torch.Tensor:
        """Interests at every position [B L K D] for left-padded tokens [B L] (L ≤ max_length).

        Position t pools the real items j ≤ t only, so its interests never see later items. With
        ``last``, only the last ``last`` positions are pooled [B last K D] (serving reads one).
        """
        length = tokens.shape[1]
        positions = torch.arange(self.config.max_length - length, self.config.max_length, device=tokens.device)
        items = self.item_embedding(tokens)  # [B L D]
        hidden = torch.tanh(self.attention_hidden(items + self.position_embedding(positions)))  # [B L A]
        logits = self.attention_heads(hidden).transpose(1, 2)  # [B K L(j)]
        allowed = causal_item_mask(tokens)[:, None, -(last or length) :, :]  # [B 1 L(t) L(j)]
        weights = logits[:, :, None, :].masked_fill(~allowed, float("-inf")).softmax(dim=-1)  # [B K L(t) L(j)]
        return torch.einsum("bktj,bjd->btkd", weights, items)

    def loss(self, batch: SASRecBatch) -> torch.Tensor:
        """Full-softmax cross-entropy of the next item, read out from its best interest, at every labelled position."""
        interests = self(batch.inputs)  # [B L K D]
        items = self.item_vectors()
        has_label = batch.labels >= 0
        labels = batch.labels[has_label]  # [P]
        readout = hard_readout(interests[has_label], items[labels])  # [P D]
        return next_item_cross_entropy(readout[None], labels[None], items)

    def interests(self, histories: list[np.ndarray]) -> torch.Tensor:
        """The K interests [B K D] after each history's last ``max_length`` items."""
        return self(trimmed_tokens(histories, self.config.max_length), last=1)[:, 0]

    @torch.no_grad()
    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        """s(u, i) = max_k v_k · e_i for every catalog item: [B I]."""
        with evaluating(self):
            scores = torch.einsum("bkd,id->bki", self.interests(histories), self.item_vectors()).amax(dim=1)
        return scores.numpy()

    @torch.no_grad()
    def user_interests(self, histories: list[np.ndarray]) -> np.ndarray:
        """[B K D] interests for serving with faiss (``hymirec.serving.retrieval``)."""
        with evaluating(self):
            return self.interests(histories).numpy()
