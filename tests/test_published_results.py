"""Published benchmark results re-score to their own metrics with code that is not ours (scikit-learn)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from hymirec.experiments.paired import paired_differences
from hymirec.experiments.selection import selection_markdown
from hymirec.io import read_json

RESULTS = Path(__file__).resolve().parents[1] / "results"
PUBLISHED = sorted(path.parent for path in RESULTS.glob("*/metrics.json"))


def _rescored(ranking: pd.DataFrame) -> tuple[float, float]:
    """NDCG@10 and Recall@10 of a top-10 list per user, through scikit-learn's ndcg_score.

    Each user gets 11 columns: the 10 listed items scored 10…1 and, when the target is not listed, the
    target scored 0; relevance is 1 for the target only.
    """
    ranking = ranking.sort_values(["user_id", "rank"])
    users = ranking["user_id"].unique()
    listed = ranking["item_id"].to_numpy().reshape(len(users), 10)
    targets = ranking.groupby("user_id", sort=True)["target_item_id"].first().loc[users].to_numpy()
    relevance = np.zeros((len(users), 11))
    relevance[:, :10] = listed == targets[:, None]
    relevance[:, 10] = relevance[:, :10].sum(axis=1) == 0
    scores = np.tile(np.r_[np.arange(10, 0, -1), 0.0], (len(users), 1))
    return float(ndcg_score(relevance, scores, k=10)), float(relevance[:, :10].sum(axis=1).mean())


@pytest.mark.parametrize("folder", PUBLISHED, ids=lambda path: path.name)
def test_published_rankings_reproduce_the_published_metrics(folder: Path) -> None:
    test = read_json(folder / "metrics.json")["test"]
    rankings = sorted((folder / "rankings").glob("*.parquet"))
    assert {path.stem for path in rankings} == set(test)  # every reported model, Popularity included
    for path in rankings:
        ranking = pd.read_parquet(path)
        assert ranking.groupby("user_id").size().eq(10).all(), path
        ndcg, recall = _rescored(ranking)
        assert ndcg == pytest.approx(test[path.stem]["ndcg@10"], abs=1e-9), path.stem
        assert recall == pytest.approx(test[path.stem]["recall@10"], abs=1e-9), path.stem


STRATA = [(0, 50, "0-50"), (51, 200, "51-200"), (201, 500, "201-500"), (501, None, "501+")]


@pytest.mark.parametrize("folder", [folder for folder in PUBLISHED if "by_history_length" in read_json(folder / "metrics.json")],
                         ids=lambda path: path.name)
def test_published_rankings_reproduce_the_metrics_by_history_length(folder: Path) -> None:
    """Each stratum's NDCG@10 and Recall@10, re-scored from the rankings' history_length column with scikit-learn."""
    published = read_json(folder / "metrics.json")["by_history_length"]
    for model, rows in published.items():
        ranking = pd.read_parquet(folder / "rankings" / f"{model}.parquet")
        by_label = {row["history_length"]: row for row in rows}
        for low, high, label in STRATA:
            members = ranking[(ranking["history_length"] >= low) & (ranking["history_length"] <= (high or np.inf))]
            if members.empty:
                assert label not in by_label, (folder.name, model, label)
                continue
            ndcg, recall = _rescored(members)
            assert by_label[label]["users"] == members["user_id"].nunique(), (folder.name, model, label)
            assert ndcg == pytest.approx(by_label[label]["ndcg@10"], abs=1e-9), (folder.name, model, label)
            assert recall == pytest.approx(by_label[label]["recall@10"], abs=1e-9), (folder.name, model, label)


@pytest.mark.parametrize("folder", [folder for folder in PUBLISHED if read_json(folder / "metrics.json").get("interests")],
                         ids=lambda path: path.name)
def test_published_interest_columns_give_the_reported_top10_shares(folder: Path) -> None:
    """Each multi-interest model's share of top-10 slots per interest, counted from its rankings' interest column."""
    for model, report in read_json(folder / "metrics.json")["interests"].items():
        ranking = pd.read_parquet(folder / "rankings" / f"{model}.parquet")
        shares = ranking["interest"].value_counts(normalize=True).reindex(range(1, len(report["top10_share"]) + 1), fill_value=0.0)
        assert shares.to_numpy() == pytest.approx(report["top10_share"], abs=1e-9), (folder.name, model)


def test_published_results_name_their_provenance() -> None:
    for folder in PUBLISHED:
        provenance = read_json(folder / "provenance.json")
        assert {"commit", "config", "config_sha256", "models", "machine"} <= set(provenance), folder
        assert (folder / provenance["config"]).exists(), folder


@pytest.mark.parametrize("folder", [folder for folder in PUBLISHED if (folder / "rankings" / "hymirec.parquet").exists()],
                         ids=lambda path: path.name)
def test_published_paired_differences_are_what_the_rankings_give(folder: Path) -> None:
    paired = read_json(folder / "paired.json")
    assert paired == paired_differences(folder / "rankings")
    test = read_json(folder / "metrics.json")["test"]
    for model, row in paired["models"].items():  # per-user means agree with the report's NDCG@10
        assert row["mean"] == pytest.approx(test[model]["ndcg@10"] - test["hymirec"]["ndcg@10"], abs=1e-9), model


@pytest.mark.parametrize("folder", [folder for folder in PUBLISHED if (folder / "paired_by_taste.json").exists()],
                         ids=lambda path: path.name)
def test_published_differences_by_taste_split_the_paired_differences(folder: Path) -> None:
    """The thirds hold every test user once and their user-weighted means give back each model's overall
    difference, which is paired.json's (recomputing the thirds needs the interaction data, not published)."""
    by_taste, paired = read_json(folder / "paired_by_taste.json"), read_json(folder / "paired.json")
    assert by_taste["strata_by"] == "taste" and by_taste["users"] == paired["users"]
    assert set(by_taste["models"]) == set(paired["models"])
    for model, row in by_taste["models"].items():
        assert {key: row[key] for key in ("mean", "better", "worse")} == {key: paired["models"][model][key] for key in ("mean", "better", "worse")}
        thirds = row["strata"].values()
        assert len(thirds) == 3 and sum(third["users"] for third in thirds) == paired["users"], model
        assert sum(third["mean"] * third["users"] for third in thirds) / paired["users"] == pytest.approx(row["mean"], abs=1e-12), model


ROOT = RESULTS.parent
RUN_FILES = ("metrics.json", "evaluation.md", "provenance.json", "selection.md")
INDEX = RESULTS / "README.md"
HEADLINE_MODELS = {"HyMiRec": "hymirec", "SASRec": "sasrec", "K = 1": "hymirec_k1", "coarse model": "coarse_codebook"}


def _tracked_results() -> list[Path]:
    """The files git tracks under results/ (every file there outside a git checkout)."""
    listed = subprocess.run(["git", "ls-files", "-z", "results"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        return sorted(path for path in RESULTS.rglob("*") if path.is_file())
    return [ROOT / name for name in listed.stdout.split("\0") if name]


@pytest.mark.parametrize("folder", PUBLISHED, ids=lambda path: path.name)
def test_every_published_run_has_the_one_layout(folder: Path) -> None:
    for name in RUN_FILES:
        assert (folder / name).is_file(), f"{folder.name}/{name}"
    assert any((folder / "rankings").glob("*.parquet")), folder.name
    assert (folder / read_json(folder / "provenance.json")["config"]).suffix == ".yaml", folder.name


def test_the_index_lists_every_folder_and_copies_its_headline_from_the_metrics() -> None:
    index = INDEX.read_text()
    for folder in sorted(path for path in RESULTS.iterdir() if path.is_dir()):
        assert f"[{folder.name}]({folder.name}/)" in index, folder.name
    for folder in PUBLISHED:
        row = next(line for line in index.splitlines() if line.startswith(f"| [{folder.name}]({folder.name}/)"))
        assert "make experiment CONFIG=configs/" in row, folder.name
        test = read_json(folder / "metrics.json")["test"]
        headline = re.findall(r"(HyMiRec|SASRec|K = 1|coarse model) (0\.\d{4})", row.split(" | ")[4])
        assert headline, folder.name
        for name, figure in headline:
            assert figure == f"{test[HEADLINE_MODELS[name]]['ndcg@10']:.4f}", (folder.name, name)


CANDIDATES = sorted(path.parent for path in RESULTS.glob("*_candidates/*/provenance.json"))


@pytest.mark.parametrize("folder", CANDIDATES, ids=lambda path: path.name)
def test_the_index_copies_each_selection_candidates_validation_figure_from_its_report(folder: Path) -> None:
    link = f"[{folder.parent.name}/{folder.name}]({folder.parent.name}/{folder.name}/)"
    row = next(line for line in INDEX.read_text().splitlines() if line.startswith(f"| {link}"))
    report = next(folder.glob("*_model.json"))  # the one stage report a candidate holds
    figures = [f"{summary['valid']['ndcg@10']:.4f}" for summary in read_json(report).values()]
    assert row.split(" | ")[4].split()[0] in figures, (folder.name, row)


SELECTIONS = sorted(path for path in RESULTS.glob("*/selection.md") if "\nRuns: `" in path.read_text())  # what hymirec select wrote


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda path: path.parent.name)
def test_a_selection_is_what_hymirec_select_writes_from_the_runs_it_names(selection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision file is regenerated from the candidates' reports: a report or decision edited alone fails."""
    runs_line = next(line for line in selection.read_text().splitlines() if line.startswith("Runs: "))
    runs = dict(re.findall(r"`([^`]+)` \(([^)]+)\)", runs_line))
    assert runs, runs_line
    monkeypatch.chdir(RESULTS.parent)  # the runs as `hymirec select` was given them, from the repository root
    assert selection.read_text() == selection_markdown({label: Path(folder) for label, folder in runs.items()})


def test_results_is_a_publication_without_scripts_or_interaction_data() -> None:
    tracked = _tracked_results()
    assert INDEX in tracked
    assert not [path for path in tracked if path.suffix in {".sh", ".patch"}]
    assert sum(path.stat().st_size for path in tracked) <= 20 * 1024 * 1024
    for path in tracked:  # the only tables are top-10 rankings: ids and ranks, no interaction log
        assert path.suffix not in {".csv", ".tsv", ".inter", ".item", ".dat", ".npy", ".pt"}, path
        if path.suffix == ".parquet":
            assert path.parent.name == "rankings", path
            columns = list(pd.read_parquet(path).columns)  # history_length: a count per user; interest: 1…K
            assert columns[:4] == ["user_id", "rank", "item_id", "target_item_id"], path
            assert set(columns[4:]) <= {"history_length", "interest"}, path


@pytest.mark.parametrize("folder", [folder for folder in PUBLISHED if (folder / "training").is_dir()], ids=lambda path: path.name)
def test_published_training_reports_are_the_runs_own(folder: Path) -> None:
    """Each training report's validation NDCG@10 is the one the run's metrics.json reports for that model
    (the evaluation copies it from the same training summaries); the coarse model's rows are named by history."""
    valid = read_json(folder / "metrics.json")["valid"]
    coarse_rows = {"codebook": "coarse_codebook", "exact": "coarse_exact"}
    for report in sorted((folder / "training").glob("*.json")):
        for name, summary in read_json(report).items():
            model = coarse_rows.get(name, name) if report.stem == "coarse_model" else name
            assert summary["valid"]["ndcg@10"] == valid[model]["ndcg@10"], (folder.name, report.name, name)
