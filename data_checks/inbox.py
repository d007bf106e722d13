"""Whether one file dropped into ``data.inbox`` may join the log: the rules ``hymirec.data.inbox`` lists, checked.

``hymirec.data.inbox.ingest_inbox`` stores, carries over and rejects files; ``check_inbox_file`` decides.
Stage ``raw_logs`` passes it in, so ``hymirec.data`` never imports ``data_checks`` (which imports
``hymirec.data``'s schema and readers).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_checks.errors import MAX_SAMPLE_ROWS, DataValidationError, RuleFailure
from data_checks.raw_logs import INTERACTION_IS_UNIQUE, RawLogRules, check_logs
from data_checks.runner import sample_row, text_source_numbering
from data_checks.validate_files import read_user_files
from hymirec.config import DataConfig
from hymirec.data.files import coerce_types
from hymirec.data.inbox import EventLog, RejectedFile
from hymirec.data.schema import INTERACTION_COLUMNS, RawLogs


def check_inbox_file(path: Path, items: pd.DataFrame, log: EventLog, config: DataConfig) -> pd.DataFrame:
    """The file's events in schema types, or ``RejectedFile`` whose message names the broken rules and rows.

    ``items`` is the validated source's item catalog, ``log`` every event accepted so far."""
    try:
        return _checked_events(path, items, log, config)
    except DataValidationError as error:
        raise RejectedFile(error.message) from error


def _checked_events(path: Path, items: pd.DataFrame, log: EventLog, config: DataConfig) -> pd.DataFrame:
    interactions, _ = read_user_files(path, None)
    check_logs(interactions, items, str(path), "the item catalog of data.source", RawLogRules.of(config, min_user_interactions=1))
    events = coerce_types(RawLogs(interactions, items)).interactions
    _check_new(events, interactions, log, str(path))
    return events


def _check_new(events: pd.DataFrame, display: pd.DataFrame, log: EventLog, source: str) -> None:
    """Rule ``interaction_is_unique`` across files: no event of this file is already in the log."""
    known = log.known(events)
    if not len(known):
        return
    numbering = text_source_numbering(source)
    raise DataValidationError(
        [
            RuleFailure(
                file=source,
                rule=INTERACTION_IS_UNIQUE,
                detail=f"{len(known)} of {len(events)} events already in the log (the data set or an earlier inbox file)",
                sample_rows=tuple(sample_row(display, int(i), list(INTERACTION_COLUMNS), numbering) for i in known[:MAX_SAMPLE_ROWS]),
                row_numbering=numbering,
                unexpected_count=len(known),
            )
        ]
    )
