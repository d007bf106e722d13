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
