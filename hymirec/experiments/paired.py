"""How far each model of one published run is from HyMiRec, user by user, with the test set's sampling error.

A benchmark's ablations run at one seed, so ``hymirec seeds`` cannot say whether a gap of 0.003 NDCG@10
is real. Within one run, though, every model ranks for the same test users: the difference of their
per-user NDCG@10 has a standard error that tells what the choice of test users alone could move the gap
by. That error is not the seed-to-seed spread (training noise, ``hymirec seeds``); a gap must clear both.

Per-user NDCG@10 is read back from the published top-10 rankings (rank of the target, 1/log2(rank + 1),
0 when not listed) — the same figures ``tests/test_published_results.py`` re-scores with scikit-learn.
Rankings that carry each user's ``history_length`` (items before the target) also give the difference
per stratum of the evaluation's breakdown and for every user past the first edge (``> 50`` by default):
a long-history method's claim is about those users, and an average over mostly short ones hides it.
The multi-interest claim is about users of varied taste: with the run's sequences (``--taste``), the same
differences per third of the users by taste diversity (``hymirec.experiments.taste``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hymirec.config import EvaluationConfig
from hymirec.evaluation.ranking import history_strata
from hymirec.experiments.taste import check_same_users, histories_before_test, taste_tertiles
from hymirec.io import write_json, write_text

REFERENCE_MODEL = "hymirec"
STRATA_EDGES = EvaluationConfig().history_length_edges  # the report's strata
CUTOFF = 10
TASTE = "taste"  # a paired result's "strata_by" when its groups are thirds of taste diversity
Z_95 = 1.959964


def per_user_ndcg(ranking: pd.DataFrame) -> pd.Series:
    """NDCG@10 per user (index ``user_id``) of a top-10 ranking with the report's columns."""
    hits = ranking[(ranking["item_id"] == ranking["target_item_id"]) & (ranking["rank"] <= CUTOFF)]
    gains = pd.Series(1.0 / np.log2(hits["rank"].to_numpy() + 1.0), index=hits["user_id"].to_numpy())
    users = pd.Index(ranking["user_id"].unique(), name="user_id")
    return gains.groupby(level=0).sum().reindex(users, fill_value=0.0)


def _per_user_rankings(rankings_dir: Path) -> dict[str, pd.Series]:
    """Each model's per-user NDCG@10, keyed by the ranking file's stem (the model name)."""
    return {path.stem: per_user_ndcg(pd.read_parquet(path)) for path in sorted(rankings_dir.glob("*.parquet"))}


def history_lengths(rankings_dir: Path) -> pd.Series | None:
    """Items before the target per user (index ``user_id``), from the first ranking that records it; None if none does."""
    for path in sorted(rankings_dir.glob("*.parquet")):
        ranking = pd.read_parquet(path)
        if "history_length" in ranking.columns:
            return ranking.groupby("user_id", sort=False)["history_length"].first()
    return None


def history_groups(lengths: pd.Series | None, users: pd.Index) -> list[tuple[str, np.ndarray]]:
    """(label, member mask over ``users``) per history-length stratum and for every user past the first edge;
    none when the rankings record no ``lengths``."""
    if lengths is None:
        return []
    known = lengths.reindex(users).to_numpy()
    return [*history_strata(known, STRATA_EDGES), (f"> {STRATA_EDGES[0] - 1}", known >= STRATA_EDGES[0])]


def stratified(ndcg: pd.Series, base: pd.Series, groups: list[tuple[str, np.ndarray]], where: Path, base_name: str) -> dict[str, Any]:
    """``_difference`` over all users, and per group of ``base``'s users (``strata``) when there are groups."""
    row = _difference(ndcg, base, where, base_name)
    if groups:
        aligned = ndcg.reindex(base.index)
        row["strata"] = {label: {"users": int(members.sum()), **_difference(aligned[members], base[members], where, base_name)}
                         for label, members in groups if members.any()}
    return row


def _difference(ndcg: pd.Series, base: pd.Series, where: Path, base_name: str) -> dict[str, Any]:
    """Mean, standard error, 95 % interval and better/worse counts of ``ndcg − base`` over the same users."""
    if set(ndcg.index) != set(base.index):
        raise ValueError(f"{where}: ranks other users than {base_name}")
    difference = ndcg.reindex(base.index).to_numpy() - base.to_numpy()
    mean = float(difference.mean())
    se = float(difference.std(ddof=1) / math.sqrt(len(difference))) if len(difference) > 1 else None
    return {"mean": mean, "se": se, "ci95": None if se is None else [mean - Z_95 * se, mean + Z_95 * se],
            "better": int((difference > 0).sum()), "worse": int((difference < 0).sum())}


def paired_differences(rankings_dir: Path, reference: str = REFERENCE_MODEL, taste: Path | None = None) -> dict[str, Any]:
    """{"reference", "users", "models": {model: {"mean", "se", "ci95", "better", "worse", "strata"?}}}.

    ``mean`` is model − reference NDCG@10 over the users both ranked (``se`` and ``ci95`` None for a single
    user); ``better``/``worse`` count the users for whom the model's NDCG@10 is above/below the reference's.
    ``strata`` holds the same per group of users: by items before the target where the rankings record it, or
    with ``taste`` (the run's ``data/sequences``) by thirds of taste diversity, and then ``"strata_by": "taste"``.
    """
    rankings = _per_user_rankings(rankings_dir)
    if reference not in rankings:
        raise FileNotFoundError(f"{rankings_dir / (reference + '.parquet')}: no ranking of the reference model")
    base = rankings.pop(reference)
    if taste is None:
        grouping, groups = {}, history_groups(history_lengths(rankings_dir), base.index)
    else:
        reference_file = rankings_dir / f"{reference}.parquet"
        histories = histories_before_test(taste)
        check_same_users(histories, pd.read_parquet(reference_file), reference_file, taste)
        grouping, groups = {"strata_by": TASTE}, taste_tertiles(histories["taste_diversity"].reindex(base.index))
    models = {model: stratified(ndcg, base, groups, rankings_dir / f"{model}.parquet", reference) for model, ndcg in rankings.items()}
    return {"reference": reference, "users": len(base), **grouping, "models": models}


def paired_against(rankings_dir: Path, base_dir: Path) -> dict[str, Any]:
    """Each model ranked in both folders: this run's per-user NDCG@10 minus the same model's in the base run.

    A variant run (another item encoder, a longer schedule) retrains the models it changes on the same test
    users: the same model's two rankings, user by user, tell the change from the test set's sampling error
    (training noise is still not in it: that is what the seed runs measure).
    """
    rankings, base, lengths = _per_user_rankings(rankings_dir), _per_user_rankings(base_dir), history_lengths(rankings_dir)
    shared = sorted(set(rankings) & set(base))
    if not shared:
        raise FileNotFoundError(f"{rankings_dir}: no model also ranked in {base_dir}")
    models = {model: stratified(rankings[model], base[model], history_groups(lengths, base[model].index), rankings_dir / f"{model}.parquet",
                                f"{base_dir / model}.parquet") for model in shared}
    return {"against": base_dir.parent.name, "users": len(base[shared[0]]), "models": models}


def paired_markdown(paired: dict[str, Any]) -> str:
    """One row per model, closest to the reference first: Δ NDCG@10, its standard error and 95 % interval."""
    if "against" in paired:
        minus, than = f"the same model's in {paired['against']}", f"than in {paired['against']}"
    else:
        minus, than = f"{paired['reference']}'s", f"than {paired['reference']}"
    lines = [f"Test NDCG@10 of each model minus {minus}, user by user over {paired['users']} test users "
             "(standard error and 95 % interval from the users alone: training noise is not in them).", "",
             f"| model | Δ NDCG@10 | standard error | 95 % interval | users better / worse {than} |",
             "|---|---:|---:|---:|---:|"]
    ordered = sorted(paired["models"].items(), key=lambda item: -item[1]["mean"])
    for model, row in ordered:
        lines.append(_difference_row(model, row))
    strata = [(model, row["strata"]) for model, row in ordered if "strata" in row]
    if strata:
        if paired.get("strata_by") == TASTE:
            heading, column = ("By taste diversity (thirds of the test users by the genre entropy of everything before "
                               "the target; the same differences within each third):"), "taste"
        else:
            heading, column = "By items before the target (the same differences within each stratum):", "history length"
        lines += ["", heading, "",
                  f"| model | {column} | users | Δ NDCG@10 | standard error | 95 % interval | better / worse |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for model, rows in strata:
            for label, row in rows.items():
                lines.append(_difference_row(f"{model} | {label} | {row['users']}", row))
    return "\n".join(lines) + "\n"


def _difference_row(first_cells: str, row: dict[str, Any]) -> str:
    spread = "— | —" if row["se"] is None else f"{row['se']:.4f} | [{row['ci95'][0]:+.4f}, {row['ci95'][1]:+.4f}]"
    return f"| {first_cells} | {row['mean']:+.4f} | {spread} | {row['better']} / {row['worse']} |"


def write_paired(folder: Path, against: Path | None = None, taste: Path | None = None) -> Path:
    """``paired.json`` and ``paired.md`` beside the ``rankings/`` of a published run; with ``against`` (another
    published run), ``paired_against_<its name>.json``/``.md``; with ``taste`` (the run's sequences folder),
    ``paired_by_taste.json``/``.md``. Returns the JSON's path."""
    if against is not None:
        paired, name = paired_against(folder / "rankings", against / "rankings"), f"paired_against_{against.name}"
    else:
        paired, name = paired_differences(folder / "rankings", taste=taste), "paired" if taste is None else "paired_by_taste"
    write_json(paired, folder / f"{name}.json")
    write_text(paired_markdown(paired), folder / f"{name}.md")
    return folder / f"{name}.json"
