"""Item vectors from frozen language-model embeddings: a learned projection plus an optional id vector.

The text part carries what the item *is* (so cold items still get a sensible vector); the id part
carries what users *did* with it, the collaborative signal that dominates on MovieLens. Both HyMiRec
models score items with this tower.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ItemTower(nn.Module):
    def __init__(self, num_items: int, embedding_dim: int, output_dim: int, with_ids: bool) -> None:
        super().__init__()
        self.register_buffer("text_vectors", torch.zeros(num_items, embedding_dim))  # [I E] exact embeddings
        self.projection = nn.Linear(embedding_dim, output_dim)
        self.id_embedding = nn.Embedding(num_items, output_dim) if with_ids else None
        if self.id_embedding is not None:
            nn.init.normal_(self.id_embedding.weight, std=output_dim**-0.5)

    def set_text_vectors(self, embeddings: np.ndarray) -> None:
        self.text_vectors.copy_(torch.from_numpy(np.asarray(embeddings, dtype=np.float32)))

    def forward(self) -> torch.Tensor:
        """[I D] vector of every catalog item."""
        vectors = self.projection(self.text_vectors)
        if self.id_embedding is not None:
            vectors = vectors + self.id_embedding.weight
        return vectors
