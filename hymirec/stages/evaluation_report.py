"""Stage ``evaluation_report``: every model on the same split, full ranking, one report.

Models: Popularity, the baselines of stage ``sasrec_model`` (SASRec, SASRec with the item text,
ComiRec-SA), the coarse model on codebook and on exact history (``coarse_codebook``, ``coarse_exact``)
and every trained HyMiRec variant (models/llm/<variant>/).

The validation metrics of a trained model are the ones its training computed for the weights it kept
(``summary.json`` beside them: the same evaluation of the same weights, so not repeated here); the
test split and Popularity are scored here.

Writes reports/metrics.json ({"valid"|"test": {model: {metric: value}}, "compression": {split:
{pair: ...}}, "by_history_length": {model: [stratum rows]}, "interests": {model: {...}}}: ΔNDCG@10 of
reading the history from the codebook, test NDCG@10 / Recall@10 per stratum of items before the
target, and each multi-interest model's interest shares and pairwise cosine, ``hymirec.evaluation.interests``),
reports/evaluation.md, reports/history_length.json, reports/figures/ and, for auditing,
reports/rankings/<model>.parquet (top-N per user in the data set's original ids: user_id, rank,
item_id, target_item_id, history_length — items before the target —, and for a multi-interest model
interest, 1…K, the interest that produced the item as ``hymirec recommend --explain`` attributes it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from hymirec.config import HyMiRecConfig, Variant
from hymirec.data.schema import ITEM_ID, USER_ID
from hymirec.data.sequences import SequenceData, SplitView, item_categories, load_sequence_data, split_view
from hymirec.evaluation.cost import code_bytes, history_bytes_per_user, latency_ms, latency_sample
from hymirec.evaluation.interests import InterestReport, RoundRobin, interest_report
from hymirec.evaluation.ranking import EvaluationResult, evaluate
from hymirec.evaluation.report import plot_breakdown, render_report
from hymirec.io import atomic_directory, read_json, write_json, write_parquet, write_text
from hymirec.models.base import Recommender
from hymirec.paths import Layout
from hymirec.serving.explain import sample_interests_markdown
from hymirec.serving.pyfunc import log_recommender
from hymirec.serving.registry import register_and_promote
from hymirec.serving.served_model import Catalog, ServedModel, load_trained, trained_model_dirs, with_popularity
from hymirec.stages.common import TRAINING_SUMMARY
from hymirec.training.tracking import flatten, log_metrics, stage_run

logger = logging.getLogger(__name__)
FIGURE_NAME = "ndcg_by_history_length.png"
# the cost of compressing the history: (model reading the codebook, its twin reading exact vectors)
COMPRESSION_PAIRS = {"coarse": ("coarse_codebook", "coarse_exact"), "hymirec": ("hymirec", "hymirec_exact_history")}


def compression_effect(metrics: dict[str, dict[str, dict[str, float]]], metric: str = "ndcg@10") -> dict[str, dict]:
    """Per split and model pair: ``metric`` with exact and with reconstructed history, and the relative change."""
    effect: dict[str, dict] = {}
    for split, table in metrics.items():
        for pair, (codebook, exact) in COMPRESSION_PAIRS.items():
            if codebook in table and exact in table:
                reconstructed, original = table[codebook][metric], table[exact][metric]
                effect.setdefault(split, {})[pair] = {
                    f"exact_{metric}": original,
                    f"codebook_{metric}": reconstructed,
                    "relative_change": (reconstructed - original) / original if original else None,  # undefined at 0
                }
    return effect


def rankings_frame(
    result: EvaluationResult, view: SplitView, data: SequenceData, attribution: np.ndarray | None = None
) -> pd.DataFrame:
    """Top-N per user in original ids, 1-based ranks, the user's history length, and with ``attribution``
    [U N] (0-based) the 1-based interest behind each item."""
    users, depth = result.top_items.shape
    item_ids = data.items[ITEM_ID].to_numpy()
    user_ids = data.users.set_index("user_idx").loc[view.user_idx, USER_ID].to_numpy()
    columns = {
        USER_ID: np.repeat(user_ids, depth),
        "rank": np.tile(np.arange(1, depth + 1), users),
        ITEM_ID: item_ids[result.top_items.ravel()],
        "target_item_id": np.repeat(item_ids[view.targets], depth),
        "history_length": np.repeat(view.history_lengths, depth),
    }
    if attribution is not None:
        columns["interest"] = attribution.ravel() + 1
    return pd.DataFrame(columns)


def cost_table(
    models: dict[str, Recommender], folders: dict[str, Path], view: SplitView, config: HyMiRecConfig, layout: Layout
) -> dict[str, dict[str, float | None]]:
    """Per model: training seconds (its training summary; None for Popularity), top-10 latency p50/p99 over
    ``evaluation.latency_requests`` test requests, and the history bytes it fetches per user (``hymirec.evaluation.cost``)."""
    embedding_dim = int(np.load(layout.item_embeddings, mmap_mode="r").shape[1])
    users = latency_sample(len(view.targets), config.evaluation.latency_requests, config.seed)
    table = {}
    for name, model in models.items():
        latency = latency_ms(model, view.histories, users)
        table[name] = {
            "train_seconds": read_json(folders[name] / TRAINING_SUMMARY).get("train_seconds") if name in folders else None,
            "serve_ms_p50": latency["p50"], "serve_ms_p99": latency["p99"],
            "history_bytes_per_user": round(history_bytes_per_user(name, model, view.histories, embedding_dim,
                                                                   code_bytes(config.codebook)), 1),
        }
    return table


def round_robin_metrics(
    several: dict[str, Recommender], catalog: Catalog, views: dict[str, SplitView], config: HyMiRecConfig,
    categories: np.ndarray | None,
) -> dict[str, dict[str, dict[str, float]]]:
    """{split: {model: metrics}} of the models with K > 1 interests in ``several``, served by round robin instead of
    max (``hymirec.evaluation.interests.round_robin_scores``): the merge is a serving choice, decided on validation."""
    merged: dict[str, dict[str, dict[str, float]]] = {split: {} for split in views}
    for name, model in several.items():
        round_robin = RoundRobin(ServedModel(name, model, catalog, config.serving, config.seed))
        for split, view in views.items():
            merged[split][name] = evaluate(round_robin.score_items, view, config.evaluation, model_name=f"{name} (round robin)",
                                           item_categories=categories).metrics
    return merged


def interest_reports(
    trained: dict[str, Recommender], catalog: Catalog, results: dict[str, EvaluationResult], view: SplitView, config: HyMiRecConfig
) -> dict[str, InterestReport]:
    """Interest shares, pairwise cosine and attribution of every multi-interest model on ``view``."""
    reports = {}
    for name, model in trained.items():
        served = ServedModel(name, model, catalog, config.serving, config.seed)
        if served.has_interests and name in results:
            reports[name] = interest_report(served, view.histories, view.targets, results[name].top_items,
                                            cutoff=config.evaluation.diversity_k)
    return reports


def run(config: HyMiRecConfig, layout: Layout) -> None:
    data = load_sequence_data(layout)
    categories = item_categories(data.items)

    # every model, both splits, full ranking
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    results: dict[str, EvaluationResult] = {}
    views = {split: split_view(data.sequences, split) for split in ("valid", "test")}
    folders = trained_model_dirs(layout)
    trained = {name: load_trained(name, folder, layout) for name, folder in folders.items()}
    for split, view in views.items():
        metrics[split] = {}
        for name, model in with_popularity(trained, view, data.num_items).items():
            if split == "valid" and name in folders:  # training evaluated these weights on this split already
                metrics[split][name] = read_json(folders[name] / TRAINING_SUMMARY)["valid"]
                continue
            result = evaluate(model.score_items, view, config.evaluation, model_name=name, item_categories=categories)
            metrics[split][name] = result.metrics
            if split == "test":
                results[name] = result
            logger.info("%s %s: ndcg@10 %.4f", split, name, result.metrics["ndcg@10"])

    # auditable rankings, breakdown, plot and report
    breakdowns = {name: result.by_history_length for name, result in results.items()}
    catalog = Catalog.of(data)
    interests_by_model = interest_reports(trained, catalog, results, views["test"], config)
    with atomic_directory(layout.rankings_dir) as staging:
        for name, result in results.items():
            attribution = interests_by_model[name].attribution if name in interests_by_model else None
            write_parquet(rankings_frame(result, views["test"], data, attribution), staging / f"{name}.parquet")
    with atomic_directory(layout.figures_dir) as staging:
        plot_breakdown(breakdowns, staging / FIGURE_NAME)
    write_json(breakdowns, layout.history_length_breakdown)
    compression = compression_effect(metrics)
    # in the trained models' order (a set's order changes with each process's string hashing)
    several = {name: trained[name] for name, report in interests_by_model.items() if len(report.target_share) > 1}
    merges = round_robin_metrics(several, catalog, views, config, categories)
    costs = cost_table(with_popularity(trained, views["test"], data.num_items), folders, views["test"], config, layout)
    interest_metrics = {name: report.metrics(config.evaluation.diversity_k) for name, report in interests_by_model.items()}
    interests = interests_section(trained, catalog, views["test"], data, config)
    report = render_report(metrics["valid"], metrics["test"], breakdowns, f"figures/{FIGURE_NAME}", config.data.source.value,
                           compression, interests, interest_metrics, merges, costs)
    write_text(report, layout.evaluation_markdown)
    write_json({**metrics, "compression": compression, "by_history_length": breakdowns, "interests": interest_metrics,
                "round_robin": merges, "cost": costs}, layout.metrics)

    with stage_run(config, layout.root, "evaluation_report"):
        # every model as an MLflow model; the best trained one registered for this data set, whose
        # `champion` moves only if it beats the current one. Models before metrics: MLflow 3 copies every
        # metric the run already holds onto each model it logs (one history query per metric and model:
        # 69 of the stage's 376 s on ML-100K's 13 models), and the run's metrics describe all models, not one.
        logged = {name: log_recommender(name, folders.get(name), catalog, config.serving, config.seed) for name in metrics["test"]}
        best = max(folders, key=lambda name: metrics["valid"][name]["ndcg@10"])
        register_and_promote(logged[best].model_uri, best, metrics["valid"][best]["ndcg@10"], catalog.fingerprint, config.data.source.value)
        numbers = flatten({**metrics, "compression": compression})  # the per-stratum and interest tables are in the report
        log_metrics({key: value for key, value in numbers.items() if value is not None})
        mlflow.log_artifact(str(layout.evaluation_markdown))


def explained_model(trained: dict[str, Recommender]) -> str | None:
    """The model whose interests the report shows: HyMiRec, else the first trained multi-interest model."""
    with_interests = [name for name, model in trained.items() if hasattr(model, "user_interests")]
    return Variant.HYMIREC.value if Variant.HYMIREC.value in with_interests else next(iter(with_interests), None)


def interests_section(
    trained: dict[str, Recommender], catalog: Catalog, view: SplitView, data: SequenceData, config: HyMiRecConfig
) -> str | None:
    """The report's interest explorer: sample users of the test split, each with the input its test ranking read."""
    name = explained_model(trained)
    if name is None:
        return None
    return sample_interests_markdown(ServedModel(name, trained[name], catalog, config.serving, config.seed), data, view)
