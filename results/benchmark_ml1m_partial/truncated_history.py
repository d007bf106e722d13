"""Does the history beyond the last R items carry next-item signal? Evaluate a model trained on 200-item
histories with its input cut to the last R items (no retraining): what the older items were worth to it.

python truncated_history.py ROOT CONFIG R NAME=FOLDER...  (truncated_history.txt: R = 50 for sasrec=models/baselines/sasrec
and coarse_codebook=models/coarse/codebook, then R = 20 and R = 10 for sasrec)
"""
import sys
from pathlib import Path
from hymirec.cli import configure_torch
configure_torch()
from hymirec.config import load_config
from hymirec.evaluation import evaluate
from hymirec.paths import Layout
from hymirec.sequences import split_view
from hymirec.serving import load_trained
from hymirec.stages.common import load_sequence_data

root, config, recent = Path(sys.argv[1]), load_config(Path(sys.argv[2])), int(sys.argv[3])
layout = Layout(root); data = load_sequence_data(layout)
for argument in sys.argv[4:]:
    name, folder = argument.split("=", 1)
    model = load_trained(name, Path(folder), layout)
    for split in ("valid", "test"):
        view = split_view(data.sequences, split)
        full = evaluate(model.score_items, view, config.evaluation, model_name=name, with_top_items=False).metrics["ndcg@10"]
        # masking is by the full history inside evaluate (seen items stay excluded); only the model's input is cut
        cut = evaluate(lambda histories: model.score_items([h[-recent:] for h in histories]), view, config.evaluation,
                       model_name=name, with_top_items=False).metrics["ndcg@10"]
        print(f"{name} {split}: full history {full:.4f}, last {recent} items {cut:.4f} ({cut - full:+.4f})", flush=True)
