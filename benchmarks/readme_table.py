"""The README's headline table: test metrics of the published benchmark, mean ± sample std over its seeds.

Reads the ``metrics.json`` of each published run given (by default seed 42 of ``configs/benchmark_ml1m.yaml``,
the seeds of which are published one by one) and prints one markdown row per model every run trained, best
mean NDCG@10 first; one run gives its figures alone, with no spread. Which config each run read is the
README's text around the table (the seed runs read ``configs/benchmark_ml1m_seed43.yaml`` …, one config per
run, not per row) and each run's ``provenance.json``. ``tests/test_readme.py`` regenerates the
table from the files the README cites and compares:

    .venv/bin/python benchmarks/readme_table.py results/benchmark_ml1m
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

RUNS = ("results/benchmark_ml1m",)
METRICS = (("ndcg@10", "NDCG@10", 4), ("recall@10", "Recall@10", 4), ("ndcg@50", "NDCG@50", 4), ("mrr", "MRR", 4),
           ("ild@10", "ILD@10", 3))
MODELS = {  # report name -> what the row is
    "hymirec": "HyMiRec (K = {interests})",  # K from the run's report: the config's choice, not this file's
    "hymirec_k1": "HyMiRec, K = 1 (ablation)",
    "hymirec_no_coarse": "HyMiRec without the coarse model (ablation)",
    "hymirec_exact_history": "HyMiRec, coarse model on exact history (ablation)",
    "hymirec_recent_only": "HyMiRec reading only the recent window (ablation)",
    "sasrec": "SASRec",
    "sasrec_text": "SASRec with item text",
    "comirec": "ComiRec-SA",
    "coarse_exact": "coarse model, exact history",
    "coarse_codebook": "coarse model, codebook history",
    "popularity": "Popularity",
}


def _cell(values: list[float], digits: int) -> str:
    if len(values) == 1:  # one seed has no spread to show
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _interests(reports: list[dict], model: str) -> str:
    """How many interests ``model`` serves in every run (its report's per-interest shares), e.g. "3"."""
    counts = {len(report.get("interests", {}).get(model, {}).get("target_share", [None])) for report in reports}
    if len(counts) != 1:
        raise ValueError(f"{model}: the runs disagree on its number of interests {sorted(counts)}")
    return str(counts.pop())


def table(runs: list[Path]) -> str:
    """Markdown table of every model all ``runs`` trained: mean ± sample std of each test metric, and of the
    validation NDCG@10 every choice was made on."""
    reports = [json.loads((Path(run) / "metrics.json").read_text()) for run in runs]
    tests = [report["test"] for report in reports]
    shared = [model for model in MODELS if all(model in test for test in tests)]
    shared.sort(key=lambda model: -statistics.mean(test[model]["ndcg@10"] for test in tests))
    lines = ["| model | " + " | ".join(label for _, label, _ in METRICS) + " | valid NDCG@10 |",
             "|---|" + "---:|" * (len(METRICS) + 1)]
    for model in shared:
        cells = [_cell([test[model][key] for test in tests], digits) for key, _, digits in METRICS]
        cells.append(_cell([report["valid"][model]["ndcg@10"] for report in reports], 4))  # what every choice was made on
        label = MODELS[model].format(interests=_interests(reports, model))
        lines.append(f"| {label} (`{model}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table([Path(run) for run in (sys.argv[1:] or RUNS)]), end="")
