"""The one schema every data source is loaded into (stage ``raw_logs`` output).

interactions: user_id (str), item_id (str), timestamp (int64 Unix seconds) — in the source file's
row order, which later breaks timestamp ties.
items: item_id (str, unique), title (str), and optional text columns (str) such as year and genres.
Timestamps stay exact integers: float32 storage would bucket them and change which event is last.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
TITLE = "title"
GENRES = "genres"
INTERACTION_COLUMNS: tuple[str, ...] = (USER_ID, ITEM_ID, TIMESTAMP)
GENRE_SEPARATOR = "|"


@dataclass(frozen=True)
class RawLogs:
    """Interactions and item metadata of one data set, in the common schema."""

    interactions: pd.DataFrame
    items: pd.DataFrame

    @property
    def text_columns(self) -> list[str]:
        return [column for column in self.items.columns if column != ITEM_ID]
