"""What every item encoder does: texts → unit-norm float32 vectors, batched, deterministic.

Subclasses say how one batch of texts becomes vectors (``embed``, differentiable so that LoRA can
adapt it); ``encode`` batches texts of similar length together (less padding), normalises, and puts
each vector back in its text's row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from hymirec.config import ItemEmbeddingsConfig
from hymirec.data.schema import GENRE_SEPARATOR

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class TextEncoder(ABC):
    """A pretrained transformers model plus its tokenizer, in eval mode."""

    #: module names that get LoRA adapters when ``adaptation.target_modules`` is not set
    lora_target_modules: tuple[str, ...] = ()

    def __init__(self, model: nn.Module, tokenizer, config: ItemEmbeddingsConfig) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @abstractmethod
    def embed(self, texts: list[str]) -> torch.Tensor:
        """[B D] vectors (not yet normalised) for one batch of texts."""

    def encode(self, texts: list[str], *, progress: bool = True) -> np.ndarray:
        """[N D] float32, unit L2 norm per row, row i for texts[i]."""
        order = np.argsort([len(text) for text in texts], kind="stable")
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = range(0, len(texts), self.config.batch_size)
        self.model.eval()
        with torch.inference_mode():
            for start in tqdm(batches, desc="item embeddings", unit="batch", disable=None if progress else True):
                rows = order[start : start + self.config.batch_size]
                batch = self.embed([texts[row] for row in rows]).float()
                vectors[rows] = F.normalize(batch, dim=-1).numpy()
        return vectors


def embedding_summary(embeddings: np.ndarray, genres: pd.Series | None = None) -> dict[str, float]:
    """Sanity numbers for stored item vectors [N D]: norms, anisotropy and, given each item's
    '|'-separated genres, how often an item's nearest neighbour shares a genre with it."""
    norms = np.linalg.norm(embeddings, axis=1)
    total = embeddings.sum(axis=0, dtype=np.float64)
    n = len(embeddings)
    summary = {
        "norm_max_error": float(np.abs(norms - 1.0).max()),
        "mean_pairwise_cosine": float((total @ total - n) / max(n * (n - 1), 1)),
    }
    if genres is not None and n > 1:
        categories = genres.fillna("").str.get_dummies(sep=GENRE_SEPARATOR).to_numpy(dtype=bool)  # [N K]
        neighbour = np.empty(n, dtype=np.int64)
        for start in range(0, n, 4096):  # row blocks, so a large catalog never needs an [N N] matrix
            similarity = embeddings[start : start + 4096] @ embeddings.T  # [b N]
            similarity[np.arange(len(similarity)), np.arange(start, start + len(similarity))] = -np.inf
            neighbour[start : start + len(similarity)] = similarity.argmax(axis=1)
        summary["neighbour_shares_genre"] = float((categories & categories[neighbour]).any(axis=1).mean())
    return summary
