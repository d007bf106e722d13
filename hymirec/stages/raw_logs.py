"""Stage ``raw_logs``: read the configured interaction log with DuckDB, validate it batch by batch, append the
inbox's new files, store it in one schema. No step holds the events in pandas whole (hymirec.data.streaming)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from data_checks.inbox import check_inbox_file
from data_checks.raw_logs import RawLogRules, check_table
from data_checks.tables import EngineTable
from data_checks.validate_files import check_user_files
from hymirec.config import DataConfig, DataSource, HyMiRecConfig
from hymirec.data import raw_log_sources
from hymirec.data.files import read_table
from hymirec.data.inbox import EventLog, ingest_inbox
from hymirec.data.movielens import bundled_files, genre_column
from hymirec.data.streaming import SOURCE_ROW, EngineSettings, as_written, connect, source_events, stage_movielens, write_raw_logs
from hymirec.io import atomic_directory, write_json
from hymirec.paths import Layout

logger = logging.getLogger(__name__)


def engine_settings() -> EngineSettings:
    """DuckDB on as many threads as the stage's torch (``HYMIREC_THREADS``, default one per CPU it may use)."""
    return EngineSettings(threads=int(os.environ.get("HYMIREC_THREADS") or len(os.sched_getaffinity(0))))


def source_files(config: DataConfig, connection, staging: Path) -> tuple[Path, Path]:
    """The (interactions, items) files to read: a user's files as they are (one that cannot be read fails
    rule ``file_is_readable``), a bundled data set staged as Parquet in the common schema."""
    if config.source is DataSource.FILES:
        check_user_files(config.interactions_path, config.items_path)
        return Path(config.interactions_path), Path(config.items_path)
    interactions, items = bundled_files(config.source.value)
    return stage_movielens(connection, interactions, items, genre_column(config.source.value), staging)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    settings = engine_settings()
    interactions_source, items_source = raw_log_sources(config.data)
    with connect(settings) as (connection, staging):
        # the source as DuckDB reads it; the item catalog is the one table held in pandas
        interactions_file, items_file = source_files(config.data, connection, staging)
        items = read_table(items_file)

        # validate at the boundary, a batch of rows at a time: a failure raises before anything is written
        check_table(
            EngineTable(connection, as_written(connection, interactions_file, staging), SOURCE_ROW),
            items, interactions_source, items_source, RawLogRules.of(config.data), docs_dir=layout.data_docs_dir,
        )

        # new files in data.inbox, each checked alone against the log: good ones appended after the source, bad ones moved to rejected/
        log = EventLog(connection, source_events(connection, [interactions_file], staging))
        inbox = ingest_inbox(config.data, items.astype(str), log, layout.root, layout.raw_dir, check_inbox_file)

        # write data/raw atomically (the inbox's files and manifest with it), then the stage metrics
        with atomic_directory(layout.raw_dir) as out:
            inbox.write(out, previous=layout.raw_dir)
            events = [interactions_file, *(out / file.events_name for file in inbox.accepted)]
            metrics = write_raw_logs(events, items_file, out, settings)
    metrics |= {"inbox_files": len(inbox.accepted), "inbox_rows": sum(len(events) for events in inbox.events)}
    write_json(metrics, layout.stage_metrics("raw_logs"))
    logger.info("raw_logs: %s", metrics)
