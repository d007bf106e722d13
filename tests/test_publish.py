"""hymirec publish: a benchmark workspace's report, top-10 rankings and provenance, copied into results/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hymirec.cli import main
from hymirec.io import read_json, write_json, write_parquet, write_text


def _workspace(root: Path) -> Path:
    """A git workspace with the report stage's outputs and two training stages' summaries."""
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    config = root / "configs" / "bench.yaml"
    write_text("seed: 7\n", config)
    write_text("seed: 7\nllm:\n  num_interests: 3\n", root / "build" / "config.yaml")  # what resolved_config writes
    write_json({"test": {"sasrec": {"ndcg@10": 0.5}}}, root / "reports" / "metrics.json")
    write_text("# report\n", root / "reports" / "evaluation.md")
    write_text("png", root / "reports" / "figures" / "plot.png")
    ranks = pd.DataFrame({"user_id": [1] * 12, "rank": range(1, 13), "item_id": range(100, 112), "target_item_id": 103})
    write_parquet(ranks, root / "reports" / "rankings" / "sasrec.parquet")
    write_parquet(ranks.assign(target_item_id=100), root / "reports" / "rankings" / "hymirec.parquet")
    summary = {"best_epoch": 3, "epochs_trained": 6, "train_seconds": 12.5, "valid": {"ndcg@10": 0.4}}
    write_json({"sasrec": summary}, root / "reports" / "sasrec_model.json")
    write_json({"codebook": summary}, root / "reports" / "coarse_model.json")
    subprocess.run(["git", "add", "configs"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"], cwd=root, check=True)
    return config


def test_publish_copies_the_report_top_10_rankings_and_provenance(tmp_path: Path) -> None:
    config = _workspace(tmp_path / "ws")
    timings = tmp_path / "seconds.txt"
    timings.write_text("sasrec_model 42\ncoarse_model 7.5\ndone\n")
    out = tmp_path / "results" / "bench"
    assert main(["publish", "--root", str(tmp_path / "ws"), "-c", str(config), "--out", str(out), "--stage-seconds", str(timings), "--note", "by hand"]) == 0
    assert read_json(out / "metrics.json") == {"test": {"sasrec": {"ndcg@10": 0.5}}}
    assert (out / "evaluation.md").read_text() == "# report\n" and (out / "figures" / "plot.png").exists()
    assert (out / "bench.yaml").read_text() == "seed: 7\n"
    assert (out / "resolved_config.yaml").read_text() == "seed: 7\nllm:\n  num_interests: 3\n"
    assert read_json(out / "training" / "sasrec_model.json") == read_json(tmp_path / "ws" / "reports" / "sasrec_model.json")
    assert sorted(path.name for path in (out / "training").iterdir()) == ["coarse_model.json", "sasrec_model.json"]  # no llm_model ran
    ranking = pd.read_parquet(out / "rankings" / "sasrec.parquet")
    assert list(ranking.columns) == ["user_id", "rank", "item_id", "target_item_id"] and ranking["rank"].tolist() == list(range(1, 11))
    paired = read_json(out / "paired.json")["models"]["sasrec"]  # target at rank 4 against hymirec's rank 1
    assert paired["mean"] == pytest.approx(1 / np.log2(5) - 1) and paired["se"] is None  # one user: no spread
    assert "| sasrec | -0.5693 | — | — | 0 / 1 |" in (out / "paired.md").read_text()
    assert not (out / "paired_by_taste.json").exists()  # the workspace holds no item table with genres
    provenance = read_json(out / "provenance.json")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path / "ws", capture_output=True, text=True).stdout.strip()
    assert provenance["commit"] == head  # only untracked outputs changed: not dirty
    assert provenance["config"] == "bench.yaml" and len(provenance["config_sha256"]) == 64
    assert provenance["models"] == {
        "sasrec": {"best_epoch": 3, "epochs_trained": 6, "train_seconds": 12.5},
        "coarse_codebook": {"best_epoch": 3, "epochs_trained": 6, "train_seconds": 12.5},
    }
    assert provenance["stage_seconds"] == {"sasrec_model": 42.0, "coarse_model": 7.5}
    assert provenance["machine"]["cpu_count"] >= 1 and provenance["note"] == "by hand"


def test_a_workspace_without_a_report_publishes_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "ws").mkdir()
    subprocess.run(["git", "init", "-q"], cwd=tmp_path / "ws", check=True)
    config = tmp_path / "bench.yaml"
    config.write_text("seed: 1\n")
    assert main(["publish", "--root", str(tmp_path / "ws"), "-c", str(config), "--out", str(tmp_path / "out")]) == 1
    assert "no report to publish" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_one_stage_experiment_publishes_its_training_report_as_a_selection_candidate(tmp_path: Path) -> None:
    config = _workspace(tmp_path / "ws")
    out = tmp_path / "results" / "bench" / "candidates" / "sasrec_constant"
    assert main(["publish", "--root", str(tmp_path / "ws"), "-c", str(config), "--out", str(out), "--stage", "sasrec_model"]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["bench.yaml", "provenance.json", "sasrec_model.json"]
    assert read_json(out / "sasrec_model.json")["sasrec"]["valid"] == {"ndcg@10": 0.4}
    # its models are those its stage trained: the coarse model's report in the workspace is not this run's
    assert read_json(out / "provenance.json")["models"] == {"sasrec": {"best_epoch": 3, "epochs_trained": 6, "train_seconds": 12.5}}
    selection = tmp_path / "selection.md"
    assert main(["select", str(out), "--out", str(selection)]) == 0  # what the candidate is for
    assert "sasrec" in selection.read_text() and "0.4000" in selection.read_text()


def test_a_candidate_of_a_stage_without_validation_figures_or_not_run_is_refused(tmp_path: Path, capsys) -> None:
    config = _workspace(tmp_path / "ws")
    out = tmp_path / "candidate"
    assert main(["publish", "--root", str(tmp_path / "ws"), "-c", str(config), "--out", str(out), "--stage", "coarse_model"]) == 1
    assert "a candidate is a training stage" in capsys.readouterr().err
    assert main(["publish", "--root", str(tmp_path / "ws"), "-c", str(config), "--out", str(out), "--stage", "llm_model"]) == 1
    assert "no llm_model report to publish" in capsys.readouterr().err
    assert not out.exists()


def test_a_workspace_whose_items_carry_genres_also_publishes_the_differences_by_taste(tmp_path: Path) -> None:
    config = _workspace(tmp_path / "ws")
    sequences = tmp_path / "ws" / "data" / "sequences"
    items = pd.DataFrame({"item_idx": range(12), "item_id": range(100, 112), "title": "t", "genres": ["Drama", "Comedy"] * 6})
    write_parquet(items, sequences / "items.parquet")
    # user 1: Drama, Comedy before the target 100 (item_idx 0): hymirec's target
    write_parquet(pd.DataFrame({"user_idx": [0], "user_id": [1], "items": [[0, 1, 0]], "timestamps": [[1, 2, 3]]}), sequences / "sequences.parquet")
    out = tmp_path / "results" / "bench"
    assert main(["publish", "--root", str(tmp_path / "ws"), "-c", str(config), "--out", str(out)]) == 0
    by_taste = read_json(out / "paired_by_taste.json")
    assert by_taste["strata_by"] == "taste" and by_taste["models"]["sasrec"]["mean"] == read_json(out / "paired.json")["models"]["sasrec"]["mean"]
    assert list(by_taste["models"]["sasrec"]["strata"]) == ["narrow (≤ 1.00 bits)"]  # one user: every third's edge is its entropy
