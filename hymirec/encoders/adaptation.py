"""Optional LoRA adaptation of an item encoder to next-item prediction, then frozen (DESIGN.md §2).

Pairs (item, next item) come from consecutive events of the training split only (never a validation
or test target). Both sides are encoded by the same encoder with LoRA adapters (``peft``) on its
attention projections; the loss is in-batch InfoNCE (``hymirec.training.losses.in_batch_info_nce``). After
training the adapters are merged into the weights and every parameter is frozen.

Reference: Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from tqdm import tqdm

from hymirec.config import AdaptationConfig
from hymirec.encoders.base import TextEncoder
from hymirec.training.losses import in_batch_info_nce
from hymirec.training.tracking import log_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdaptationOutput:
    pairs: int
    trainable_parameters: int
    epoch_losses: list[float]


def next_item_pairs(sequences: list[np.ndarray], max_pairs: int, seed: int) -> np.ndarray:
    """[P 2] (item, next item) from consecutive events of each sequence; at most ``max_pairs``, drawn with ``seed``."""
    pairs = np.concatenate([np.stack([items[:-1], items[1:]], axis=1) for items in sequences if len(items) > 1] or [np.zeros((0, 2), dtype=np.int64)])
    if len(pairs) > max_pairs:
        pairs = pairs[np.sort(np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False))]
    return pairs.astype(np.int64)


def adapt_with_lora(encoder: TextEncoder, texts: list[str], pairs: np.ndarray, config: AdaptationConfig, *, seed: int) -> AdaptationOutput:
    """Fine-tune ``encoder`` in place (LoRA, merged and frozen afterwards); logs the loss per epoch to the active MLflow run."""
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules or encoder.lora_target_modules),
    )
    torch.manual_seed(seed)
    model = get_peft_model(encoder.model, lora)
    encoder.model = model
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate)
    epoch_losses = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = np.random.default_rng(seed + epoch).permutation(len(pairs))
        losses = []
        for start in tqdm(range(0, len(order), config.batch_size), desc=f"adaptation epoch {epoch}", leave=False, disable=None):
            batch = pairs[order[start : start + config.batch_size]]
            if len(batch) < 2:  # a lone pair has no negatives
                continue
            queries = F.normalize(encoder.embed([texts[i] for i in batch[:, 0]]).float(), dim=-1)
            keys = F.normalize(encoder.embed([texts[i] for i in batch[:, 1]]).float(), dim=-1)
            loss = in_batch_info_nce(queries, keys, torch.from_numpy(batch[:, 1]), config.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_losses.append(float(np.mean(losses)))
        log_metrics({"adaptation_loss": epoch_losses[-1]}, step=epoch)
        logger.info("adaptation epoch %d: loss %.4f", epoch, epoch_losses[-1])
    encoder.model = model.merge_and_unload().eval().requires_grad_(False)
    return AdaptationOutput(len(pairs), sum(parameter.numel() for parameter in trainable), epoch_losses)
