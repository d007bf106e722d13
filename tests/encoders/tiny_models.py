"""Tiny decoder checkpoints built from a config (no download): a word-level tokenizer with an EOS token
and a 2-layer Llama or Qwen2 model with unequal sizes (hidden 32, ffn 37, 4 heads, 2 KV heads)."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaModel, PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

WORDS = "the a star wars toy story matrix alien comedy drama action sci-fi horror genres ( ) . , 1977 1995 1999 1979".split()
ARCHITECTURES = {"llama": (LlamaConfig, LlamaModel), "qwen2": (Qwen2Config, Qwen2Model)}


def build_tiny_decoder(directory: Path, architecture: str) -> Path:
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{word: index + 3 for index, word in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    config_class, model_class = ARCHITECTURES[architecture]
    config = config_class(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, eos_token_id=1, pad_token_id=0,
    )
    torch.manual_seed(0)
    model_class(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
