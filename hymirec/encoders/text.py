"""Item text from a template over the item table's columns (``item_embeddings.template``).

"{title} ({year}). Genres: {genres}" over a MovieLens row gives
"Toy Story (1995). Genres: Animation, Children's, Comedy": list columns ("a|b|c") read as "a, b, c",
missing values as "".

An item table without some of the default template's columns (your own data: item_id and title) gets
the parts of that template it has columns for ("Toy Story"), with a warning saying so. A template you
wrote yourself is used as written: a column it names that the table lacks is a ``ConfigError``.
"""

from __future__ import annotations

import logging
import string

import pandas as pd

from hymirec.config import ConfigError, ItemEmbeddingsConfig
from hymirec.data.schema import GENRE_SEPARATOR

LIST_JOINER = ", "
DEFAULT_TEMPLATE: str = ItemEmbeddingsConfig.model_fields["template"].default
# The default template in parts, each used when the item table has its column; the title is required.
DEFAULT_TEMPLATE_PARTS = (("title", "{title}"), ("year", " ({year})"), ("genres", ". Genres: {genres}"))

logger = logging.getLogger(__name__)


def template_fields(template: str) -> list[str]:
    """Column names a template refers to, in order of first use."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    return list(dict.fromkeys(names))


def render_item_texts(items: pd.DataFrame, config: ItemEmbeddingsConfig) -> list[str]:
    """One text per row of ``items`` (same order)."""
    template = usable_template(config.template, list(items.columns))
    fields = template_fields(template)
    columns: dict[str, list[str]] = {}
    for name in fields:
        values = items[name].astype("string").fillna("")
        if name in config.list_columns:
            values = values.str.split(GENRE_SEPARATOR, regex=False).map(LIST_JOINER.join)
        columns[name] = values.tolist()
    return [template.format_map({name: columns[name][row] for name in fields}) for row in range(len(items))]


def usable_template(template: str, columns: list[str]) -> str:
    """``template`` if the item table has every column it names; for the default template, the parts of it
    the table has (logged as a warning); otherwise a ``ConfigError`` naming the missing columns."""
    missing = [name for name in template_fields(template) if name not in columns]
    if not missing:
        return template
    if template == DEFAULT_TEMPLATE and "title" in columns:
        fallback = "".join(part for column, part in DEFAULT_TEMPLATE_PARTS if column in columns)
        logger.warning(
            "item_embeddings.template=%r uses %s, which the item table lacks (columns: %s): item texts use %r instead; "
            "set item_embeddings.template to choose them",
            template, missing, columns, fallback,
        )
        return fallback
    raise ConfigError(
        f"item_embeddings.template={template!r} uses {missing}, which the item table lacks "
        f"(columns: {columns}); set item_embeddings.template to use the columns there are"
    )
