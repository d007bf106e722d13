"""Item text from the configured template."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from hymirec.config import ConfigError, ItemEmbeddingsConfig
from hymirec.encoders import render_item_texts

ITEMS = pd.DataFrame(
    {
        "item_idx": [0, 1, 2],
        "item_id": ["1", "2", "3"],
        "title": ["Toy Story", "Heat", "Alien"],
        "year": ["1995", "1995", None],
        "genres": ["Animation|Children's|Comedy", "Action", np.nan],
    }
)


def test_default_template_reads_lists_and_missing_values() -> None:
    assert render_item_texts(ITEMS, ItemEmbeddingsConfig()) == [
        "Toy Story (1995). Genres: Animation, Children's, Comedy",
        "Heat (1995). Genres: Action",
        "Alien (). Genres: ",
    ]


def test_custom_template_and_raw_list_columns() -> None:
    config = ItemEmbeddingsConfig(template="{genres} | {title} #{item_id}", list_columns=())
    assert render_item_texts(ITEMS, config)[0] == "Animation|Children's|Comedy | Toy Story #1"


def test_unknown_column_names_the_column_and_the_columns_there_are() -> None:
    with pytest.raises(ConfigError, match=r"uses \['director'\].*columns: \['item_idx', 'item_id', 'title'"):
        render_item_texts(ITEMS, ItemEmbeddingsConfig(template="{title} by {director}"))


@pytest.mark.parametrize("template", ["no fields", "{title", "{0}"])
def test_template_must_name_columns(template: str) -> None:
    with pytest.raises(ValidationError, match="item_embeddings.template"):
        ItemEmbeddingsConfig(template=template)


def test_causal_lm_needs_a_model_path() -> None:
    with pytest.raises(ValidationError, match="causal_lm needs item_embeddings.model_path"):
        ItemEmbeddingsConfig(encoder="causal_lm")
