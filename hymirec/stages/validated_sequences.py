"""Stage ``validated_sequences``: order, deduplicate, filter, index and split; validate; store."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from data_checks.sequences import validate_sequences
from hymirec.config import HyMiRecConfig
from hymirec.data.schema import RawLogs
from hymirec.io import atomic_directory, write_json, write_parquet
from hymirec.paths import Layout
from hymirec.sequences import ITEMS, build_sequences

logger = logging.getLogger(__name__)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    # raw logs in the common schema
    raw = RawLogs(interactions=pd.read_parquet(layout.raw_interactions), items=pd.read_parquet(layout.raw_items))

    # sequences and the leave-one-out split
    data = build_sequences(raw, config.sequences)

    # validate before anything is written
    validate_sequences(
        data.sequences,
        num_items=data.num_items,
        min_user_interactions=config.sequences.min_user_interactions,
        source=str(layout.sequences),
        docs_dir=layout.data_docs_dir,
    )

    # write data/sequences atomically, then the stage metrics
    with atomic_directory(layout.sequences_dir) as staging:
        write_parquet(data.sequences, staging / layout.sequences.name)
        write_parquet(data.items, staging / layout.item_map.name)
        write_parquet(data.users, staging / layout.user_map.name)
    lengths = data.sequences[ITEMS].map(len).to_numpy()
    metrics = {
        **data.stats,
        "sequence_length": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "mean": float(lengths.mean()),
            "max": int(lengths.max()),
        },
    }
    write_json(metrics, layout.stage_metrics("validated_sequences"))
    logger.info("validated_sequences: %s", metrics)
