"""The README's headline table: test metrics of the published benchmark, mean ± sample std over its seeds.

Reads the ``metrics.json`` of each published run given (by default seeds 42, 43 and 44 of
``configs/benchmark_ml1m.yaml``) and prints one markdown row per model every run trained, best mean
NDCG@10 first. ``tests/test_readme.py`` regenerates the table from the files the README cites and compares:

    .venv/bin/python benchmarks/readme_table.py results/benchmark_ml1m results/benchmark_ml1m_seed43 results/benchmark_ml1m_seed44
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

RUNS = ("results/benchmark_ml1m", "results/benchmark_ml1m_seed43", "results/benchmark_ml1m_seed44")
CONFIG = "configs/benchmark_ml1m.yaml"
METRICS = (("ndcg@10", "NDCG@10", 4), ("recall@10", "Recall@10", 4), ("ndcg@50", "NDCG@50", 4), ("mrr", "MRR", 4),
           ("ild@10", "ILD@10", 3))
MODELS = {  # report name -> what the row is
    "hymirec": "HyMiRec (K = 4)",
    "hymirec_k1": "HyMiRec, K = 1 (ablation)",
    "sasrec": "SASRec",
    "coarse_exact": "coarse model, exact history",
    "coarse_codebook": "coarse model, codebook history",
    "popularity": "Popularity",
}


def _cell(values: list[float], digits: int) -> str:
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(runs: list[Path]) -> str:
    """Markdown table of every model all ``runs`` trained: mean ± sample std of each test metric."""
    tests = [json.loads((Path(run) / "metrics.json").read_text())["test"] for run in runs]
    shared = [model for model in MODELS if all(model in test for test in tests)]
    shared.sort(key=lambda model: -statistics.mean(test[model]["ndcg@10"] for test in tests))
    lines = ["| model | config | " + " | ".join(label for _, label, _ in METRICS) + " |",
             "|---|---|" + "---:|" * len(METRICS)]
    for model in shared:
        cells = [_cell([test[model][key] for test in tests], digits) for key, _, digits in METRICS]
        lines.append(f"| {MODELS[model]} (`{model}`) | `{CONFIG}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table([Path(run) for run in (sys.argv[1:] or RUNS)]), end="")
