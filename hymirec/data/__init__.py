"""Loaders for supported data sets, all returning ``RawLogs`` in one schema.

Stage ``raw_logs`` reads every source with DuckDB (``hymirec.data.streaming``: bundled data sets staged by
``stage_movielens``, user files as written, after ``data_checks.validate_files.check_user_files`` turned an
unreadable one into a named rule failure). ``load_movielens`` loads a bundled data set into pandas whole.
"""

from __future__ import annotations

from hymirec.config import DataConfig, DataSource
from hymirec.data.movielens import bundled_files


def raw_log_sources(config: DataConfig) -> tuple[str, str]:
    """Human names (paths) of the interactions and items files, for validation messages."""
    if config.source is DataSource.FILES:
        return str(config.interactions_path), str(config.items_path)
    interactions, items = bundled_files(config.source.value)
    return str(interactions), str(items)
