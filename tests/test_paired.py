"""hymirec paired: each model's per-user NDCG@10 difference from HyMiRec in a published run, with its standard error."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from hymirec.cli import main
from hymirec.experiments.paired import paired_differences
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
