"""hymirec seeds: mean ± std over published runs that differ only in their seed (and which models they train)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hymirec.cli import main
from hymirec.experiments.seeds import seed_summary
from hymirec.io import read_json, write_json, write_text

CONFIG = "seed: {seed}\nllm:\n  learning_rate: {lr}\n  variants: {variants}\ntracking:\n  experiment_name: x{seed}\n"


def _run(results: Path, name: str, seed: int, test: dict, lr: float = 0.003, variants: str = "[hymirec]") -> Path:
    run = results / name
    write_text(CONFIG.format(seed=seed, lr=lr, variants=variants), run / "study.yaml")
    write_json({"config": "study.yaml"}, run / "provenance.json")
    write_json({"test": test, "valid": {}}, run / "metrics.json")
    return run


def test_seeds_reports_mean_and_sample_std_per_model_with_the_runs_that_trained_it(tmp_path: Path, capsys) -> None:
    runs = [
        _run(tmp_path, "s42", 42, {"hymirec": {"ndcg@10": 0.10, "ild@10": 0.5}, "comirec": {"ndcg@10": 0.05}}, variants="[hymirec, hymirec_k1]"),
        _run(tmp_path, "s43", 43, {"hymirec": {"ndcg@10": 0.12, "ild@10": 0.7}}),
        _run(tmp_path, "s44", 44, {"hymirec": {"ndcg@10": 0.14, "ild@10": 0.6}}),
    ]
    assert main(["seeds", *map(str, runs), "--out", str(tmp_path / "summary")]) == 0
    summary = read_json(tmp_path / "summary" / "seeds.json")
    assert summary["seeds"] == [42, 43, 44]
    hymirec = summary["models"]["hymirec"]
    assert hymirec["n"] == 3 and hymirec["ndcg@10"]["mean"] == pytest.approx(0.12) and hymirec["ndcg@10"]["std"] == pytest.approx(0.02)
    assert summary["models"]["comirec"] == {"n": 1, "ndcg@10": {"mean": 0.05, "std": None, "values": [0.05]}}
    table = (tmp_path / "summary" / "seeds.md").read_text()
    assert "| hymirec | 3 | 0.1200 ± 0.0200 |" in table and "| comirec | 1 | 0.0500 |" in table
    assert table.index("hymirec") < table.index("comirec")  # best mean NDCG@10 first


def test_seeds_pairs_each_model_with_hymirec_over_the_runs_that_trained_both(tmp_path: Path) -> None:
    runs = [
        _run(tmp_path, "s42", 42, {"hymirec": {"ndcg@10": 0.10}, "sasrec": {"ndcg@10": 0.09}, "comirec": {"ndcg@10": 0.05}}),
        _run(tmp_path, "s43", 43, {"hymirec": {"ndcg@10": 0.14}, "sasrec": {"ndcg@10": 0.12}}),
        _run(tmp_path, "s44", 44, {"hymirec": {"ndcg@10": 0.12}, "sasrec": {"ndcg@10": 0.12}}),
    ]
    assert main(["seeds", *map(str, runs), "--out", str(tmp_path / "summary")]) == 0
    paired = read_json(tmp_path / "summary" / "seeds.json")["paired"]
    assert paired["reference"] == "hymirec" and set(paired["models"]) == {"sasrec"}  # comirec: one run, nothing to pair
    sasrec = paired["models"]["sasrec"]
    assert sasrec["n"] == 3 and sasrec["ndcg@10"]["values"] == pytest.approx([-0.01, -0.02, 0.0])
    assert sasrec["ndcg@10"]["mean"] == pytest.approx(-0.01) and sasrec["ndcg@10"]["std"] == pytest.approx(0.01)
    assert "ild@10" not in sasrec  # neither run has it
    assert "| sasrec | 3 | -0.0100 ± 0.0100 | — |" in (tmp_path / "summary" / "seeds.md").read_text()


def test_runs_with_other_settings_or_a_repeated_seed_are_refused(tmp_path: Path, capsys) -> None:
    first = _run(tmp_path, "a", 42, {"hymirec": {"ndcg@10": 0.1}})
    other_lr = _run(tmp_path, "b", 43, {"hymirec": {"ndcg@10": 0.1}}, lr=0.01)
    same_seed = _run(tmp_path, "c", 42, {"hymirec": {"ndcg@10": 0.1}})
    assert main(["seeds", str(first), str(other_lr), "--out", str(tmp_path / "out")]) == 1
    assert "other settings" in capsys.readouterr().err
    assert main(["seeds", str(first), str(same_seed), "--out", str(tmp_path / "out")]) == 1
    assert "repeat a seed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_runs_that_train_other_companion_models_are_one_study(tmp_path: Path) -> None:
    """The long-history protocol's seed 42 also trains SASRec on the whole history; its seeds 43 and 44 do not."""
    first = _run(tmp_path, "s42", 42, {"hymirec": {"ndcg@10": 0.10}, "sasrec_full_history": {"ndcg@10": 0.09}})
    write_text(CONFIG.format(seed=42, lr=0.003, variants="[hymirec]") + "sasrec:\n  full_history_length: 2314\n", first / "study.yaml")
    second = _run(tmp_path, "s43", 43, {"hymirec": {"ndcg@10": 0.12}})
    write_text(CONFIG.format(seed=43, lr=0.003, variants="[hymirec]") + "sasrec:\n  full_history_length: null\n", second / "study.yaml")
    assert main(["seeds", str(first), str(second), "--out", str(tmp_path / "out")]) == 0
    assert read_json(tmp_path / "out" / "seeds.json")["models"]["sasrec_full_history"]["n"] == 1
    write_text(CONFIG.format(seed=43, lr=0.003, variants="[hymirec]") + "sasrec:\n  max_length: 50\n", second / "study.yaml")
    assert main(["seeds", str(first), str(second), "--out", str(tmp_path / "out2")]) == 1  # a setting, not a companion


def test_a_run_is_read_by_its_resolved_config_and_an_extending_config_alone_is_refused(tmp_path: Path, capsys) -> None:
    # the seed-43 run publishes a config that extends seed 42's (not beside it) and the settings it resolved to
    first = _run(tmp_path, "s42", 42, {"hymirec": {"ndcg@10": 0.10}})
    second = _run(tmp_path, "s43", 43, {"hymirec": {"ndcg@10": 0.12}})
    write_text("extends: base.yaml\nseed: 43\n", second / "study.yaml")
    assert main(["seeds", str(first), str(second), "--out", str(tmp_path / "out")]) == 1
    assert "extends 'base.yaml'" in capsys.readouterr().err and not (tmp_path / "out").exists()
    write_text(CONFIG.format(seed=43, lr=0.003, variants="[hymirec]"), second / "resolved_config.yaml")
    assert main(["seeds", str(first), str(second), "--out", str(tmp_path / "out")]) == 0
    assert read_json(tmp_path / "out" / "seeds.json")["seeds"] == [42, 43]
    write_text(CONFIG.format(seed=43, lr=0.01, variants="[hymirec]"), second / "resolved_config.yaml")
    assert main(["seeds", str(first), str(second), "--out", str(tmp_path / "out2")]) == 1  # the resolved settings decide
    assert "other settings" in capsys.readouterr().err


RESULTS = Path(__file__).resolve().parents[1] / "results"
SUMMARIES = sorted(RESULTS.glob("*/seeds.json"))


@pytest.mark.parametrize("summary_path", SUMMARIES, ids=lambda path: path.parent.name)
def test_committed_seed_summaries_are_what_their_published_runs_give(summary_path: Path) -> None:
    summary = read_json(summary_path)
    assert seed_summary([RESULTS / run for run in summary["runs"]]) == summary


def _grouped(run: Path, name: str, strata: dict[str, dict[str, float]]) -> None:
    """A published per-user difference file ``name`` whose models have these per-group means."""
    write_json({"reference": "hymirec", "models": {model: {"mean": 0.0, "strata": {group: {"mean": mean, "users": 5} for group, mean in groups.items()}}
                                                   for model, groups in strata.items()}}, run / name)


def test_seeds_pairs_each_group_of_users_seed_by_seed_where_the_runs_publish_their_groups(tmp_path: Path) -> None:
    runs = [_run(tmp_path, f"s{seed}", seed, {"hymirec": {"ndcg@10": 0.1}, "sasrec": {"ndcg@10": 0.1}}) for seed in (42, 43, 44)]
    for run, shift in zip(runs, (0.0, 0.01, 0.02)):
        _grouped(run, "paired.json", {"sasrec": {"51-200": -0.01 + shift, "0-50": shift, "> 50": 0.03 + shift, "501+": shift}})
    lacking = read_json(runs[2] / "paired.json")
    del lacking["models"]["sasrec"]["strata"]["501+"]  # a stratum one run lacks is left out
    write_json(lacking, runs[2] / "paired.json")
    _grouped(runs[0], "paired_by_taste.json", {"sasrec": {"broad (> 3 bits)": 0.02, "narrow (≤ 2 bits)": 0.0}})
    _grouped(runs[1], "paired_by_taste.json", {"sasrec": {"broad (> 3 bits)": 0.04, "narrow (≤ 2 bits)": 0.0}})
    assert main(["seeds", *map(str, runs), "--out", str(tmp_path / "summary")]) == 0
    groups = read_json(tmp_path / "summary" / "seeds.json")["paired_groups"]
    by_length = groups["history length"]["sasrec"]
    assert by_length["n"] == 3 and set(by_length) == {"n", "0-50", "51-200", "> 50"}  # 501+ dropped
    assert by_length["> 50"]["values"] == pytest.approx([0.03, 0.04, 0.05]) and by_length["> 50"]["std"] == pytest.approx(0.01)
    by_taste = groups["taste"]["sasrec"]
    assert by_taste["n"] == 2 and by_taste["broad (> 3 bits)"]["mean"] == pytest.approx(0.03)
    table = (tmp_path / "summary" / "seeds.md").read_text()
    assert "| sasrec | > 50 | 3 | +0.0400 ± 0.0100 |" in table and "| sasrec | broad (> 3 bits) | 2 | +0.0300 ± 0.0141 |" in table
    rows = [table.index(f"| sasrec | {group} |") for group in ("0-50", "51-200", "> 50", "narrow (≤ 2 bits)", "broad (> 3 bits)")]
    assert rows == sorted(rows)  # as a reader scans them, not as the files sort their keys
