"""Stage ``raw_logs``: load the configured interaction log, validate it, append the inbox's new files, store it in one schema."""

from __future__ import annotations

import logging

import pandas as pd

from data_checks.inbox import check_inbox_file
from data_checks.raw_logs import validate_raw_logs
from data_checks.validate_files import read_user_files
from hymirec.config import DataConfig, DataSource, HyMiRecConfig
from hymirec.data import raw_log_sources
from hymirec.data.files import coerce_types
from hymirec.data.inbox import ingest_inbox
from hymirec.data.movielens import load_movielens
from hymirec.data.schema import ITEM_ID, TIMESTAMP, USER_ID, RawLogs
from hymirec.io import atomic_directory, write_json, write_parquet
from hymirec.paths import Layout

logger = logging.getLogger(__name__)


def load_source(config: DataConfig) -> RawLogs:
    """The configured logs as they are; an unreadable user file fails rule ``file_is_readable``."""
    if config.source is DataSource.FILES:
        return RawLogs(*read_user_files(config.interactions_path, config.items_path))
    return load_movielens(config.source.value)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    # load the source as it is
    raw = load_source(config.data)
    interactions_source, items_source = raw_log_sources(config.data)

    # validate at the boundary: a failure raises before anything is written
    validate_raw_logs(
        raw,
        interactions_source=interactions_source,
        items_source=items_source,
        timestamp_min=config.data.timestamp_min,
        timestamp_max=config.data.timestamp_max,
        docs_dir=layout.data_docs_dir,
    )
    raw = coerce_types(raw)

    # new files in data.inbox, each checked alone: good ones appended after the source, bad ones moved to rejected/
    inbox = ingest_inbox(config.data, raw, layout.root, layout.raw_dir, check_inbox_file)
    interactions = pd.concat([raw.interactions, *inbox.events], ignore_index=True)

    # write data/raw atomically (the inbox's files and manifest with it), then the stage metrics
    with atomic_directory(layout.raw_dir) as staging:
        write_parquet(interactions, staging / layout.raw_interactions.name)
        write_parquet(raw.items, staging / layout.raw_items.name)
        inbox.write(staging, previous=layout.raw_dir)
    metrics = {
        "rows": len(interactions),
        "users": int(interactions[USER_ID].nunique()),
        "items": int(interactions[ITEM_ID].nunique()),
        "catalog_items": len(raw.items),
        "timestamp_min": int(interactions[TIMESTAMP].min()),
        "timestamp_max": int(interactions[TIMESTAMP].max()),
        "inbox_files": len(inbox.accepted),
        "inbox_rows": sum(len(events) for events in inbox.events),
    }
    write_json(metrics, layout.stage_metrics("raw_logs"))
    logger.info("raw_logs: %s", metrics)
