"""Users by the diversity of their taste, for splitting a published run's paired differences by it.

The paper's second claim, beside the long history, is that several interests serve users of varied taste whom
one vector averages into a single blurred one. A run's average over all test users hides that claim the way
it hides the long-history one, so ``hymirec paired --taste`` splits the users into thirds by how spread their
history is over genres and gives each model's difference from HyMiRec within each third.

A user's taste diversity is the Shannon entropy (bits) of the genres of every item before the test target,
each item's weight split evenly among its genres (an item without genres weighs nothing): the whole history,
not a model's input window, so that both protocols split the same users the same way. Thirds rather than
fixed edges: entropy has no natural scale, and equal-sized groups give each the same statistical power.

The published rankings carry no taste measure (the stages that ranked the published runs predate this), so
it is read from the run's own sequences (stage ``validated_sequences``'s ``data/sequences``, rebuilt by
``dvc repro validated_sequences``), and those are checked user by user against what the run ranked: the
same users, targets and history lengths, or a clear error rather than a split of other people's data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hymirec.data.schema import ITEM_ID, USER_ID
from hymirec.data.sequences import item_categories, split_view
from hymirec.paths import Layout

# The file names inside a validated_sequences folder, as the pipeline's layout names them: ``--taste`` takes
# the folder (``data/sequences`` of a workspace), not a workspace root.
_NAMES = Layout(Path())
SEQUENCES_FILE = _NAMES.sequences.relative_to(_NAMES.sequences_dir)
ITEMS_FILE = _NAMES.item_map.relative_to(_NAMES.sequences_dir)
TERTILE_NAMES = ("narrow", "middle", "broad")


def genre_entropy(genre_weights: np.ndarray) -> float:
    """Entropy in bits of a genre weight vector [C] (0 for an empty one)."""
    total = genre_weights.sum()
    if total <= 0:
        return 0.0
    shares = genre_weights[genre_weights > 0] / total
    return float(-(shares * np.log2(shares)).sum())


def histories_before_test(sequences_dir: Path) -> pd.DataFrame:
    """Per user (index ``user_id``): ``history_length`` (items before the test target), ``target_item_id`` and
    ``taste_diversity`` (genre entropy of those items, in bits)."""
    sequences, items = _read(sequences_dir / SEQUENCES_FILE), _read(sequences_dir / ITEMS_FILE)
    categories = item_categories(items)
    if categories is None:
        raise ValueError(f"{sequences_dir / ITEMS_FILE}: items carry no genres, so taste diversity is undefined")
    per_genre = categories / np.maximum(categories.sum(axis=1, keepdims=True), 1)
    view = split_view(sequences, "test")
    return pd.DataFrame({
        "history_length": [len(history) for history in view.histories],
        "target_item_id": items[ITEM_ID].to_numpy()[view.targets],
        "taste_diversity": [genre_entropy(per_genre[history].sum(axis=0)) for history in view.histories],
    }, index=pd.Index(sequences[USER_ID].to_numpy(), name=USER_ID))


def carries_genres(items_file: Path) -> bool:
    """Whether an item table exists and names a genre for at least one item: taste diversity needs genres,
    and a data set without them has no taste to split its users by."""
    if not items_file.exists():
        return False
    return item_categories(pd.read_parquet(items_file)) is not None


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found (stage validated_sequences writes it: dvc repro validated_sequences)")
    return pd.read_parquet(path)


def check_same_users(histories: pd.DataFrame, ranking: pd.DataFrame, where: Path, sequences_dir: Path) -> None:
    """Raise unless every user ``ranking`` ranks is in ``histories`` with the same target (and history length,
    where the ranking records it): the sequences must be the ones the run was ranked on."""
    ranked = ranking.groupby(USER_ID, sort=False).first()
    missing = ranked.index.difference(histories.index)
    if len(missing):
        raise ValueError(f"{sequences_dir}: has no user {missing[0]!r} that {where} ranks ({len(missing)} missing): "
                         "not the sequences this run was ranked on")
    known = histories.reindex(ranked.index)
    columns = ["target_item_id", *(["history_length"] if "history_length" in ranked.columns else [])]
    for column in columns:
        theirs, ours = ranked[column].tolist(), known[column].tolist()  # Python values: plain reprs in the message
        differing = [position for position, (their, our) in enumerate(zip(theirs, ours)) if their != our]
        if differing:
            first = differing[0]
            raise ValueError(f"{sequences_dir}: user {ranked.index[first]!r} has {column} {ours[first]!r} where {where} has "
                             f"{theirs[first]!r} ({len(differing)} users differ): not the sequences this run was ranked on")


def taste_tertiles(diversity: pd.Series) -> list[tuple[str, np.ndarray]]:
    """(label, member mask over ``diversity``'s users) for its lower, middle and upper third; labels name the
    edges in bits, e.g. "narrow (≤ 2.94 bits)"."""
    low, high = np.quantile(diversity.to_numpy(), [1 / 3, 2 / 3])
    values = diversity.to_numpy()
    groups = [(f"{TERTILE_NAMES[0]} (≤ {low:.2f} bits)", values <= low),
              (f"{TERTILE_NAMES[1]} ({low:.2f}–{high:.2f} bits)", (values > low) & (values <= high)),
              (f"{TERTILE_NAMES[2]} (> {high:.2f} bits)", values > high)]
    return [(label, members) for label, members in groups if members.any()]
