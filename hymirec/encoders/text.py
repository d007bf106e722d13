"""Item text from a template over the item table's columns (``item_embeddings.template``).

"{title} ({year}). Genres: {genres}" over a MovieLens row gives
"Toy Story (1995). Genres: Animation, Children's, Comedy": list columns ("a|b|c") read as "a, b, c",
missing values as "".
"""

from __future__ import annotations

import string

import pandas as pd

from hymirec.config import ConfigError, ItemEmbeddingsConfig
from hymirec.data.schema import GENRE_SEPARATOR

LIST_JOINER = ", "


def template_fields(template: str) -> list[str]:
    """Column names a template refers to, in order of first use."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    return list(dict.fromkeys(names))


def render_item_texts(items: pd.DataFrame, config: ItemEmbeddingsConfig) -> list[str]:
    """One text per row of ``items`` (same order)."""
    fields = template_fields(config.template)
    missing = [name for name in fields if name not in items.columns]
    if missing:
        raise ConfigError(
            f"item_embeddings.template={config.template!r} uses {missing}, which the item table lacks "
            f"(columns: {list(items.columns)}); set item_embeddings.template to use the columns there are"
        )
    columns: dict[str, list[str]] = {}
    for name in fields:
        values = items[name].astype("string").fillna("")
        if name in config.list_columns:
            values = values.str.split(GENRE_SEPARATOR, regex=False).map(LIST_JOINER.join)
        columns[name] = values.tolist()
    return [config.template.format_map({name: columns[name][row] for name in fields}) for row in range(len(items))]
