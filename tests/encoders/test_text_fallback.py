"""An item table with fewer columns than the default template names (your own data: item_id, title)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from hymirec.config import ConfigError, ItemEmbeddingsConfig
from hymirec.encoders import render_item_texts
from hymirec.encoders.text import DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_PARTS

TITLES = pd.DataFrame({"item_id": ["1", "2"], "title": ["Toy Story", "Heat"]})


def test_the_parts_are_the_default_template() -> None:
    assert "".join(part for _, part in DEFAULT_TEMPLATE_PARTS) == DEFAULT_TEMPLATE == ItemEmbeddingsConfig().template


def test_only_a_title_column_renders_the_titles_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hymirec.encoders.text"):
        assert render_item_texts(TITLES, ItemEmbeddingsConfig()) == ["Toy Story", "Heat"]
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert "['year', 'genres'], which the item table lacks" in record.getMessage() and "'{title}' instead" in record.getMessage()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({"year": ["1995", "1995"]}, "Toy Story (1995)"), ({"genres": ["Animation|Comedy", "Action"]}, "Toy Story. Genres: Animation, Comedy")],
)
def test_the_default_template_keeps_the_parts_the_table_has(extra: dict, expected: str) -> None:
    assert render_item_texts(TITLES.assign(**extra), ItemEmbeddingsConfig())[0] == expected


def test_no_title_or_a_template_of_ones_own_is_still_an_error() -> None:
    with pytest.raises(ConfigError, match=r"uses \['title', 'year', 'genres'\]"):
        render_item_texts(pd.DataFrame({"item_id": ["1"], "name": ["x"]}), ItemEmbeddingsConfig())
    with pytest.raises(ConfigError, match=r"uses \['year'\]"):
        render_item_texts(TITLES, ItemEmbeddingsConfig(template="{title} ({year})"))
