"""How good is the codebook? Against Euclidean residual k-means and product quantisation at equal
bytes per item, the design's plain fit as an ablation, and the reconstruction cosine for L = 1…N.

Baselines (faiss, 8 bits per sub-code, so one byte each; cosine is measured after decoding):
- ``euclidean_rq``: residual k-means on raw vectors, r ← r − c, greedy (``faiss.ResidualQuantizer``,
  ``max_beam_size = 1``); ``euclidean_rq_beam5`` is faiss's default beam of 5;
- ``faiss_pq``: ``faiss.ProductQuantizer`` with one sub-quantiser per byte (dimensions zero-padded
  to a multiple of the byte count).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import faiss
import numpy as np

from hymirec.codebook.residual import CodebookMetrics, CosineResidualCodebook, codebook_metrics, normalize_rows, reconstruction_cosine
from hymirec.config import CodebookConfig, ResidualRule

logger = logging.getLogger(__name__)
BASELINE_CODES = 256  # faiss baselines use 8-bit sub-codes, so they need at least this many items


@dataclass(frozen=True)
class QuantizerResult:
    bytes_per_item: int
    recon_cosine_mean: float
    recon_cosine_p5: float

    @classmethod
    def measure(cls, embeddings: np.ndarray, reconstructions: np.ndarray, bytes_per_item: int) -> QuantizerResult:
        cosine = reconstruction_cosine(embeddings, reconstructions)
        return cls(bytes_per_item, float(cosine.mean()), float(np.percentile(cosine, 5)))


@dataclass(frozen=True)
class CodebookComparison:
    """``at_equal_bytes``: method → result at the configured codebook's bytes; ``curve``: one row per L."""

    at_equal_bytes: dict[str, QuantizerResult]
    curve: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "at_equal_bytes": {name: asdict(result) for name, result in self.at_equal_bytes.items()},
            "curve": {str(int(row["num_layers"])): row for row in self.curve},
        }


@contextmanager
def faiss_threads(count: int) -> Iterator[None]:
    """faiss's OpenMP threads for a block. One thread keeps the baselines deterministic and avoids
    OpenMP spin-waiting when other jobs share the cores (a 4-byte fit went from ~60 s to ~4 s)."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def euclidean_residual_kmeans(embeddings: np.ndarray, num_bytes: int, seed: int, beam: int = 1) -> np.ndarray:
    """Reconstructions [N D] from ``num_bytes`` layers of 256-code Euclidean residual k-means."""
    quantizer = faiss.ResidualQuantizer(embeddings.shape[1], num_bytes, 8)
    quantizer.max_beam_size = beam
    quantizer.cp.seed = seed
    quantizer.cp.min_points_per_centroid = 1  # small catalogs are fine; silences faiss's warning
    quantizer.train(embeddings)
    return quantizer.decode(quantizer.compute_codes(embeddings))


def product_quantization(embeddings: np.ndarray, num_bytes: int, seed: int) -> np.ndarray:
    """Reconstructions [N D] from ``num_bytes`` sub-quantisers of 256 codes each."""
    n, dim = embeddings.shape
    padded = np.zeros((n, -(-dim // num_bytes) * num_bytes), dtype=np.float32)
    padded[:, :dim] = embeddings
    quantizer = faiss.ProductQuantizer(padded.shape[1], num_bytes, 8)
    quantizer.cp.seed = seed
    quantizer.cp.min_points_per_centroid = 1
    quantizer.train(padded)
    return quantizer.decode(quantizer.compute_codes(padded))[:, :dim]


def design_config(config: CodebookConfig) -> CodebookConfig:
    """The design's plain codebook: projection residuals, layer-wise fit only, greedy codes."""
    return config.model_copy(update={"residual": ResidualRule.PROJECTION, "refine_iterations": 0, "beam_size": 1})


def fit_and_measure(embeddings: np.ndarray, config: CodebookConfig, seed: int) -> CodebookMetrics:
    codebook = CosineResidualCodebook.fit(embeddings, config, seed, progress=False)
    return codebook_metrics(codebook, embeddings, codebook.encode(embeddings))


def compare(embeddings: np.ndarray, config: CodebookConfig, metrics: CodebookMetrics, seed: int) -> CodebookComparison:
    """The configured codebook (``metrics``) beside its baselines at the same bytes, and the curve over L."""
    with faiss_threads(1):
        return _compare(normalize_rows(np.asarray(embeddings, dtype=np.float32)), config, metrics, seed)


def _compare(embeddings: np.ndarray, config: CodebookConfig, metrics: CodebookMetrics, seed: int) -> CodebookComparison:
    num_bytes = metrics.bytes_per_item
    results = {"cosine_rq": QuantizerResult(num_bytes, metrics.recon_cosine_mean, metrics.recon_cosine_p5)}
    baselines = config.compare_baselines and len(embeddings) >= BASELINE_CODES
    if config.compare_baselines and not baselines:
        logger.warning("codebook: %d items < %d codes of the 8-bit baselines; comparison skipped", len(embeddings), BASELINE_CODES)
    if baselines:
        design = fit_and_measure(embeddings, design_config(config), seed)
        results["cosine_rq_design"] = QuantizerResult(design.bytes_per_item, design.recon_cosine_mean, design.recon_cosine_p5)
        results["euclidean_rq"] = QuantizerResult.measure(embeddings, euclidean_residual_kmeans(embeddings, num_bytes, seed), num_bytes)
        results["euclidean_rq_beam5"] = QuantizerResult.measure(embeddings, euclidean_residual_kmeans(embeddings, num_bytes, seed, beam=5), num_bytes)
        results["faiss_pq"] = QuantizerResult.measure(embeddings, product_quantization(embeddings, num_bytes, seed), num_bytes)
    curve = []
    for num_layers in range(1, config.curve_max_layers + 1):
        started = time.perf_counter()
        same = num_layers == config.num_layers  # the configured codebook is already measured
        point = metrics if same else fit_and_measure(embeddings, config.model_copy(update={"num_layers": num_layers}), seed)
        row = {
            "num_layers": num_layers,
            "bytes_per_item": point.bytes_per_item,
            "recon_cosine_mean": point.recon_cosine_mean,
            "recon_cosine_p5": point.recon_cosine_p5,
        }
        if baselines:
            for name, reconstruct in (("euclidean_rq", euclidean_residual_kmeans), ("faiss_pq", product_quantization)):
                if point.bytes_per_item == num_bytes:
                    baseline = results[name]
                else:
                    baseline = QuantizerResult.measure(embeddings, reconstruct(embeddings, point.bytes_per_item, seed), point.bytes_per_item)
                row[f"{name}_recon_cosine_mean"] = baseline.recon_cosine_mean
        curve.append(row)
        logger.info("codebook curve L=%d: %s (%.1f s)", num_layers, row, time.perf_counter() - started)
    return CodebookComparison(results, curve)
