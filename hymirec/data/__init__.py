"""Loaders for supported data sets, all returning ``RawLogs`` in one schema."""

from __future__ import annotations

from hymirec.config import DataConfig, DataSource
from hymirec.data.files import load_files
from hymirec.data.movielens import bundled_files, load_movielens
from hymirec.data.schema import RawLogs


def load_raw_logs(config: DataConfig) -> RawLogs:
    """Load the configured source without changing it; validation decides whether it is usable."""
    if config.source is DataSource.FILES:
        return load_files(config.interactions_path, config.items_path)
    return load_movielens(config.source.value)


def raw_log_sources(config: DataConfig) -> tuple[str, str]:
    """Human names (paths) of the interactions and items files, for validation messages."""
    if config.source is DataSource.FILES:
        return str(config.interactions_path), str(config.items_path)
    return tuple(str(path) for path in bundled_files(config.source.value))
