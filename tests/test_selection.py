"""The one selection rule: validation decides; rewriting every test figure moves no decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hymirec.cli import main
from hymirec.experiments.selection import champion, choose, read_candidates, selection_markdown


def _run(folder: Path, valid: dict[str, float], test: dict[str, float], round_robin: dict[str, tuple[float, float]] | None = None) -> Path:
    folder.mkdir(parents=True)
    metrics = {"valid": {m: {"ndcg@10": v} for m, v in valid.items()}, "test": {m: {"ndcg@10": v} for m, v in test.items()}}
    if round_robin:
        metrics["round_robin"] = {"valid": {m: {"ndcg@10": v} for m, (v, _) in round_robin.items()},
                                  "test": {m: {"ndcg@10": t} for m, (_, t) in round_robin.items()}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    return {
        "lr_1e-2": _run(tmp_path / "lr_1e-2", {"sasrec": 0.176, "hymirec": 0.181, "popularity": 0.02},
                        {"sasrec": 0.166, "hymirec": 0.180, "popularity": 0.018}, {"hymirec": (0.183, 0.170)}),
        "lr_1e-3": _run(tmp_path / "lr_1e-3", {"sasrec": 0.177, "hymirec": 0.179, "popularity": 0.02},
                        {"sasrec": 0.170, "hymirec": 0.185, "popularity": 0.018}),
    }


def test_each_model_gets_its_best_validation_configuration_and_merge(runs: dict[str, Path]) -> None:
    chosen = choose(read_candidates(runs))
    assert (chosen["sasrec"].run, chosen["sasrec"].merge) == ("lr_1e-3", "as trained")
    assert (chosen["hymirec"].run, chosen["hymirec"].merge) == ("lr_1e-2", "round_robin")  # 0.183 on validation
    assert champion(chosen).model == "hymirec"


def test_no_test_figure_moves_a_decision(runs: dict[str, Path]) -> None:
    before = choose(read_candidates(runs))
    for folder in runs.values():  # every test figure rewritten, the best validation ones made the worst on test
        metrics = json.loads((folder / "metrics.json").read_text())
        for table in [metrics["test"], *([metrics["round_robin"]["test"]] if "round_robin" in metrics else [])]:
            for values in table.values():
                values["ndcg@10"] = 1.0 - values["ndcg@10"]
        (folder / "metrics.json").write_text(json.dumps(metrics))
    assert choose(read_candidates(runs)) == before


def test_the_markdown_lists_every_candidate_and_the_chosen_test_figures(runs: dict[str, Path], tmp_path: Path, capsys) -> None:
    text = selection_markdown(runs)
    assert "| sasrec | 2 | lr_1e-3 | as trained | 0.1770 | **chosen** |" in text
    assert "| sasrec | 2 | lr_1e-2 | as trained | 0.1760 | not chosen |" in text
    assert "| hymirec | lr_1e-2 | round_robin | 0.1830 | 0.1700 |" in text  # its test figure, read after the choice
    assert "Champion (best on validation): **hymirec** (lr_1e-2, round_robin)" in text
    out = tmp_path / "selection.md"
    assert main(["select", str(runs["lr_1e-2"]), str(runs["lr_1e-3"]), "--out", str(out)]) == 0
    assert out.read_text() == text


def test_a_run_without_validation_metrics_is_refused(tmp_path: Path, capsys) -> None:
    _run(tmp_path / "empty", {}, {"sasrec": 0.1})
    assert main(["select", str(tmp_path / "empty"), "--out", str(tmp_path / "s.md")]) == 1
    assert "no validation metrics to select on" in capsys.readouterr().err


def test_a_one_stage_experiment_competes_on_its_training_report_and_has_no_test_figure(runs: dict[str, Path], tmp_path: Path) -> None:
    stage_only = tmp_path / "sasrec_constant"
    stage_only.mkdir()
    (stage_only / "sasrec_model.json").write_text(json.dumps({"sasrec": {"best_epoch": 85, "valid": {"ndcg@10": 0.178}}}))
    text = selection_markdown({**runs, "sasrec_constant": stage_only})
    assert "| sasrec | 3 | sasrec_constant | as trained | 0.1780 | **chosen** |" in text
    assert "| sasrec | sasrec_constant | as trained | 0.1780 | — |" in text
    assert "the published run that trains this configuration gives its test figure" in text
    assert "| hymirec | lr_1e-2 | round_robin | 0.1830 | 0.1700 |" in text  # the other models' choices stand


def test_a_folder_with_neither_metrics_nor_a_training_report_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "nothing").mkdir()
    assert main(["select", str(tmp_path / "nothing"), "--out", str(tmp_path / "s.md")]) == 1
    assert "no validation metrics to select on (no metrics.json, nor sasrec_model.json or llm_model.json)" in capsys.readouterr().err


def test_a_run_that_evaluated_a_candidates_own_model_is_that_configuration_with_its_test_figure(runs: dict[str, Path], tmp_path: Path) -> None:
    """The published run adopted the chosen candidate's model (same validation figure to the last bit): one
    configuration, counted once under the candidate's name, both merges of it, and the run's test figures."""
    stage_only = tmp_path / "hymirec_40_epochs"
    stage_only.mkdir()
    (stage_only / "llm_model.json").write_text(json.dumps({"hymirec": {"valid": {"ndcg@10": 0.181}}}))  # lr_1e-2's hymirec
    text = selection_markdown({"hymirec_40_epochs": stage_only, **runs})
    assert "| hymirec | 2 | hymirec_40_epochs (its model evaluated in lr_1e-2) | as trained | 0.1810 | not chosen |" in text
    assert "| hymirec | 2 | hymirec_40_epochs (its model evaluated in lr_1e-2) | round_robin | 0.1830 | **chosen** |" in text
    assert "| hymirec | hymirec_40_epochs (its model evaluated in lr_1e-2) | round_robin | 0.1830 | 0.1700 |" in text
    assert "| hymirec | 2 | lr_1e-2 |" not in text  # no second row for the same model
    assert "| sasrec | 2 | lr_1e-3 | as trained | 0.1770 | **chosen** |" in text  # other models untouched
    assert "—" not in text
