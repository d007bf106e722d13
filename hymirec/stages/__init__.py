"""One module per pipeline stage, each with ``run(config, layout)``: read inputs, call the library, write outputs."""

from __future__ import annotations

import pandas as pd

from hymirec.paths import Layout
from hymirec.sequences import SequenceData


def load_sequence_data(layout: Layout) -> SequenceData:
    """Read the ``validated_sequences`` outputs back."""
    return SequenceData(
        sequences=pd.read_parquet(layout.sequences),
        items=pd.read_parquet(layout.item_map),
        users=pd.read_parquet(layout.user_map),
        stats={},
    )
