"""Stage ``validated_sequences``: order, deduplicate, filter, index and split with DuckDB (hymirec.data.streaming);
validate batch by batch; store. No step holds the events in pandas whole."""

from __future__ import annotations

import logging

from data_checks.sequences import check_sequences
from data_checks.tables import SequenceEngineTable
from hymirec.config import HyMiRecConfig
from hymirec.data.streaming import connect, write_sequences
from hymirec.io import atomic_directory, write_json
from hymirec.paths import Layout
from hymirec.stages.raw_logs import engine_settings

logger = logging.getLogger(__name__)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    settings = engine_settings()
    # sequences and id maps from the raw logs, written atomically: kept only if the suite passes
    with atomic_directory(layout.sequences_dir) as staging:
        metrics = write_sequences([layout.raw_interactions], layout.raw_items, staging, config.sequences.min_user_interactions, settings)

        # validate before the new outputs replace the old ones, a batch of users at a time read by DuckDB
        with connect(settings) as (connection, _):
            check_sequences(
                SequenceEngineTable(connection, staging / layout.sequences.name),
                num_items=metrics["items"],
                min_user_interactions=config.sequences.min_user_interactions,
                source=str(layout.sequences),
                docs_dir=layout.data_docs_dir,
            )
    write_json(metrics, layout.stage_metrics("validated_sequences"))
    logger.info("validated_sequences: %s", metrics)
