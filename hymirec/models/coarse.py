"""HyMiRec's coarse model: a light causal transformer over the user's *long* history.

DESIGN.md §2. The history arrives as codebook reconstructions (a few bytes per item in storage, here
decoded to vectors) plus learned positions and, with ``coarse.item_id_inputs``, the item's learned id
vector (tied to the output's): ids cost nothing to look up, while the LM vector is what the codebook
saves fetching; the model is trained like SASRec, on the next item at
every position with full-softmax cross-entropy, against item vectors from the ``ItemTower``. Its last
M hidden states are the M coarse interest tokens the LLM model reads: with a causal mask, the state at
position t summarises the history up to t, so the last states are a summary of the whole long history
at no extra cost (the alternative, M learned pooling queries, needs a loss of its own).

Trained on exact instead of reconstructed input vectors (``train_exact_twin``), the same model gives the
``hymirec_exact_history`` ablation and the recommendation cost of compression (ΔNDCG).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hymirec.config import CoarseConfig
from hymirec.models.base import pool_context, trimmed_tokens
from hymirec.models.item_tower import ItemTower
from hymirec.models.sasrec import CausalSequenceModel


class CoarseModel(CausalSequenceModel):
    def __init__(self, config: CoarseConfig, num_items: int, embedding_dim: int) -> None:
        super().__init__()
        self.config = config
        self.num_items = num_items
        # row 0 is padding; row i + 1 is item_idx i as the *history* sees it (reconstructed or exact)
        self.register_buffer("history_vectors", torch.zeros(num_items + 1, embedding_dim))
        self.input_projection = nn.Linear(embedding_dim, config.hidden_size)
        self.item_tower = ItemTower(num_items, embedding_dim, config.hidden_size, with_ids=True)
        self._build_encoder(config)

    @classmethod
    def from_embeddings(cls, config: CoarseConfig, history_vectors: np.ndarray, item_embeddings: np.ndarray) -> CoarseModel:
        """A fresh model reading ``history_vectors`` [I E] and scoring against ``item_embeddings`` [I E]."""
        model = cls(config, len(item_embeddings), item_embeddings.shape[1])
        with torch.no_grad():
            model.history_vectors[1:] = torch.from_numpy(np.asarray(history_vectors, dtype=np.float32))
        model.item_tower.set_text_vectors(item_embeddings)
        return model

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        vectors = self.input_projection(self.history_vectors[tokens])
        if self.config.item_id_inputs:  # the output's id vectors, tied; padding (token 0) gets none
            vectors = vectors + F.pad(self.item_tower.id_embedding.weight, (0, 0, 1, 0))[tokens]
        # scaled as SASRec scales its item embeddings: unscaled, the item signal is ~8× smaller than
        # the learned positions at initialisation and the model sits on the popularity plateau
        return vectors * self.config.hidden_size**0.5

    def item_vectors(self) -> torch.Tensor:
        return self.item_tower()

    @property
    def token_size(self) -> int:
        return self.config.hidden_size

    def context_tokens(self, histories: list[np.ndarray], pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
        """M tokens [B M H] pooled from the hidden states over the last ``max_length`` items (``pool_context``),
        and which of them stand on real items [B M].

        With gradients where the weights take them (``llm.train_context``); a frozen model builds no graph.
        Positions count from the right, so trimming the batch to its longest history changes no state.
        """
        tokens = trimmed_tokens(histories, self.config.max_length)
        last = self.config.num_tokens if pooling == "last" else None  # the final block computes only what is read
        states = self(tokens, last=last)
        return pool_context(states, tokens[:, -states.shape[1] :] > 0, self.config.num_tokens, pooling)
