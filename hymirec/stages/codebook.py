"""Stage ``codebook``: compress the stored item embeddings to a few bytes each and measure the cost.

Writes models/codebook/ (centroids.npy, codebook.json, codes.npy and, with per-item scales,
scales.npy; rows in item_idx order), reports/codebook.json (bytes per item and reconstruction cosine
at the top level, then collisions, code perplexity, the comparison at equal bytes and the curve over
L) and reports/codebook/recon_cosine_by_layers.png.
"""

from __future__ import annotations

import logging
import time

import mlflow
import numpy as np
from threadpoolctl import threadpool_limits

from hymirec.codebook.comparison import compare
from hymirec.codebook.residual import CosineResidualCodebook, codebook_metrics, save_encoding
from hymirec.config import HyMiRecConfig
from hymirec.evaluation.report import plot_codebook_curve
from hymirec.io import atomic_directory, write_json
from hymirec.paths import Layout
from hymirec.training.loop import seed_everything
from hymirec.training.tracking import flatten, log_metrics, stage_run

logger = logging.getLogger(__name__)


def run(config: HyMiRecConfig, layout: Layout) -> None:
    embeddings = np.load(layout.item_embeddings)
    seed_everything(config.seed)

    with stage_run(config, layout.root, "codebook"), threadpool_limits(limits=1, user_api="blas"):
        # fit the codebook and encode every catalog item (one BLAS thread: these products are small,
        # and the results then do not depend on the machine's core count or on other jobs' load)
        started = time.perf_counter()
        codebook = CosineResidualCodebook.fit(embeddings, config.codebook, config.seed)
        encoding = codebook.encode(embeddings)
        fit_seconds = time.perf_counter() - started
        metrics = codebook_metrics(codebook, embeddings, encoding)

        # the same bytes spent on Euclidean residual k-means and PQ, and the curve over L
        comparison = compare(embeddings, config.codebook, metrics, config.seed)

        # store the codebook and codes, then the report, the figure and the MLflow record
        with atomic_directory(layout.codebook_dir) as staging:
            codebook.save(staging)
            save_encoding(encoding, staging)
        with atomic_directory(layout.codebook_figures_dir) as staging:
            plot_codebook_curve(comparison.curve, staging / layout.codebook_figure.name)
        report = {
            **metrics.as_dict(),
            "items": int(embeddings.shape[0]),
            "dim": int(embeddings.shape[1]),
            "fit_seconds": round(fit_seconds, 2),
            **comparison.as_dict(),
        }
        write_json(report, layout.stage_metrics("codebook"))
        numbers = {key: value for key, value in flatten(report).items() if isinstance(value, (int, float))}
        numbers.update({f"perplexity_layer_{layer + 1}": value for layer, value in enumerate(metrics.perplexity)})
        log_metrics(numbers)
        mlflow.log_artifacts(str(layout.codebook_figures_dir), artifact_path="figures")
    logger.info(
        "codebook: %d bytes/item, recon cosine mean %.4f p5 %.4f", metrics.bytes_per_item, metrics.recon_cosine_mean, metrics.recon_cosine_p5
    )
