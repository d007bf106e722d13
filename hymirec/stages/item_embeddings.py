"""Stage ``item_embeddings``: every catalog item's text → one unit-norm vector from a pretrained LM.

Writes data/embeddings/items.npy (float32 [items, dim], row i = item_idx i), data/embeddings/items.parquet
(item_idx, item_id, the encoded text) and reports/item_embeddings.json. With
``item_embeddings.adaptation.enabled`` the encoder is first LoRA-tuned on next-item pairs of the
training split (an MLflow run records it) and frozen.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext

import pandas as pd

from hymirec.config import HyMiRecConfig
from hymirec.data.schema import GENRES, ITEM_ID
from hymirec.data.sequences import ITEM_IDX, training_sequences
from hymirec.encoders import adapt_with_lora, build_encoder, embedding_summary, next_item_pairs, render_item_texts
from hymirec.io import atomic_directory, write_json, write_npy, write_parquet
from hymirec.paths import Layout
from hymirec.training.loop import seed_everything
from hymirec.training.tracking import log_metrics, stage_run

logger = logging.getLogger(__name__)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    settings = config.item_embeddings
    items = pd.read_parquet(layout.item_map)
    seed_everything(config.seed)

    # item text from the template, and the configured encoder (local files only)
    texts = render_item_texts(items, settings)
    encoder = build_encoder(settings)

    adapting = settings.adaptation.enabled
    with stage_run(config, layout.root, "item_embeddings") if adapting else nullcontext():
        # optional: LoRA next-item adaptation on the training split, then frozen
        adaptation = None
        if adapting:
            pairs = next_item_pairs(training_sequences(pd.read_parquet(layout.sequences)), settings.adaptation.max_pairs, config.seed)
            adaptation = adapt_with_lora(encoder, texts, pairs, settings.adaptation, seed=config.seed)

        # encode every catalog item, in item_idx order
        started = time.perf_counter()
        embeddings = encoder.encode(texts)
        seconds = time.perf_counter() - started

        # write data/embeddings atomically, then the stage metrics
        with atomic_directory(layout.embeddings_dir) as staging:
            write_npy(embeddings, staging / layout.item_embeddings.name)
            write_parquet(items[[ITEM_IDX, ITEM_ID]].assign(text=texts), staging / layout.embedding_items.name)
        metrics = {
            "items": int(embeddings.shape[0]),
            "dim": int(embeddings.shape[1]),
            "encoder": settings.encoder.value,
            "encode_seconds": round(seconds, 2),
            "items_per_second": round(len(texts) / max(seconds, 1e-9), 1),
            **embedding_summary(embeddings, items.get(GENRES)),
        }
        if adaptation is not None:
            metrics["adaptation"] = {
                "pairs": adaptation.pairs,
                "trainable_parameters": adaptation.trainable_parameters,
                "loss_first_epoch": adaptation.epoch_losses[0],
                "loss_last_epoch": adaptation.epoch_losses[-1],
            }
            log_metrics({key: value for key, value in metrics.items() if isinstance(value, (int, float))})
        write_json(metrics, layout.stage_metrics("item_embeddings"))
    logger.info("item_embeddings: %s", metrics)
