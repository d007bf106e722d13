"""HyMiRec's coarse model: a light causal transformer over the user's *long* history.

DESIGN.md §2. The history arrives as codebook reconstructions (a few bytes per item in storage, here
decoded to vectors) plus learned positions and, with ``coarse.item_id_inputs``, the item's learned id
vector (tied to the output's): ids cost nothing to look up, while the LM vector is what the codebook
saves fetching; the model is trained like SASRec, on the next item at
every position with full-softmax cross-entropy, against item vectors from the ``ItemTower``. The LLM
model reads M coarse interest tokens pooled from its hidden states (``llm.coarse_tokens``: the mean
state of each of M time chunks of the history, or the last M states, which a causal model makes near
copies of one another). ``PrefixStates`` serves a frozen ``from_oldest`` model's states of every prefix
of the training sequences from one pass per sequence.

Trained on exact instead of reconstructed input vectors (``train_exact_twin``), the same model gives the
``hymirec_exact_history`` ablation and the recommendation cost of compression (ΔNDCG).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hymirec.config import CoarseConfig
from hymirec.models.base import evaluating, pool_context, trimmed_tokens
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

    def position_ids(self, is_item: torch.Tensor) -> torch.Tensor:
        """Counted back from the newest item (SASRec's way), or with ``coarse.positions: from_oldest`` up from
        the oldest item read [B L], which makes a history's states the first states of any longer one."""
        if self.config.positions == "from_newest":
            return super().position_ids(is_item)
        return (torch.cumsum(is_item.long(), dim=1) - 1).clamp(min=0)

    @property
    def token_size(self) -> int:
        return self.config.hidden_size

    def context_tokens(self, histories: list[np.ndarray], pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
        """M tokens [B M H] pooled from the hidden states over the last ``max_length`` items (``pool_context``),
        and which of them stand on real items [B M].

        With gradients where the weights take them (``llm.train_context``); a frozen model builds no graph.
        Positions count real items, so trimming the batch to its longest history changes no state.
        """
        tokens = trimmed_tokens(histories, self.config.max_length)
        last = self.config.num_tokens if pooling == "last" else None  # the final block computes only what is read
        states = self(tokens, last=last)
        return pool_context(states, tokens[:, -states.shape[1] :] > 0, self.config.num_tokens, pooling)


class PrefixStates:
    """A frozen ``from_oldest`` coarse model's states over whole sequences, read back for any of their prefixes.

    With positions counted from the oldest item and a causal mask, the states of a history are the first
    states of every longer history that starts with it: one pass per training sequence gives the context
    tokens of all its training windows, instead of one pass per window (20 windows a user and epoch in the
    long-history protocol). Sequences longer than ``max_length`` are left out (the model reads their last
    ``max_length`` items, so a prefix's states are not theirs); a prefix of none of them gets ``None``.
    """

    HEAD = 8  # prefixes are found by their first items (a shorter prefix: all of them), then compared whole

    def __init__(self, model: CoarseModel, sequences: list[np.ndarray], batch_size: int = 64) -> None:
        if model.config.positions != "from_oldest":
            raise ValueError("prefix states need coarse.positions: from_oldest (counted from the newest item, a "
                             "history's states are not the first states of a longer one)")
        self.model = model
        fitting = sorted((np.asarray(s, dtype=np.int64) for s in sequences if 0 < len(s) <= model.config.max_length), key=len)
        self._sequences: list[np.ndarray] = []
        self._states: list[torch.Tensor] = []  # [n H] per stored sequence
        self._by_head: dict[bytes, list[int]] = {}
        with torch.no_grad(), evaluating(model):
            for start in range(0, len(fitting), batch_size):  # sorted by length: little padding per pass
                chunk = fitting[start : start + batch_size]
                tokens = trimmed_tokens(chunk, model.config.max_length)
                states = model(tokens)
                for row, sequence in enumerate(chunk):
                    self._remember(sequence, states[row, tokens.shape[1] - len(sequence) :].clone())

    def _remember(self, sequence: np.ndarray, states: torch.Tensor) -> None:
        index = len(self._sequences)
        self._sequences.append(sequence)
        self._states.append(states)
        for count in range(1, min(self.HEAD, len(sequence)) + 1):
            self._by_head.setdefault(sequence[:count].tobytes(), []).append(index)

    def states_of(self, prefix: np.ndarray) -> torch.Tensor | None:
        """The states [len(prefix) H] of ``prefix``, if it begins a stored sequence."""
        prefix = np.asarray(prefix, dtype=np.int64)
        if len(prefix) == 0:
            return torch.zeros(0, self.model.config.hidden_size)
        for index in self._by_head.get(prefix[: self.HEAD].tobytes(), ()):
            sequence = self._sequences[index]
            if len(sequence) >= len(prefix) and np.array_equal(sequence[: len(prefix)], prefix):
                return self._states[index][: len(prefix)]
        return None

    def context_tokens(self, prefixes: list[np.ndarray], pooling: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``CoarseModel.context_tokens`` of ``prefixes`` from the stored states; ``None`` if one is not stored."""
        found = [self.states_of(prefix) for prefix in prefixes]
        if any(states is None for states in found):
            return None
        width = max(1, max(len(states) for states in found))
        vectors = torch.zeros(len(found), width, self.model.config.hidden_size)
        real = torch.zeros(len(found), width, dtype=torch.bool)
        for row, states in enumerate(found):
            if len(states):
                vectors[row, width - len(states) :] = states
                real[row, width - len(states) :] = True
        return pool_context(vectors, real, self.model.config.num_tokens, pooling)
