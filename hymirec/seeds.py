"""Mean ± standard deviation of each model's test metrics over published runs that differ only in their seed.

One seed cannot tell a 3 % difference from noise: the converged benchmark trains hymirec and sasrec at
three seeds (issue 10). Each run is a results directory written by ``hymirec publish``; its seed is read
from the config copy published beside the metrics, and the runs must share everything else in it
(checked, but for ``FREE_FIELDS``: a summary over different settings would be a summary of nothing). A model enters the summary
with the runs that trained it (``n``); the standard deviation is the sample one (n − 1), absent for one run.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import yaml

from hymirec.io import read_json

SUMMARISED_METRICS = ("ndcg@10", "recall@10", "ndcg@50", "mrr", "ild@10")


def run_config(run: Path) -> dict[str, Any]:
    """The config a published run names in its provenance, as published beside its metrics."""
    provenance = read_json(run / "provenance.json")
    return yaml.safe_load((run / provenance["config"]).read_text(encoding="utf-8"))


# what may differ between the runs of one study: the seed, where runs are tracked, and which models a run trains
# (a seed run may train only the models the study repeats)
FREE_FIELDS = (("seed",), ("tracking",), ("llm", "variants"), ("sasrec", "train_text_twin"), ("comirec", "enabled"),
               ("coarse", "train_exact_twin"))


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without its ``FREE_FIELDS``."""
    settings = {key: dict(value) if isinstance(value, dict) else value for key, value in config.items()}
    for path in FREE_FIELDS:
        section = settings if len(path) == 1 else settings.get(path[0], {})
        section.pop(path[-1], None)
    return settings


def seed_summary(runs: list[Path]) -> dict[str, Any]:
    """{"seeds": [...], "runs": [...], "models": {model: {metric: {"mean", "std", "values"}, "n"}}} over ``runs``."""
    configs = [run_config(run) for run in runs]
    seeds = [config["seed"] for config in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"runs {[str(run) for run in runs]} repeat a seed: {seeds}")
    for run, config in zip(runs[1:], configs[1:]):
        if _settings(config) != _settings(configs[0]):
            raise ValueError(f"{run} was run with other settings than {runs[0]} (beyond {FREE_FIELDS}): not a seed study")
    tests = [read_json(run / "metrics.json")["test"] for run in runs]
    models: dict[str, Any] = {}
    for model in sorted({name for test in tests for name in test}):
        trained = [test[model] for test in tests if model in test]
        summary: dict[str, Any] = {"n": len(trained)}
        for metric in SUMMARISED_METRICS:
            values = [metrics[metric] for metrics in trained if metric in metrics]
            if values:
                summary[metric] = {
                    "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else None,
                    "values": values,
                }
        models[model] = summary
    return {"seeds": seeds, "runs": [run.name for run in runs], "models": models}


def summary_markdown(summary: dict[str, Any]) -> str:
    """A table of mean ± std (sample) per model and metric, best mean NDCG@10 first."""
    header = "| model | n | " + " | ".join(SUMMARISED_METRICS) + " |"
    lines = [f"Test metrics over seeds {', '.join(map(str, summary['seeds']))} (mean ± sample std).", "", header,
             "|---|---:|" + "---:|" * len(SUMMARISED_METRICS)]
    ranked = sorted(summary["models"].items(), key=lambda item: -item[1].get("ndcg@10", {}).get("mean", float("-inf")))
    for model, metrics in ranked:
        cells = []
        for metric in SUMMARISED_METRICS:
            value = metrics.get(metric)
            if value is None:
                cells.append("—")
            elif value["std"] is None:
                cells.append(f"{value['mean']:.4f}")
            else:
                cells.append(f"{value['mean']:.4f} ± {value['std']:.4f}")
        lines.append(f"| {model} | {metrics['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
