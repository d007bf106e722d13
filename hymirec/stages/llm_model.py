"""Stage ``llm_model``: train HyMiRec and each ablation in ``llm.variants`` with DMIL (DESIGN.md §2).

Every variant gets the same training windows (each epoch, ``llm.windows_per_user`` windows of R items
per user drawn from the seed and the epoch, every position of a window trained at once), the same
budget and the same seed; only what the variant names changes (``hymirec.models.llm.variant_spec``).
Writes models/llm/<variant>/, reports/llm_model.json (each variant's training summary and its context
tokens' diagnostics, ``hymirec.evaluation.coarse_tokens``: their mean pairwise cosine and the interest queries'
attention share on them per decoder layer, on validation users), reports/llm_model/training_curves.png
and reports/llm_model/interests.md (HyMiRec's interests for a few sample users, ``hymirec.serving.explain``).

Variants are trained one after another, and each finished one is parked under checkpoints/ (keyed by
its settings), so a run interrupted during variant 4 resumes variant 4 and does not retrain 1–3. The
published models/llm/ folder is replaced only once every variant is done.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

import mlflow
import numpy as np
import torch

from hymirec.codebook.residual import load_reconstructions
from hymirec.config import HyMiRecConfig, Variant
from hymirec.data.sequences import item_categories, load_sequence_data, split_view, training_sequences
from hymirec.evaluation.coarse_tokens import coarse_token_diagnostics
from hymirec.evaluation.report import plot_training_curves
from hymirec.io import atomic_directory, read_json, write_json, write_text
from hymirec.models.llm import build_hymirec, coarse_item_tower, llm_batch, load_hymirec, save_hymirec, training_windows, variant_spec
from hymirec.paths import CURVES_FIGURE, Layout
from hymirec.serving.explain import sample_interests_markdown
from hymirec.serving.served_model import Catalog, ServedModel
from hymirec.stages.common import TRAINING_HISTORY, TRAINING_SUMMARY, remove_checkpoints, train_tracked, write_training_record
from hymirec.training import distributed
from hymirec.training.loop import TrainingSchedule, fingerprint, seed_everything
from hymirec.training.tracking import stage_run

logger = logging.getLogger(__name__)


def coarse_state(layout: Layout, history: str) -> dict[str, torch.Tensor]:
    """The trained coarse model reading the history as ``history`` (codebook | exact)."""
    path = layout.coarse_dir / history / "model.pt"
    if not path.exists():
        hint = " (set coarse.train_exact_twin: true)" if history == "exact" else ""
        raise FileNotFoundError(f"{path}: no coarse model trained on {history} history{hint}")
    return torch.load(path, weights_only=True)


def variant_fingerprint(config: HyMiRecConfig, variant: Variant) -> str:
    """The settings one variant's training depends on (the variant list, ``llm``'s companion field, is not one)."""
    return fingerprint(config.seed, config.llm, config.coarse, config.evaluation, variant.value)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    data = load_sequence_data(layout)
    embeddings = np.load(layout.item_embeddings)
    history_vectors = {"codebook": load_reconstructions(layout.codebook_dir), "exact": embeddings}
    valid_view = split_view(data.sequences, "valid")
    sequences, llm = training_sequences(data.sequences), config.llm
    categories = item_categories(data.items)

    def windows_of(recent_items: int) -> Callable[[int], list[tuple[np.ndarray, int]]]:
        """An epoch's training windows of ``recent_items`` items: every variant with the same R trains on the same ones."""
        return lambda epoch: training_windows(sequences, recent_items, llm.windows_per_user, config.seed, epoch)

    logger.info("llm_model: %d training windows an epoch, variants %s", len(windows_of(llm.recent_items)(1)),
                [v.value for v in llm.variants])

    finished = {}
    with stage_run(config, layout.root, "llm_model"):
        for variant in config.llm.variants:
            checkpoint = layout.checkpoint(f"llm_model-{variant.value}", variant_fingerprint(config, variant))
            finished[variant] = checkpoint.with_suffix("")  # folder of the trained model
            if distributed.from_main((finished[variant] / TRAINING_SUMMARY).exists()):  # rank 0's disk decides for all
                logger.info("llm_model %s: already trained in %s", variant.value, finished[variant])
                continue
            spec = variant_spec(config.llm, variant)
            seed_everything(config.seed)
            model = build_hymirec(
                config.llm, variant, config.coarse, embeddings, history_vectors[spec.history], layout.pretrained_cache,
                coarse_state(layout, spec.history) if spec.context == "coarse" else None,
                # every variant from the same (codebook-history) coarse tower: the ablations differ in their context only
                coarse_item_tower(coarse_state(layout, "codebook")) if llm.warm_start_item_tower else None,
            )
            if model.reads_contexts_from_sequences:
                model.read_contexts_from(sequences)  # one coarse pass per user instead of one per window
            output = train_tracked(
                variant.value, model, windows_of(spec.recent_items),
                lambda batch, recent=spec.recent_items: llm_batch(batch, recent, llm.target_window),
                valid_view, config.evaluation, TrainingSchedule.of(config.llm), seed=config.seed, checkpoint=checkpoint,
                categories=categories,
            )
            logger.info("llm_model %s: best valid ndcg@10 %.4f", variant.value, output.best_valid["ndcg@10"])
            if not distributed.is_main():
                continue  # the other ranks trained alongside rank 0, which writes
            with atomic_directory(finished[variant]) as staging:
                save_hymirec(model, staging)
                write_training_record(output, staging)
            remove_checkpoints([checkpoint])  # the parked folder stands for it now

        if not distributed.is_main():
            return
        # publish every variant at once, then the curves and the summary
        with atomic_directory(layout.llm_dir) as staging:
            for variant, folder in finished.items():
                shutil.copytree(folder, staging / variant.value)
        histories = {variant.value: read_json(layout.llm_dir / variant.value / TRAINING_HISTORY) for variant in finished}
        with atomic_directory(layout.llm_curves) as staging:
            plot_training_curves(histories, staging / CURVES_FIGURE)
            if Variant.HYMIREC in finished:  # what its interests stand for (the asset shows it)
                model = load_hymirec(layout.llm_dir / Variant.HYMIREC.value, layout.pretrained_cache)
                served = ServedModel(Variant.HYMIREC.value, model, Catalog.of(data), config.serving, config.seed)
                write_text(sample_interests_markdown(served, data, valid_view), staging / layout.llm_interests.name)
        mlflow.log_artifacts(str(layout.llm_curves), artifact_path="figures")
        summaries = {}
        for variant in finished:
            model = load_hymirec(layout.llm_dir / variant.value, layout.pretrained_cache)
            summaries[variant.value] = {**read_json(layout.llm_dir / variant.value / TRAINING_SUMMARY),
                                        "coarse_tokens": coarse_token_diagnostics(model, valid_view.histories)}
        write_json(summaries, layout.stage_metrics("llm_model"))
    for folder in finished.values():
        shutil.rmtree(folder, ignore_errors=True)

