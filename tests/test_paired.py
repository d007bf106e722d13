"""hymirec paired: each model's per-user NDCG@10 difference from HyMiRec in a published run, with its standard error."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from hymirec.cli import main
from hymirec.experiments.paired import paired_differences
from hymirec.experiments.taste import histories_before_test
from hymirec.io import read_json, write_parquet


def _ranking(folder: Path, model: str, target_ranks: dict[str, int | None], lengths: dict[str, int] | None = None) -> None:
    """A top-10 ranking in which each user's target sits at the given rank (None: not listed), with each
    user's history length when ``lengths`` are given."""
    rows = []
    for user, target_rank in target_ranks.items():
        for rank in range(1, 11):
            item = "target" if rank == target_rank else f"{user}-other-{rank}"
            row = {"user_id": user, "rank": rank, "item_id": item, "target_item_id": "target"}
            rows.append(row if lengths is None else {**row, "history_length": lengths[user]})
    write_parquet(pd.DataFrame(rows), folder / "rankings" / f"{model}.parquet")


def test_paired_differences_are_per_user_ndcg_differences_with_their_standard_error(tmp_path: Path) -> None:
    _ranking(tmp_path, "hymirec", {"a": 1, "b": None, "c": 2})
    _ranking(tmp_path, "sasrec", {"a": 3, "b": 1, "c": 2})
    assert main(["paired", str(tmp_path)]) == 0
    paired = read_json(tmp_path / "paired.json")
    assert paired["reference"] == "hymirec" and paired["users"] == 3 and set(paired["models"]) == {"sasrec"}
    differences = [0.5 - 1.0, 1.0, 0.0]  # a: rank 3 (1/log2 4) against rank 1; b: listed against not; c: same rank
    mean = sum(differences) / 3
    se = math.sqrt(sum((d - mean) ** 2 for d in differences) / 2) / math.sqrt(3)
    sasrec = paired["models"]["sasrec"]
    assert sasrec["mean"] == pytest.approx(mean) and sasrec["se"] == pytest.approx(se)
    assert sasrec["ci95"] == pytest.approx([mean - 1.959964 * se, mean + 1.959964 * se])
    assert (sasrec["better"], sasrec["worse"]) == (1, 1)
    assert "| sasrec | +0.1667 |" in (tmp_path / "paired.md").read_text()


def test_a_run_without_hymirec_or_with_other_users_is_refused(tmp_path: Path, capsys) -> None:
    _ranking(tmp_path / "no_reference", "sasrec", {"a": 1})
    assert main(["paired", str(tmp_path / "no_reference")]) == 1
    assert "no ranking of the reference model" in capsys.readouterr().err
    _ranking(tmp_path / "other_users", "hymirec", {"a": 1})
    _ranking(tmp_path / "other_users", "sasrec", {"b": 1})
    with pytest.raises(ValueError, match="ranks other users"):
        paired_differences(tmp_path / "other_users" / "rankings")
    assert not (tmp_path / "other_users" / "paired.json").exists()


def test_a_variant_run_is_compared_model_by_model_with_the_same_model_in_the_base_run(tmp_path: Path) -> None:
    _ranking(tmp_path / "benchmark", "hymirec", {"a": 1, "b": None})
    _ranking(tmp_path / "benchmark", "comirec", {"a": 1, "b": 1})
    _ranking(tmp_path / "variant", "hymirec", {"a": 1, "b": 1})
    _ranking(tmp_path / "variant", "sasrec", {"a": 2, "b": 2})
    assert main(["paired", str(tmp_path / "variant"), "--against", str(tmp_path / "benchmark")]) == 0
    paired = read_json(tmp_path / "variant" / "paired_against_benchmark.json")
    assert paired["against"] == "benchmark" and set(paired["models"]) == {"hymirec"}  # the only model in both
    assert paired["models"]["hymirec"]["mean"] == pytest.approx(0.5) and paired["models"]["hymirec"]["better"] == 1
    assert "| hymirec | +0.5000 |" in (tmp_path / "variant" / "paired_against_benchmark.md").read_text()
    assert not (tmp_path / "variant" / "paired.json").exists()
    _ranking(tmp_path / "unrelated", "popularity", {"a": 1, "b": 1})
    assert main(["paired", str(tmp_path / "unrelated"), "--against", str(tmp_path / "benchmark")]) == 1


def test_per_stratum_differences_equal_a_naive_recomputation(tmp_path: Path) -> None:
    """Users by items before the target: ≤ 50, 51–200, 201–500, > 500, and every user past 50."""
    lengths = {"a": 10, "b": 60, "c": 150, "d": 300, "e": 900, "f": 40}
    _ranking(tmp_path, "hymirec", {"a": 1, "b": None, "c": 2, "d": 1, "e": 3, "f": None}, lengths)
    _ranking(tmp_path, "recent_only", {"a": 2, "b": 1, "c": None, "d": 4, "e": None, "f": 1}, lengths)
    strata = paired_differences(tmp_path / "rankings")["models"]["recent_only"]["strata"]
    gain = lambda rank: 0.0 if rank is None else 1 / math.log2(rank + 1)  # noqa: E731
    ours = {"a": 1, "b": None, "c": 2, "d": 1, "e": 3, "f": None}
    theirs = {"a": 2, "b": 1, "c": None, "d": 4, "e": None, "f": 1}
    groups = {"0-50": ["a", "f"], "51-200": ["b", "c"], "201-500": ["d"], "501+": ["e"], "> 50": ["b", "c", "d", "e"]}
    assert list(strata) == list(groups)
    for label, users in groups.items():
        differences = [gain(theirs[user]) - gain(ours[user]) for user in users]
        assert strata[label]["users"] == len(users)
        assert strata[label]["mean"] == pytest.approx(sum(differences) / len(users))
        if len(users) > 1:
            mean = sum(differences) / len(users)
            se = math.sqrt(sum((d - mean) ** 2 for d in differences) / (len(users) - 1) / len(users))
            assert strata[label]["se"] == pytest.approx(se)
        else:
            assert strata[label]["se"] is None


def test_rankings_without_history_lengths_give_no_strata(tmp_path: Path) -> None:
    _ranking(tmp_path, "hymirec", {"a": 1, "b": None})
    _ranking(tmp_path, "sasrec", {"a": 3, "b": 1})
    assert "strata" not in paired_differences(tmp_path / "rankings")["models"]["sasrec"]


GENRES = {"drama": "Drama", "comedy": "Comedy", "both": "Drama|Comedy", "horror": "Horror", "none": ""}


def _sequences(folder: Path, histories: dict[str, list[str]]) -> Path:
    """A ``data/sequences`` folder whose users' items are ``histories`` (the last item each one's test target)."""
    items = pd.DataFrame({"item_idx": range(len(GENRES)), "item_id": list(GENRES), "title": list(GENRES), "genres": list(GENRES.values())})
    index = {item: position for position, item in enumerate(GENRES)}
    sequences = pd.DataFrame({"user_idx": range(len(histories)), "user_id": list(histories),
                              "items": [[index[item] for item in history] for history in histories.values()],
                              "timestamps": [list(range(len(history))) for history in histories.values()]})
    write_parquet(items, folder / "items.parquet")
    write_parquet(sequences, folder / "sequences.parquet")
    return folder


def _taste_ranking(folder: Path, model: str, histories: dict[str, list[str]], target_ranks: dict[str, int | None]) -> None:
    """A top-10 ranking of ``histories``' users against their real targets, each at the given rank."""
    rows = []
    for user, history in histories.items():
        for rank in range(1, 11):
            item = history[-1] if rank == target_ranks[user] else f"{user}-other-{rank}"
            rows.append({"user_id": user, "rank": rank, "item_id": item, "target_item_id": history[-1],
                         "history_length": len(history) - 1})
    write_parquet(pd.DataFrame(rows), folder / "rankings" / f"{model}.parquet")


def test_taste_diversity_is_the_genre_entropy_of_everything_before_the_test_target(tmp_path: Path) -> None:
    """Each item's weight split over its genres; an item without genres weighs nothing; the target is left out."""
    histories = {"one_genre": ["drama", "drama", "horror"], "even": ["drama", "comedy", "both", "drama"],
                 "three": ["drama", "comedy", "horror", "none", "comedy"], "genreless": ["none", "drama"]}
    diversity = histories_before_test(_sequences(tmp_path, histories))
    # even: Drama 1 + 0.5, Comedy 1 + 0.5 -> two equal shares; three: Drama, Comedy, Horror once each
    assert diversity["taste_diversity"].to_dict() == pytest.approx({"one_genre": 0.0, "even": 1.0, "three": math.log2(3), "genreless": 0.0})
    assert diversity["history_length"].to_dict() == {"one_genre": 2, "even": 3, "three": 4, "genreless": 1}
    assert diversity["target_item_id"].to_dict() == {"one_genre": "horror", "even": "drama", "three": "comedy", "genreless": "drama"}


def test_paired_by_taste_gives_the_differences_per_third_of_the_users_by_taste_diversity(tmp_path: Path) -> None:
    drama, mixed = ["drama"] * 4 + ["horror"], ["drama", "comedy", "horror"] * 2
    histories = {"a": drama, "b": drama, "c": ["drama", "comedy", "drama"], "d": ["drama", "comedy", "drama", "drama"],
                 "e": mixed, "f": mixed}  # entropies 0, 0, 1, 0.918…, log2 3, log2 3: thirds {a, b}, {c, d}, {e, f}
    ours = {"a": 1, "b": None, "c": 2, "d": 1, "e": 3, "f": None}
    theirs = {"a": 2, "b": 1, "c": None, "d": 4, "e": None, "f": 1}
    run = tmp_path / "run"
    _taste_ranking(run, "hymirec", histories, ours)
    _taste_ranking(run, "k1", histories, theirs)
    sequences = _sequences(tmp_path / "sequences", histories)
    assert main(["paired", str(run), "--taste", str(sequences)]) == 0
    paired = read_json(run / "paired_by_taste.json")
    assert paired["strata_by"] == "taste" and not (run / "paired.json").exists()
    strata = paired["models"]["k1"]["strata"]
    gain = lambda rank: 0.0 if rank is None else 1 / math.log2(rank + 1)  # noqa: E731
    thirds = {"narrow": ["a", "b"], "middle": ["c", "d"], "broad": ["e", "f"]}
    assert sorted(label.split()[0] for label in strata) == sorted(thirds)
    for label, row in strata.items():
        users = thirds[label.split()[0]]
        differences = [gain(theirs[user]) - gain(ours[user]) for user in users]
        assert row["users"] == 2 and row["mean"] == pytest.approx(sum(differences) / 2), label
    assert "By taste diversity" in (run / "paired_by_taste.md").read_text()
    assert paired["models"]["k1"]["mean"] == paired_differences(run / "rankings")["models"]["k1"]["mean"]


def test_paired_by_taste_refuses_sequences_the_run_was_not_ranked_on(tmp_path: Path, capsys) -> None:
    histories = {"a": ["drama", "comedy"], "b": ["horror", "drama"]}
    _taste_ranking(tmp_path / "run", "hymirec", histories, {"a": 1, "b": 2})
    _taste_ranking(tmp_path / "run", "k1", histories, {"a": 2, "b": 1})
    other_target = _sequences(tmp_path / "other_target", {"a": ["drama", "comedy"], "b": ["horror", "comedy"]})
    assert main(["paired", str(tmp_path / "run"), "--taste", str(other_target)]) == 1
    assert "user 'b' has target_item_id 'comedy'" in capsys.readouterr().err
    other_users = _sequences(tmp_path / "other_users", {"a": ["drama", "comedy"]})
    assert main(["paired", str(tmp_path / "run"), "--taste", str(other_users)]) == 1
    assert "has no user 'b'" in capsys.readouterr().err
    longer = _sequences(tmp_path / "longer", {"a": ["drama", "comedy"], "b": ["drama", "horror", "drama"]})
    assert main(["paired", str(tmp_path / "run"), "--taste", str(longer)]) == 1
    assert "history_length 2" in capsys.readouterr().err
    assert not (tmp_path / "run" / "paired_by_taste.json").exists()


def test_paired_by_taste_needs_items_with_genres(tmp_path: Path, capsys) -> None:
    histories = {"a": ["drama", "comedy"], "b": ["horror", "drama"]}
    _taste_ranking(tmp_path / "run", "hymirec", histories, {"a": 1, "b": 2})
    sequences = _sequences(tmp_path / "sequences", histories)
    write_parquet(pd.read_parquet(sequences / "items.parquet").drop(columns="genres"), sequences / "items.parquet")
    assert main(["paired", str(tmp_path / "run"), "--taste", str(sequences)]) == 1
    assert "items carry no genres" in capsys.readouterr().err
    assert main(["paired", str(tmp_path / "run"), "--taste", str(tmp_path / "nowhere")]) == 1
    assert "dvc repro validated_sequences" in capsys.readouterr().err
