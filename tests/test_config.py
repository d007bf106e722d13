from __future__ import annotations

from pathlib import Path

import pytest

from hymirec.config import ConfigError, load_config

CONFIGS = sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    load_config(path)


def test_unknown_key_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("sasrec:\n  hiden_size: 64\n")
    with pytest.raises(ConfigError, match=r"(?s)typo\.yaml.*sasrec\.hiden_size.*Extra inputs"):
        load_config(path)


def test_cross_field_rules_quote_the_values(tmp_path: Path) -> None:
    path = tmp_path / "heads.yaml"
    path.write_text("sasrec:\n  hidden_size: 64\n  num_heads: 3\n")
    with pytest.raises(ConfigError, match=r"sasrec\n(.|\n)*hidden_size=64 is not divisible by num_heads=3"):
        load_config(path)
    path.write_text("data:\n  source: files\n")
    with pytest.raises(ConfigError, match="needs data.interactions_path"):
        load_config(path)
    path.write_text("coarse:\n  hidden_size: 32\nllm:\n  interest_size: 64\n")
    with pytest.raises(ConfigError, match=r"warm_start_item_tower needs llm.interest_size \(64\) == coarse.hidden_size \(32\)"):
        load_config(path)
    path.write_text("coarse:\n  hidden_size: 32\nllm:\n  interest_size: 64\n  warm_start_item_tower: false\n")
    assert load_config(path).llm.interest_size == 64


def test_the_serving_section_defaults_and_guards_ivf_training(tmp_path: Path) -> None:
    path = tmp_path / "serving.yaml"
    path.write_text("seed: 1\n")
    assert load_config(path).serving.exact_max_items == 100_000  # configs without a serving section keep working
    path.write_text("serving:\n  exact_max_items: 20000\n")
    with pytest.raises(ConfigError, match=r"serving.exact_max_items=20000 is below \(39 · serving.ivf_lists_per_sqrt_item=4.0\)² = 24,336"):
        load_config(path)
    path.write_text("serving:\n  exact_max_items: 20000\n  ivf_lists_per_sqrt_item: 2.0\n")
    assert load_config(path).serving.ivf_lists_per_sqrt_item == 2.0
    path.write_text("serving:\n  ivf_train_points_per_list: 20\n")
    with pytest.raises(ConfigError, match=r"serving.ivf_train_points_per_list\n.*greater than or equal to 39"):
        load_config(path)


def test_a_config_extends_another_and_changes_only_what_it_names(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("seed: 1\nsasrec:\n  hidden_size: 32\n  num_layers: 3\nllm:\n  variants: [hymirec, hymirec_k1]\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text("extends: ../base.yaml\nsasrec:\n  num_layers: 1\nllm:\n  variants: [hymirec]\n")
    (tmp_path / "grandchild.yaml").write_text("extends: sub/child.yaml\nseed: 7\n")
    config = load_config(tmp_path / "grandchild.yaml")
    assert config.seed == 7
    assert (config.sasrec.hidden_size, config.sasrec.num_layers) == (32, 1)  # mappings merge key by key
    assert [v.value for v in config.llm.variants] == ["hymirec"]  # a list replaces the parent's


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_the_resolved_config_reads_back_as_the_same_config(path: Path, tmp_path: Path) -> None:
    from hymirec.config import dump_config

    config = load_config(path)
    (tmp_path / "resolved.yaml").write_text(dump_config(config))
    assert load_config(tmp_path / "resolved.yaml") == config


def test_an_extends_cycle_or_a_missing_parent_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: extends itself"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read config"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("extends: [a.yaml, b.yaml]\n")
    with pytest.raises(ConfigError, match=r"d\.yaml: extends: must name one config file"):
        load_config(tmp_path / "d.yaml")


def test_fewer_targets_than_interests_is_refused_quoting_both(tmp_path: Path) -> None:
    """W < K leaves an interest with no group of targets at every position: a dead interest by construction."""
    path = tmp_path / "starved.yaml"
    path.write_text("llm:\n  num_interests: 4\n  target_window: 3\n")
    with pytest.raises(ConfigError, match=r"llm.target_window=3 < llm.num_interests=4"):
        load_config(path)
    path.write_text("llm:\n  num_interests: 4\n  target_window: 4\n")
    assert load_config(path).llm.target_window == 4


def test_the_typed_defaults_are_the_base_configs_values() -> None:
    """configs/default.yaml is the base every config extends; a field it leaves out means what it says there."""
    from hymirec.config import HyMiRecConfig

    base = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    assert HyMiRecConfig() == load_config(base)
