from __future__ import annotations

import numpy as np
import pandas as pd

from hymirec.config import SequencesConfig
from hymirec.data.schema import RawLogs
from hymirec.data.sequences import build_sequences, item_categories, split_view, training_sequences


def _items_of(data, user_id: str) -> list[str]:
    item_ids = data.items["item_id"].to_numpy()
    row = data.sequences.set_index("user_id").loc[user_id]
    return list(item_ids[np.asarray(row["items"])])


def test_leave_one_out_split_on_tiny_fixture(tiny_raw: RawLogs) -> None:
    data = build_sequences(tiny_raw, SequencesConfig(min_user_interactions=5))

    assert list(data.users["user_id"]) == ["u0", "u1", "u2"]  # u3 (3 events) dropped, sorted ids
    assert list(data.items["item_id"]) == list("abcde")  # f only rated by u3: not in the catalog
    # u1: e and d share timestamp 40; file order (e before d) decides, so d is the test item
    assert _items_of(data, "u1") == ["a", "b", "c", "e", "d"]
    # u2: the repeated "a" keeps its first event only
    assert _items_of(data, "u2") == ["a", "b", "c", "d", "e"]
    assert data.stats == {
        "raw_events": 19, "repeated_events_dropped": 1, "short_user_events_dropped": 3, "users_dropped": 1,
        "events": 15, "users": 3, "items": 5,
    }

    valid, test = split_view(data.sequences, "valid"), split_view(data.sequences, "test")
    item_index = {item: index for index, item in enumerate("abcde")}
    u1 = int(data.users.set_index("user_id").loc["u1", "user_idx"])
    assert valid.targets[u1] == item_index["e"] and test.targets[u1] == item_index["d"]
    assert list(valid.histories[u1]) == [item_index[i] for i in "abc"]
    assert list(test.histories[u1]) == [item_index[i] for i in "abce"]
    assert [list(s) for s in training_sequences(data.sequences)][u1] == [item_index[i] for i in "abc"]


def test_tie_order_follows_the_file_not_the_item_id() -> None:
    interactions = pd.DataFrame(
        {"user_id": ["u"] * 5, "item_id": ["z", "y", "x", "b", "a"], "timestamp": [1, 1, 1, 1, 1]}
    )
    items = pd.DataFrame({"item_id": ["a", "b", "x", "y", "z"], "title": list("ABXYZ")})
    data = build_sequences(RawLogs(interactions, items), SequencesConfig(min_user_interactions=5))
    assert _items_of(data, "u") == ["z", "y", "x", "b", "a"]


def test_targets_never_in_their_input(tiny_raw: RawLogs) -> None:
    data = build_sequences(tiny_raw, SequencesConfig(min_user_interactions=5))
    for split in ("valid", "test"):
        view = split_view(data.sequences, split)
        assert all(target not in history for target, history in zip(view.targets, view.histories))


def test_min_user_interactions_is_applied(tiny_raw: RawLogs) -> None:
    data = build_sequences(tiny_raw, SequencesConfig(min_user_interactions=3))
    assert "u3" in set(data.users["user_id"]) and "f" in set(data.items["item_id"])


def test_item_categories_count_an_empty_genre_list_as_no_genre() -> None:
    """Genre-less items share no genre: a column named "" would make them alike to ILD and coverage."""
    items = pd.DataFrame({"item_id": list("wxyz"), "genres": ["Drama|Comedy", "", None, "Comedy"]},
                         index=[7, 3, 5, 1])  # an index not 0..n-1: rows follow the table's order
    expected = np.array([[True, True], [False, False], [False, False], [True, False]])  # Comedy, Drama
    np.testing.assert_array_equal(item_categories(items), expected)
    assert item_categories(items.assign(genres=["", None, "", ""])) is None
    assert item_categories(items.drop(columns="genres")) is None
