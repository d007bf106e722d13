"""Item text encoders (DESIGN.md §2, "Item encoder"): text template, MiniLM, causal LM, LoRA adaptation."""

from __future__ import annotations

from hymirec.config import EncoderKind, ItemEmbeddingsConfig
from hymirec.encoders.adaptation import AdaptationOutput, adapt_with_lora, next_item_pairs
from hymirec.encoders.base import TextEncoder, embedding_summary
from hymirec.encoders.causal_lm import CausalLMEncoder
from hymirec.encoders.minilm import MiniLMEncoder, packaged_model_path
from hymirec.encoders.text import render_item_texts

ENCODERS: dict[EncoderKind, type[TextEncoder]] = {
    EncoderKind.MINILM: MiniLMEncoder,
    EncoderKind.CAUSAL_LM: CausalLMEncoder,
}


def build_encoder(config: ItemEmbeddingsConfig) -> TextEncoder:
    """The configured encoder, loaded from local files only."""
    return ENCODERS[config.encoder].from_config(config)


__all__ = [
    "AdaptationOutput",
    "CausalLMEncoder",
    "MiniLMEncoder",
    "TextEncoder",
    "adapt_with_lora",
    "build_encoder",
    "embedding_summary",
    "next_item_pairs",
    "packaged_model_path",
    "render_item_texts",
]
