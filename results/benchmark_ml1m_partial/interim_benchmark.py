"""Interim figures of a benchmark workspace whose llm_model stage has not finished every variant.

python interim_benchmark.py ROOT CONFIG OUT.json NAME=FOLDER...: valid and test metrics (full ranking, the report's
metrics incl. ILD@10) and each model's training summary (best epoch, epochs, seconds).
"""
import json, sys
from pathlib import Path
from hymirec.cli import configure_torch
configure_torch()
from hymirec.config import load_config
from hymirec.evaluation import evaluate
from hymirec.io import read_json
from hymirec.paths import Layout
from hymirec.sequences import split_view
from hymirec.serving import load_trained
from hymirec.stages.common import item_categories, load_sequence_data

root, config, out = Path(sys.argv[1]), load_config(Path(sys.argv[2])), Path(sys.argv[3])
layout = Layout(root)
data = load_sequence_data(layout)
categories = item_categories(data.items)
result = read_json(out) if out.exists() else {}
for argument in sys.argv[4:]:
    name, folder = argument.split("=", 1)
    model = load_trained(name, Path(folder), layout)
    summary = read_json(Path(folder) / "summary.json")
    entry = {field: summary[field] for field in ("best_epoch", "epochs_trained", "train_seconds")}
    for split in ("valid", "test"):
        metrics = evaluate(model.score_items, split_view(data.sequences, split), config.evaluation, model_name=name,
                           item_categories=categories).metrics
        entry[split] = {key: round(float(value), 4) for key, value in sorted(metrics.items())}
    result[name] = entry
    print(name, "valid", entry["valid"]["ndcg@10"], "test", entry["test"]["ndcg@10"], "ild@10", entry["test"].get("ild@10"), flush=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
