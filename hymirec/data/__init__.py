"""Loaders for supported data sets, all returning ``RawLogs`` in one schema.

Bundled data sets load with ``load_movielens``; user files are read by stage ``raw_logs`` through
``data_checks.validate_files.read_user_files``, which turns an unreadable file into a named rule
failure instead of a parser traceback.
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
