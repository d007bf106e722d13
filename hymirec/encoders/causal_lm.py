"""Any local decoder-only LM as an item encoder: append EOS to the text, take that token's last hidden state.

Reference: the last-token pooling of decoder embedders (e.g. Neelakantan et al., "Text and Code
Embeddings by Contrastive Pre-Training", 2022). The checkpoint is a local transformers folder
(``item_embeddings.model_path``); sequences are right-padded, so with a causal mask the EOS
position sees only its own text and positions 0…n-1 are those of an unpadded run.
"""

from __future__ import annotations

import torch
from transformers import AutoModel, AutoTokenizer

from hymirec.config import ItemEmbeddingsConfig
from hymirec.encoders.base import DTYPES, TextEncoder


class CausalLMEncoder(TextEncoder):
    lora_target_modules = ("q_proj", "v_proj")

    def __init__(self, model, tokenizer, config: ItemEmbeddingsConfig) -> None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"{config.model_path}: the tokenizer has no EOS token to append")
        super().__init__(model, tokenizer, config)

    @classmethod
    def from_config(cls, config: ItemEmbeddingsConfig) -> CausalLMEncoder:
        tokenizer = AutoTokenizer.from_pretrained(config.model_path, local_files_only=True)
        model = AutoModel.from_pretrained(config.model_path, local_files_only=True, dtype=DTYPES[config.precision])
        return cls(model, tokenizer, config)

    def embed(self, texts: list[str]) -> torch.Tensor:
        budget = self.config.max_length - 1  # room for EOS
        ids = [
            tokens[:budget] + [self.tokenizer.eos_token_id]
            for tokens in self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        ]
        lengths = torch.tensor([len(tokens) for tokens in ids])  # [B]
        width = int(lengths.max())
        input_ids = torch.zeros(len(ids), width, dtype=torch.long)  # right-padded; pad id never attended
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = torch.tensor(tokens)
        attention_mask = (torch.arange(width) < lengths[:, None]).long()  # [B T]
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B T D]
        return hidden[torch.arange(len(ids)), lengths - 1]  # [B D] at each EOS
