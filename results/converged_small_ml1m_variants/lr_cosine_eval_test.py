"""Test and validation NDCG@10 of one trained model of a workspace: python eval_test.py ROOT NAME FOLDER CONFIG."""
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
root, name, folder, config = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), load_config(Path(sys.argv[4]))
layout = Layout(root)
data = load_sequence_data(layout)
model = load_trained(name, folder, layout)
for split in ("valid", "test"):
    result = evaluate(model.score_items, split_view(data.sequences, split), config.evaluation, model_name=name, with_top_items=False)
    print(name, split, {k: round(v, 4) for k, v in result.metrics.items() if k in ("ndcg@10", "recall@10")})
