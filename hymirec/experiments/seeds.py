"""Mean ± standard deviation of each model's test metrics over published runs that differ only in their seed.

One seed cannot tell a 3 % difference from noise: the converged benchmark trains hymirec and sasrec at
three seeds (issue 10). Each run is a results directory written by ``hymirec publish``; its seed is read
from the resolved config published beside the metrics, and the runs must share everything else in it
(checked, but for ``FREE_FIELDS``: a summary over different settings would be a summary of nothing). A model enters the summary
with the runs that trained it (``n``); the standard deviation is the sample one (n − 1), absent for one run.

Two models' means, each ± its spread over seeds, hide how much of that spread they share: the models of one
run share what its seed drew (the codebook, the coarse model the LLM variants read, the training windows).
The summary therefore also gives each model's
*paired* difference from the reference model (``hymirec``), seed by seed over the runs that trained both,
whose standard deviation is the one that tells a difference from noise. A method's claim is often about some
users (long histories, broad taste): where the runs publish their per-user differences by group of users
(``paired.json`` by history length, ``paired_by_taste.json`` by taste diversity), the summary gives each
group's difference seed by seed the same way (``paired_groups``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hymirec.config import EXTENDS, HyMiRecConfig
from hymirec.experiments.paired import REFERENCE_MODEL
from hymirec.experiments.publish import RESOLVED_CONFIG
from hymirec.experiments.taste import TERTILE_NAMES
from hymirec.io import read_json

SUMMARISED_METRICS = ("ndcg@10", "recall@10", "ndcg@50", "mrr", "ild@10")
# users grouped by -> the file of per-user differences by that grouping each published run may hold
GROUPED_DIFFERENCES = {"history length": "paired.json", "taste": "paired_by_taste.json"}
PAIRED_METRICS = ("ndcg@10", "ild@10")


def run_config(run: Path) -> dict[str, Any]:
    """Every setting of a published run: its ``resolved_config.yaml``, or for a run published before
    ``hymirec publish`` copied that, the config its provenance names, which then must stand alone."""
    resolved = run / RESOLVED_CONFIG
    if resolved.exists():
        return yaml.safe_load(resolved.read_text(encoding="utf-8"))
    named = run / read_json(run / "provenance.json")["config"]
    config = yaml.safe_load(named.read_text(encoding="utf-8"))
    if EXTENDS in config:
        raise ValueError(f"{named} extends {config[EXTENDS]!r}, which is not published beside it, and {run} has no "
                         f"{RESOLVED_CONFIG}: its settings are unknown (publish it again)")
    return config


# what may differ between the runs of one study: the seed, where runs are tracked, and which models a run trains
# (a seed run may train only the models the study repeats): every section's companion fields, the ones that
# key no model's training (hymirec.config._Section)
FREE_FIELDS = (("seed",), ("tracking",),
               *((name, companion) for name, field in HyMiRecConfig.model_fields.items()
                 for companion in sorted(getattr(field.annotation, "companion_fields", ()))))


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without its ``FREE_FIELDS``."""
    settings = {key: dict(value) if isinstance(value, dict) else value for key, value in config.items()}
    for path in FREE_FIELDS:
        section = settings if len(path) == 1 else settings.get(path[0], {})
        section.pop(path[-1], None)
    return settings


def seed_summary(runs: list[Path]) -> dict[str, Any]:
    """{"seeds", "runs", "models": {model: {"n", metric: {"mean", "std", "values"}}}, "paired"} over ``runs``.

    ``paired`` is {"reference", "models": {model: {"n", metric: {...}}}}: per-seed differences from the
    reference model, for every model trained beside it in at least two runs.
    """
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
        models[model] = {"n": len(trained)} | _spread(trained, SUMMARISED_METRICS, lambda metrics, metric: metrics.get(metric))
    paired: dict[str, Any] = {}
    for model in sorted(models):
        both = [test for test in tests if model in test and REFERENCE_MODEL in test]
        if model != REFERENCE_MODEL and len(both) > 1:
            paired[model] = {"n": len(both)} | _spread(both, PAIRED_METRICS, lambda test, metric: _difference(test, model, metric))
    return {"seeds": seeds, "runs": [run.name for run in runs], "models": models,
            "paired": {"reference": REFERENCE_MODEL, "models": paired}, "paired_groups": _paired_groups(runs)}


def _paired_groups(runs: list[Path]) -> dict[str, Any]:
    """{grouping: {model: {"n", group: {"mean", "std", "values"}}}}: each group's NDCG@10 difference from the
    reference model, seed by seed, over the runs whose published differences have that group for the model."""
    groupings: dict[str, Any] = {}
    for grouping, name in GROUPED_DIFFERENCES.items():
        published = [read_json(run / name)["models"] for run in runs if (run / name).exists()]
        models: dict[str, Any] = {}
        for model in sorted({model for differences in published for model in differences}):
            strata = [differences[model]["strata"] for differences in published if "strata" in differences.get(model, {})]
            if len(strata) < 2:
                continue
            groups = tuple(sorted((group for group in strata[0] if all(group in rows for rows in strata)), key=_reading_order))
            if groups:
                models[model] = {"n": len(strata)} | _spread(strata, groups, lambda rows, group: rows[group]["mean"])
        if models:
            groupings[grouping] = models
    return groupings


def _reading_order(group: str) -> tuple[int, float]:
    """Groups as a reader scans them (the published files sort their keys): taste thirds narrow to broad,
    history strata by their lower edge, then everyone past the first edge ("> 50")."""
    first = group.split()[0]
    if first in TERTILE_NAMES:
        return 0, TERTILE_NAMES.index(first)
    if first == ">":
        return 2, 0
    return 1, int(group.split("-")[0].rstrip("+"))


def _difference(test: dict[str, Any], model: str, metric: str) -> float | None:
    """``model``'s ``metric`` minus the reference model's in one run's test metrics (None if either lacks it)."""
    if metric not in test[model] or metric not in test[REFERENCE_MODEL]:
        return None
    return test[model][metric] - test[REFERENCE_MODEL][metric]


def _spread(items: list[Any], metrics: tuple[str, ...], value_of: Callable[[Any, str], float | None]) -> dict[str, Any]:
    """{metric: {"mean", "std" (sample; None for one value), "values"}} over ``items``, for metrics they have."""
    spread = {}
    for metric in metrics:
        values = [value for value in (value_of(item, metric) for item in items) if value is not None]
        if values:
            spread[metric] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
                              "values": values}
    return spread


def summary_markdown(summary: dict[str, Any]) -> str:
    """A table of mean ± std (sample) per model and metric, best mean NDCG@10 first; then the paired differences."""
    header = "| model | n | " + " | ".join(SUMMARISED_METRICS) + " |"
    lines = [f"Test metrics over seeds {', '.join(map(str, summary['seeds']))} (mean ± sample std).", "", header,
             "|---|---:|" + "---:|" * len(SUMMARISED_METRICS)]
    ranked = sorted(summary["models"].items(), key=lambda item: -item[1].get("ndcg@10", {}).get("mean", float("-inf")))
    for model, metrics in ranked:
        lines.append(f"| {model} | {metrics['n']} | " + " | ".join(_cell(metrics.get(metric)) for metric in SUMMARISED_METRICS) + " |")
    paired = summary["paired"]
    if paired["models"]:
        reference = paired["reference"]
        lines += ["", f"Paired: each model minus {reference}, seed by seed over the runs that trained both (mean ± sample std).", "",
                  "| model | n | " + " | ".join(f"Δ {metric}" for metric in PAIRED_METRICS) + " |",
                  "|---|---:|" + "---:|" * len(PAIRED_METRICS)]
        for model, metrics in paired["models"].items():
            lines.append(f"| {model} | {metrics['n']} | "
                         + " | ".join(_cell(metrics.get(metric), signed=True) for metric in PAIRED_METRICS) + " |")
    for grouping, models in summary.get("paired_groups", {}).items():
        lines += ["", f"Paired by {grouping}: each model's NDCG@10 minus {paired['reference']}'s within each group of users, "
                  "seed by seed (each run's `paired` figures; mean ± sample std).", "",
                  f"| model | {grouping} | n | Δ NDCG@10 |", "|---|---|---:|---:|"]
        for model, groups in models.items():
            lines += [f"| {model} | {group} | {groups['n']} | {_cell(spread, signed=True)} |" for group, spread in groups.items() if group != "n"]
    return "\n".join(lines) + "\n"


def _cell(value: dict[str, Any] | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    mean = f"{value['mean']:+.4f}" if signed else f"{value['mean']:.4f}"
    return mean if value["std"] is None else f"{mean} ± {value['std']:.4f}"
