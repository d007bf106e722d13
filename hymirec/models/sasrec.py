"""SASRec: self-attentive sequential recommendation, trained with full-softmax cross-entropy.

Reference: Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018; the full
cross-entropy loss over all items follows Klenitskiy & Vasilev, "Turning Dross Into Gold Loss: is
BERT4Rec really better than SASRec?", RecSys 2023 (NDCG@10 0.182 on MovieLens-1M).

Token 0 is padding; item_idx i is token i + 1. Sequences are left-padded, so the last position holds
the most recent item and its hidden state is the user vector. The output layer is the (tied) item
embedding table, so logits are dot products between hidden states and item embeddings.

``CausalSequenceModel`` holds what SASRec shares with HyMiRec's coarse model (models/coarse.py):
the causal transformer over left-padded tokens, the next-item loss and full-catalog scoring. A
subclass only says how a token becomes an input vector and what the item output vectors are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hymirec.config import SASRecConfig, SequenceModelConfig
from hymirec.models.base import evaluating, left_pad, trimmed_tokens
from hymirec.models.dropout import Dropout, dropout_mask, fast_dropout
from hymirec.models.item_tower import ItemTower
from hymirec.training.losses import next_item_cross_entropy

# Attention-matrix entries (rows × L²) one forward pass holds at once. Its mask and scores are [B 1 L L]:
# a validation chunk of 1,024 whole ML-1M histories (L = 2,314) would need 22 GB for one of them. Longer
# batches run in parts of rows that fit at their own length (256 MB of float scores a part,
# ``_forward_in_parts``); at L ≤ 200 no batch of up to 1,677 rows is split.
ATTENTION_ENTRIES = 2**26
# Training attention with dropout over more queries than this runs in blocks of queries, each block against
# the keys up to its last query only: a causal mask blocks every later key, so the full [L × L] scores spent
# half their matmuls, masking, softmax and dropout on entries that come out zero. Measured on whole training
# steps of the long-history coarse model (batches of 8 histories, 1 thread, the machine's trainings paused,
# three alternating repeats): 8 × 2,311 4.2–5.0 s in one block, 2.8–3.0 s in blocks of 256; 8 × 936
# 0.80–0.88 s, 0.72–0.73 s; at 8 × 557 and below no difference. Below 256 queries nothing changes.
QUERY_BLOCK = 256


class CausalSelfAttentionBlock(nn.Module):
    """Pre-norm transformer block: causal multi-head attention then a position-wise feed-forward."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attention_norm = nn.LayerNorm(hidden_size)
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.ffn_norm = nn.LayerNorm(hidden_size)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, hidden_size), nn.GELU(), Dropout(dropout), nn.Linear(hidden_size, hidden_size)
        )
        self.dropout = Dropout(dropout)
        self.attention_dropout = dropout

    def forward(self, hidden: torch.Tensor, allowed: torch.Tensor, last: int | None = None) -> torch.Tensor:
        """[B L D] -> [B L D]; with ``last``, only the last ``last`` positions are computed: [B last D].

        Keys and values still come from every position; the queries, the output projection and the
        feed-forward run on the kept positions only (what scoring and the coarse tokens read).
        """
        batch, length, width = hidden.shape  # [B L D]
        normed = self.attention_norm(hidden)
        keep = length if last is None else last
        if keep < length:
            key, value = F.linear(normed, self.qkv.weight[width:], self.qkv.bias[width:]).chunk(2, dim=-1)
            query = F.linear(normed[:, -keep:], self.qkv.weight[:width], self.qkv.bias[:width])
            hidden, allowed = hidden[:, -keep:], allowed[..., -keep:, :]
        else:
            query, key, value = self.qkv(normed).chunk(3, dim=-1)
        heads = lambda x: x.view(batch, -1, self.num_heads, width // self.num_heads).transpose(1, 2)  # noqa: E731
        attended = self._attend(heads(query), heads(key), heads(value), allowed)  # [B H keep D/H]
        hidden = hidden + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, keep, width)))
        return hidden + self.dropout(self.ffn(self.ffn_norm(hidden)))

    def _attend(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """softmax(q kᵀ / √d, over the allowed keys) v. Training with attention dropout computes it step by
        step, to drop attention weights with the fast CPU mask (``models.dropout``) — what torch's fused
        attention does with its own (slow on a CPU) mask; otherwise the fused kernel."""
        if not (self.training and self.attention_dropout > 0.0):
            return F.scaled_dot_product_attention(query, key, value, attn_mask=allowed)
        if query.device.type != "cpu" or query.shape[-2] <= QUERY_BLOCK:
            return fast_dropout(_attention_weights(query, key, allowed), self.attention_dropout, training=True) @ value
        return _causal_blocks_with_dropout(query, key, value, allowed, self.attention_dropout)


def _attention_weights(query: torch.Tensor, key: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    scores = (query @ key.transpose(-2, -1)) * query.shape[-1] ** -0.5
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def _causal_blocks_with_dropout(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, allowed: torch.Tensor, p: float) -> torch.Tensor:
    """Dropped-out causal attention in blocks of ``QUERY_BLOCK`` queries, each against the keys up to its
    last query (the queries are the last ones of the keys' positions: ``forward``'s ``last``).

    The dropout mask is drawn whole, as the one-block path draws it, and sliced: the same seed drops
    the same weights, so both paths train the same model (equal to float rounding: a shorter softmax
    row sums in another order).
    """
    queries, keys = query.shape[-2], key.shape[-2]
    mask = dropout_mask(torch.Size((*query.shape[:-1], keys)), p)
    blocks = []
    for start in range(0, queries, QUERY_BLOCK):
        end = min(start + QUERY_BLOCK, queries)
        seen = keys - queries + end  # the keys up to this block's last query; later ones are masked anyway
        weights = _attention_weights(query[..., start:end, :], key[..., :seen, :], allowed[..., start:end, :seen])
        blocks.append((weights * mask[..., start:end, :seen]) @ value[..., :seen, :])
    return torch.cat(blocks, dim=-2)


@dataclass(frozen=True)
class SASRecBatch:
    inputs: torch.Tensor  # [B L] tokens, left-padded
    labels: torch.Tensor  # [B L] next item_idx at each position, -100 where there is none

    @property
    def loss_terms(self) -> int:
        """How many terms the models' mean loss averages: the labelled positions (weights shards under torchrun)."""
        return int((self.labels >= 0).sum())


class CausalSequenceModel(nn.Module):
    """Causal transformer over left-padded item tokens, trained on the next item at every position.

    Subclasses create their input layers, then call ``_build_encoder`` (parameter creation order is
    part of what a seed reproduces), and implement ``embed_tokens`` and ``item_vectors``.
    """

    config: SequenceModelConfig

    def _build_encoder(self, config: SequenceModelConfig) -> None:
        self.position_embedding = nn.Embedding(config.max_length, config.hidden_size)  # N(0, 1): position_init unit
        if config.position_init == "item_scale":
            # at the item tables' scale (std d^-1/2): the items enter scaled by √d, so they start 8× above the
            # positions instead of drowned in position noise, and the model leaves the popularity plateau in
            # its first epoch (docs/speed.md, "popularity plateau")
            nn.init.normal_(self.position_embedding.weight, std=config.hidden_size**-0.5)
        self.embedding_dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            CausalSelfAttentionBlock(config.hidden_size, config.num_heads, config.dropout) for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.hidden_size)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Input vectors [B L D] of tokens [B L]."""
        raise NotImplementedError

    def item_vectors(self) -> torch.Tensor:
        """Output vectors [I D] of every catalog item: logits are dot products with hidden states."""
        raise NotImplementedError

    def forward(self, tokens: torch.Tensor, last: int | None = None) -> torch.Tensor:
        """Hidden states [B L D] for left-padded tokens [B L] (L ≤ max_length); column L-1 is the most recent item.

        Positions (``position_ids``) count real items only, so a batch trimmed to its longest sequence gives
        the same states as one padded to max_length. With
        ``last``, only the states of the last ``last`` positions are returned [B last D], and the final
        block computes nothing else: scoring reads one position, the coarse tokens M.
        """
        length = tokens.shape[1]
        if tokens.shape[0] > max(1, ATTENTION_ENTRIES // length**2):
            return self._forward_in_parts(tokens, last)
        is_item = tokens > 0
        hidden = self.embedding_dropout(self.embed_tokens(tokens) + self.position_embedding(self.position_ids(is_item)))
        causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
        # a position sees earlier items only; padding positions see themselves so no row is empty
        allowed = (causal & is_item[:, None, :]) | torch.eye(length, dtype=torch.bool, device=tokens.device)
        allowed = allowed[:, None, :, :]  # [B 1 L L]
        for index, block in enumerate(self.blocks):
            final = index == len(self.blocks) - 1
            kept = last if final and last is not None else length
            hidden = block(hidden, allowed, kept) * is_item[:, -kept:, None]
        return self.final_norm(hidden)

    def _forward_in_parts(self, tokens: torch.Tensor, last: int | None) -> torch.Tensor:
        """``forward`` of a batch past the attention budget, in parts of rows that fit it at their own length.

        Each row's states depend on that row only, and a left-padded row's items are its last columns: the
        rows go longest first into parts that fit ``ATTENTION_ENTRIES`` at the part's longest row, each part
        trimmed to it. Scoring 1,024 long-history users (histories up to 2,314 items) padded to the longest
        in one width took 126 s, in parts 10.9 s (a machine shared with four trainings). A padding position's
        state is the final norm of a zero vector, in a part and in the whole batch alike.
        """
        items = (tokens > 0).sum(dim=1)
        order = torch.argsort(items, descending=True, stable=True)
        width = tokens.shape[1] if last is None else min(last, tokens.shape[1])
        padding_state = self.final_norm(tokens.new_zeros(self.final_norm.normalized_shape, dtype=torch.float32))
        parts, start = [], 0
        while start < len(order):
            longest = max(1, int(items[order[start]]))
            members = order[start : start + max(1, ATTENTION_ENTRIES // longest**2)]
            states = self(tokens[members, -longest:], last)
            parts.append(torch.cat([padding_state.expand(len(members), width - states.shape[1], -1), states], dim=1))
            start += len(members)
        return torch.cat(parts)[torch.argsort(order)]

    def position_ids(self, is_item: torch.Tensor) -> torch.Tensor:
        """Learned-position index of each column [L] (or [B L]) of a left-padded batch ``is_item`` [B L]:
        counted back from the newest item, which always stands at max_length - 1."""
        length = is_item.shape[1]
        return torch.arange(self.config.max_length - length, self.config.max_length, device=is_item.device)

    def loss(self, batch: SASRecBatch) -> torch.Tensor:
        """Mean cross-entropy of the next item over all items, at every position that has one."""
        return next_item_cross_entropy(self(batch.inputs), batch.labels, self.item_vectors())

    @torch.no_grad()
    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        """Dot product of the last hidden state with every item vector: [B I]."""
        with evaluating(self):
            scores = self(trimmed_tokens(histories, self.config.max_length), last=1)[:, 0] @ self.item_vectors().T
        return scores.numpy()


class SASRec(CausalSequenceModel):
    def __init__(self, config: SASRecConfig, num_items: int) -> None:
        super().__init__()
        self.config = config
        self.num_items = num_items
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden_size, padding_idx=0)
        self._build_encoder(config)
        nn.init.normal_(self.item_embedding.weight, std=config.hidden_size**-0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.item_embedding(tokens) * self.config.hidden_size**0.5

    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight[1:]  # [I D]


class SASRecText(CausalSequenceModel):
    """SASRec whose item table is an ``ItemTower``: a learned id vector plus the projected text vector.

    Input and output share the table, as in SASRec. The baseline that tells how much of HyMiRec's
    result is the item text and how much the method (report row ``sasrec_text``).
    """

    def __init__(self, config: SASRecConfig, num_items: int, embedding_dim: int) -> None:
        super().__init__()
        self.config = config
        self.num_items = num_items
        self.item_tower = ItemTower(num_items, embedding_dim, config.hidden_size, with_ids=True)
        self._build_encoder(config)

    @classmethod
    def from_embeddings(cls, config: SASRecConfig, item_embeddings: np.ndarray) -> SASRecText:
        model = cls(config, len(item_embeddings), item_embeddings.shape[1])
        model.item_tower.set_text_vectors(item_embeddings)
        return model

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.pad(self.item_tower(), (0, 0, 1, 0))[tokens] * self.config.hidden_size**0.5

    def item_vectors(self) -> torch.Tensor:
        return self.item_tower()


def training_batch(sequences: list[np.ndarray], max_length: int) -> SASRecBatch:
    """Inputs are each sequence without its last item; labels are the sequence shifted by one.

    The batch is as wide as its longest input (at most ``max_length``): no column of padding only.
    """
    width = min(max_length, max(len(sequence) - 1 for sequence in sequences))
    inputs = left_pad([sequence[:-1] for sequence in sequences], width)
    labels = left_pad([sequence[1:] for sequence in sequences], width, shift=0)
    labels[inputs == 0] = -100
    return SASRecBatch(inputs=inputs, labels=labels)
