"""Per-user paired test NDCG@10 difference from the first model among trained models of a workspace.

python paired_ranks.py ROOT CONFIG NAME=FOLDER... (the first NAME is the reference) -> paired_seed42.txt
"""
import json, sys, math
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
layout = Layout(root); data = load_sequence_data(layout); view = split_view(data.sequences, "test")
gains = {}
for argument in sys.argv[3:]:
    name, folder = argument.split("=", 1)
    ranks = evaluate(load_trained(name, Path(folder), layout).score_items, view, config.evaluation, model_name=name, with_top_items=False).ranks
    gains[name] = np.where(ranks <= 10, 1 / np.log2(ranks + 1.0), 0.0)
    print(name, round(gains[name].mean(), 4), flush=True)
ref = next(iter(gains))
for name, g in gains.items():
    if name == ref: continue
    d = g - gains[ref]
    print(f"{name} - {ref}: {d.mean():+.4f} ± {d.std(ddof=1)/math.sqrt(len(d)):.4f} (better {int((d>0).sum())} / worse {int((d<0).sum())})")
