"""Per-user paired test NDCG@10 difference from the first model, split by whether the user has a long history.

Users whose test history fits in the LLM window (<= recent_items items) give every HyMiRec variant the
same input (no context tokens), so their difference measures training noise alone; users with history
before the window measure what the context adds on top of it.

python paired_by_context.py ROOT CONFIG NAME=FOLDER... (the first NAME is the reference)
"""
import math, sys
from pathlib import Path
import numpy as np
from hymirec.cli import configure_torch
configure_torch()
from hymirec.config import load_config
from hymirec.evaluation import evaluate
from hymirec.paths import Layout
from hymirec.sequences import split_view
from hymirec.serving import load_trained
from hymirec.stages.common import load_sequence_data

root, config = Path(sys.argv[1]), load_config(Path(sys.argv[2]))
layout = Layout(root); data = load_sequence_data(layout)
for split in ("valid", "test"):
    view = split_view(data.sequences, split)
    lengths = np.array([len(h) for h in view.histories])
    groups = {"all": lengths >= 0, f"history <= {config.llm.recent_items}": lengths <= config.llm.recent_items,
              f"history > {config.llm.recent_items}": lengths > config.llm.recent_items}
    gains = {}
    for argument in sys.argv[3:]:
        name, folder = argument.split("=", 1)
        ranks = evaluate(load_trained(name, Path(folder), layout).score_items, view, config.evaluation, model_name=name, with_top_items=False).ranks
        gains[name] = np.where(ranks <= 10, 1 / np.log2(ranks + 1.0), 0.0)
    ref = next(iter(gains))
    print(f"## {split}")
    for group, mask in groups.items():
        print(f"{group}: {int(mask.sum())} users; " + ", ".join(f"{n} {g[mask].mean():.4f}" for n, g in gains.items()))
        for name, g in gains.items():
            if name == ref: continue
            d = (g - gains[ref])[mask]
            print(f"  {name} - {ref}: {d.mean():+.4f} ± {d.std(ddof=1)/math.sqrt(len(d)):.4f}")
    sys.stdout.flush()
