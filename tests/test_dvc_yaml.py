"""dvc.yaml and hymirec.paths.Layout describe the same files: neither may drift from the other."""

from __future__ import annotations

from pathlib import Path

import yaml

from hymirec.paths import STAGES, Layout

ROOT = Path(__file__).resolve().parents[1]


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _paths(entries: list) -> set[str]:
    return {next(iter(entry)) if isinstance(entry, dict) else entry for entry in entries}


def test_stage_names_and_commands() -> None:
    stages = _stages()
    assert tuple(stages) == STAGES
    for name, stage in stages.items():
        config = "${config}" if name == "resolved_config" else str(Layout(Path(".")).resolved_config)
        assert stage["cmd"] == f"python -m hymirec stage {name} -c {config}"
        assert (ROOT / f"hymirec/stages/{name}.py").exists()
        assert f"hymirec/stages/{name}.py" in stage["deps"]


def test_outputs_match_layout() -> None:
    layout = Layout(Path("."))
    relative = lambda path: str(path)  # noqa: E731
    expected_outs = {
        "resolved_config": {layout.resolved_config},
        "raw_logs": {layout.raw_dir},
        "validated_sequences": {layout.sequences_dir},
        "item_embeddings": {layout.embeddings_dir},
        "codebook": {layout.codebook_dir, layout.codebook_figures_dir},
        "sasrec_model": {layout.baselines_dir, layout.baselines_curves},
        "coarse_model": {layout.coarse_dir, layout.coarse_curves},
        "llm_model": {layout.llm_dir, layout.llm_curves},
        "evaluation_report": {layout.rankings_dir, layout.figures_dir, layout.evaluation_markdown, layout.history_length_breakdown},
    }
    for name, stage in _stages().items():
        assert _paths(stage["outs"]) == {relative(p) for p in expected_outs[name]}, name
        if name != "resolved_config":  # a config, no metrics
            assert _paths(stage["metrics"]) == {relative(layout.stage_metrics(name))}, name


def test_params_are_sections_of_the_resolved_config() -> None:
    """Stages read the resolved config's sections; only resolved_config reads params.yaml's choice of file."""
    from hymirec.config import HyMiRecConfig

    resolved = str(Layout(Path(".")).resolved_config)
    for name, stage in _stages().items():
        if name == "resolved_config":
            assert stage["params"] == ["config"]
            continue
        (params,) = stage["params"]
        assert list(params) == [resolved]
        assert set(params[resolved]) <= set(HyMiRecConfig.model_fields), name


def test_embedding_stages_read_their_upstream_outputs() -> None:
    layout = Layout(Path("."))
    stages = _stages()
    assert str(layout.sequences_dir) in stages["item_embeddings"]["deps"]
    assert str(layout.embeddings_dir) in stages["codebook"]["deps"]
    names = list(stages)
    assert names.index("validated_sequences") < names.index("item_embeddings") < names.index("codebook") < names.index("sasrec_model")


def test_hymirec_stages_read_the_codebook_and_feed_the_report() -> None:
    layout = Layout(Path("."))
    stages = _stages()
    assert str(layout.codebook_dir) in stages["coarse_model"]["deps"]
    assert str(layout.coarse_dir) in stages["llm_model"]["deps"]
    assert {str(layout.baselines_dir), str(layout.coarse_dir), str(layout.llm_dir)} <= set(stages["evaluation_report"]["deps"])
