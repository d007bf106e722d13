"""From raw events to per-user sequences and the leave-one-out split (stage ``validated_sequences``).

Rules (DESIGN.md §3), each a small function so tests can pin it:
- events are ordered by (timestamp, position in the source file): a stable order, so users who rate
  several items in the same second always get the same test item;
- a repeated (user, item) pair keeps only its first event, so a target is never already in the
  input it is predicted from (and ranking can mask the whole input history);
- users with fewer than ``min_user_interactions`` events are dropped (5-core on users). Items are not
  filtered: every item with at least one remaining event is in the catalog, however rare;
- ids become contiguous integers (users 0..U-1, items 0..I-1, both in sorted original-id order);
- leave-one-out: the last event is test, the second-to-last validation, the rest training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from hymirec.config import SequencesConfig
from hymirec.data.schema import GENRE_SEPARATOR, GENRES, ITEM_ID, TIMESTAMP, USER_ID, RawLogs
from hymirec.paths import Layout

USER_IDX = "user_idx"
ITEM_IDX = "item_idx"
ITEMS = "items"
TIMESTAMPS = "timestamps"
Split = Literal["valid", "test"]


@dataclass(frozen=True)
class SequenceData:
    """Output of ``validated_sequences``: sequences plus the id maps needed to go back to raw ids."""

    sequences: pd.DataFrame  # user_idx, user_id, items (list[int]), timestamps (list[int]); sorted by user_idx
    items: pd.DataFrame  # item_idx, item_id, title, other text columns; sorted by item_idx
    users: pd.DataFrame  # user_idx, user_id
    stats: dict[str, int]

    @property
    def num_items(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class SplitView:
    """What a model sees for one evaluation split: per-user input history and the held-out target."""

    histories: list[np.ndarray]
    targets: np.ndarray  # [U]
    user_idx: np.ndarray  # [U]
    split: Split  # which split this is; names the split in evaluation errors

    @property
    def history_lengths(self) -> np.ndarray:
        return np.array([len(history) for history in self.histories], dtype=np.int64)


def order_events(interactions: pd.DataFrame) -> pd.DataFrame:
    """Sort by user, then timestamp; ties keep the order they had in the source file."""
    ordered = interactions.assign(_source_row=np.arange(len(interactions)))
    ordered = ordered.sort_values([USER_ID, TIMESTAMP, "_source_row"])
    return ordered.drop(columns="_source_row").reset_index(drop=True)


def drop_repeated_items(ordered: pd.DataFrame) -> pd.DataFrame:
    """Keep each user's first event per item (input must already be ordered)."""
    return ordered.drop_duplicates([USER_ID, ITEM_ID], keep="first").reset_index(drop=True)


def filter_short_users(events: pd.DataFrame, min_interactions: int) -> pd.DataFrame:
    counts = events.groupby(USER_ID, sort=False)[ITEM_ID].transform("size")
    return events[counts >= min_interactions].reset_index(drop=True)


def build_sequences(raw: RawLogs, config: SequencesConfig) -> SequenceData:
    """Apply the rules above and return one row per user with integer ids."""
    ordered = order_events(raw.interactions)
    deduplicated = drop_repeated_items(ordered)
    events = filter_short_users(deduplicated, config.min_user_interactions)

    users = pd.DataFrame({USER_ID: np.sort(events[USER_ID].unique())})
    users.insert(0, USER_IDX, np.arange(len(users), dtype=np.int64))
    catalog_ids = np.sort(events[ITEM_ID].unique())
    items = raw.items.set_index(ITEM_ID).loc[catalog_ids].reset_index()
    items.insert(0, ITEM_IDX, np.arange(len(items), dtype=np.int64))

    events = events.assign(
        **{
            USER_IDX: events[USER_ID].map(pd.Series(users[USER_IDX].to_numpy(), index=users[USER_ID])),
            ITEM_IDX: events[ITEM_ID].map(pd.Series(items[ITEM_IDX].to_numpy(), index=items[ITEM_ID])),
        }
    )
    grouped = events.groupby(USER_IDX, sort=True)
    sequences = pd.DataFrame(
        {
            USER_IDX: users[USER_IDX].to_numpy(),
            USER_ID: users[USER_ID].to_numpy(),
            ITEMS: grouped[ITEM_IDX].agg(list).to_numpy(),
            TIMESTAMPS: grouped[TIMESTAMP].agg(list).to_numpy(),
        }
    )
    stats = {
        "raw_events": len(raw.interactions),
        "repeated_events_dropped": len(ordered) - len(deduplicated),
        "short_user_events_dropped": len(deduplicated) - len(events),
        "users_dropped": deduplicated[USER_ID].nunique() - len(users),
        "events": len(events),
        "users": len(users),
        "items": len(items),
    }
    return SequenceData(sequences=sequences, items=items, users=users, stats=stats)


def load_sequence_data(layout: Layout) -> SequenceData:
    """Read the ``validated_sequences`` outputs back."""
    return SequenceData(
        sequences=pd.read_parquet(layout.sequences),
        items=pd.read_parquet(layout.item_map),
        users=pd.read_parquet(layout.user_map),
        stats={},
    )


def item_categories(items: pd.DataFrame) -> np.ndarray | None:
    """Genre multi-hot matrix [I, C] (rows in the table's order, genres sorted) for diversity metrics, or None
    when no item names a genre. An empty genre list is no genre, not a genre named "": counted as one, every
    genre-less item would share it and look alike to the diversity metrics."""
    if GENRES not in items.columns:
        return None
    genres = items[GENRES].reset_index(drop=True).fillna("").str.split(GENRE_SEPARATOR).explode()
    genres = genres[genres != ""]
    if genres.empty:
        return None
    present = pd.crosstab(genres.index, genres.to_numpy()).reindex(range(len(items)), fill_value=0)
    return present.to_numpy() > 0


def training_sequences(sequences: pd.DataFrame) -> list[np.ndarray]:
    """Each user's training part: every event except the validation and test ones."""
    return [np.asarray(items[:-2], dtype=np.int64) for items in sequences[ITEMS]]


def split_view(sequences: pd.DataFrame, split: Split) -> SplitView:
    """Inputs and targets for leave-one-out evaluation.

    valid: input = training part, target = second-to-last event.
    test:  input = training part + validation event, target = last event.
    """
    offset = 2 if split == "valid" else 1
    all_items = [np.asarray(items, dtype=np.int64) for items in sequences[ITEMS]]
    return SplitView(
        histories=[items[:-offset] for items in all_items],
        targets=np.array([items[-offset] for items in all_items], dtype=np.int64),
        user_idx=sequences[USER_IDX].to_numpy(dtype=np.int64),
        split=split,
    )
