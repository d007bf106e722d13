"""Cosine residual codebook on synthetic clustered data: round trip, monotone layers, scale modes, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hymirec.codebook.comparison import compare, design_config
from hymirec.codebook.residual import (
    CodebookEncoding,
    CosineResidualCodebook,
    balanced_assignment,
    codebook_metrics,
    collision_rate,
    kmeans_plus_plus,
    load_encoding,
    load_reconstructions,
    magnitudes_from_cosines,
    normalize_rows,
    pack_bits,
    perplexity,
    reconstruction_cosine,
    remove_projection,
    save_encoding,
    unpack_bits,
)
from hymirec.config import CodebookConfig

DESIGN = dict(residual="projection", refine_iterations=0, beam_size=1)


@pytest.fixture(scope="module")
def clustered() -> np.ndarray:
    """600 unit vectors in 24-d: 12 clusters with sub-structure, like item texts of a few genres."""
    rng = np.random.default_rng(0)
    centers = normalize_rows(rng.normal(size=(12, 24)))
    offsets = normalize_rows(rng.normal(size=(60, 24)))
    points = centers[rng.integers(12, size=600)] + 0.5 * offsets[rng.integers(60, size=600)] + 0.15 * rng.normal(size=(600, 24))
    return normalize_rows(points).astype(np.float32)


def small(**overrides) -> CodebookConfig:
    return CodebookConfig(**{"num_codes": 16, "num_layers": 4, "kmeans_iterations": 20, "curve_max_layers": 3, **overrides})


def fit_cosine(embeddings: np.ndarray, config: CodebookConfig, seed: int = 1) -> tuple[CosineResidualCodebook, CodebookEncoding, float]:
    codebook = CosineResidualCodebook.fit(embeddings, config, seed, progress=False)
    encoding = codebook.encode(embeddings)
    return codebook, encoding, float(reconstruction_cosine(embeddings, codebook.decode(encoding)).mean())


@pytest.mark.parametrize("variant", [DESIGN, {}, {"scale_mode": "per_item", **DESIGN}], ids=["design", "default", "per_item"])
def test_recon_cosine_rises_with_every_layer(clustered: np.ndarray, variant: dict) -> None:
    cosines = [fit_cosine(clustered, small(num_layers=layers, **variant))[2] for layers in range(1, 5)]
    assert all(later > earlier for earlier, later in zip(cosines, cosines[1:])), cosines
    assert cosines[0] > 0.5 and cosines[-1] > 0.85


def test_round_trip_codes_are_in_range_and_typed(clustered: np.ndarray) -> None:
    codebook, encoding, cosine = fit_cosine(clustered, small())
    assert encoding.codes.shape == (600, 4) and encoding.codes.dtype == np.uint8
    assert encoding.codes.max() < 16 and encoding.scales is None and encoding.bytes_per_item == 4
    decoded = codebook.decode(encoding)
    assert decoded.shape == clustered.shape and decoded.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(decoded, axis=1), 1.0, atol=1e-5)
    wide = CosineResidualCodebook.fit(clustered, small(num_codes=300, num_layers=1), 1, progress=False).encode(clustered)
    assert wide.codes.dtype == np.uint16 and wide.codes.max() < 300 and wide.bytes_per_item == 2


def test_same_seed_same_codebook_other_seed_other_codebook(clustered: np.ndarray) -> None:
    first, first_codes, _ = fit_cosine(clustered, small(), seed=7)
    again, again_codes, _ = fit_cosine(clustered, small(), seed=7)
    other, _, _ = fit_cosine(clustered, small(), seed=8)
    np.testing.assert_array_equal(first.centroids, again.centroids)
    np.testing.assert_array_equal(first_codes.codes, again_codes.codes)
    assert not np.array_equal(first.centroids, other.centroids)


def test_residual_is_orthogonal_to_its_centroid() -> None:
    rng = np.random.default_rng(3)
    residual, centroids = rng.normal(size=(50, 9)), normalize_rows(rng.normal(size=(50, 9)))
    new, projection = remove_projection(residual, centroids)
    np.testing.assert_allclose(np.einsum("nd,nd->n", new, centroids), 0.0, atol=1e-12)
    # |r_l|² = |r_{l-1}|² − s_l²: what the per-item decoder relies on
    np.testing.assert_allclose((new**2).sum(1), (residual**2).sum(1) - projection**2, rtol=1e-10)


def test_design_layers_are_a_prefix_of_deeper_codebooks(clustered: np.ndarray) -> None:
    shallow, _, _ = fit_cosine(clustered, small(num_layers=2, **DESIGN))
    deep, _, _ = fit_cosine(clustered, small(num_layers=4, **DESIGN))
    np.testing.assert_array_equal(shallow.centroids, deep.centroids[:2])


def test_per_item_scales_cost_bytes_and_beat_per_layer_at_equal_layers(clustered: np.ndarray) -> None:
    _, per_layer, per_layer_cosine = fit_cosine(clustered, small(**DESIGN))
    _, per_item, per_item_cosine = fit_cosine(clustered, small(scale_mode="per_item", **DESIGN))
    _, four_bit, four_bit_cosine = fit_cosine(clustered, small(scale_mode="per_item", scale_bits=4, **DESIGN))
    assert per_layer.bytes_per_item == 4
    assert per_item.bytes_per_item == 4 + 4 and per_item.scales.dtype == np.uint8
    assert four_bit.bytes_per_item == 4 + 2  # four 4-bit scales packed into two bytes
    assert per_item_cosine > per_layer_cosine
    assert four_bit_cosine == pytest.approx(per_item_cosine, abs=0.01)


def test_unquantised_per_item_scales_rebuild_the_exact_projections(clustered: np.ndarray) -> None:
    """t → s by the decoder's norm recursion equals the encoder's projections r_{l-1} · c_l."""
    codebook, _, _ = fit_cosine(clustered, small(scale_mode="per_item", **DESIGN))
    encoded = codebook._greedy(normalize_rows(clustered.astype(np.float64)))
    residual, projections = clustered.astype(np.float64), []
    for layer in range(4):
        residual, projection = remove_projection(residual, codebook.centroids[layer][encoded.codes[:, layer]].astype(np.float64))
        projections.append(projection)
    np.testing.assert_allclose(magnitudes_from_cosines(encoded.cosines), np.stack(projections, 1), atol=1e-6)


def test_refinement_and_decoded_residuals_improve_on_the_design(clustered: np.ndarray) -> None:
    design = fit_cosine(clustered, small(**DESIGN))[2]
    decoded = fit_cosine(clustered, small(refine_iterations=0))[2]
    refined = fit_cosine(clustered, small())[2]
    assert refined > design and refined >= decoded


def test_beam_search_is_not_worse_than_greedy(clustered: np.ndarray) -> None:
    codebook, greedy, greedy_cosine = fit_cosine(clustered, small(refine_iterations=0))
    beam_codebook = CosineResidualCodebook(codebook.config.model_copy(update={"beam_size": 4}), codebook.centroids, codebook.layer_scales, codebook.scale_range)
    beam = beam_codebook.encode(clustered)
    beam_cosine = float(reconstruction_cosine(clustered, beam_codebook.decode(beam)).mean())
    assert beam.codes.shape == greedy.codes.shape and beam.codes.max() < 16
    assert beam_cosine >= greedy_cosine - 1e-6


def test_balanced_fit_spreads_codes(clustered: np.ndarray) -> None:
    similarity = clustered @ clustered[:8].T
    assignment = balanced_assignment(similarity, capacity=80)
    assert (assignment >= 0).all() and np.bincount(assignment, minlength=8).max() <= 80
    assert np.bincount(similarity.argmax(1), minlength=8).max() > 80  # plain argmax would overfill
    _, plain_codes, _ = fit_cosine(clustered, small(num_layers=1, **DESIGN))
    _, balanced_codes, _ = fit_cosine(clustered, small(num_layers=1, balanced=True, balance_slack=0.2, **DESIGN))
    assert perplexity(balanced_codes.codes[:, 0], 16) > perplexity(plain_codes.codes[:, 0], 16)


def test_kmeans_plus_plus_is_seeded_and_picks_distinct_points(clustered: np.ndarray) -> None:
    seeds = kmeans_plus_plus(clustered, 12, np.random.default_rng(5))
    again = kmeans_plus_plus(clustered, 12, np.random.default_rng(5))
    np.testing.assert_array_equal(seeds, again)
    assert len(np.unique(seeds, axis=0)) == 12


def test_too_many_codes_for_the_data_is_a_clear_error(clustered: np.ndarray) -> None:
    with pytest.raises(ValueError, match="num_codes=700 exceeds the 600 vectors"):
        CosineResidualCodebook.fit(clustered, small(num_codes=700), 1, progress=False)


def test_pack_bits_round_trip() -> None:
    values = np.random.default_rng(2).integers(0, 8, size=(5, 7)).astype(np.uint8)
    packed = pack_bits(values, 3)
    assert packed.shape == (5, math.ceil(7 * 3 / 8))
    np.testing.assert_array_equal(unpack_bits(packed, 3, 7), values)


def test_metrics_on_hand_checkable_codes() -> None:
    codes = np.array([[0, 1], [0, 1], [1, 0], [2, 2]], dtype=np.uint8)
    assert collision_rate(codes) == 0.5  # the first two items share (0, 1)
    assert perplexity(np.array([0, 1, 2, 3]), 8) == pytest.approx(4.0)
    assert perplexity(np.array([5, 5, 5]), 8) == pytest.approx(1.0)


def test_save_load_round_trip(clustered: np.ndarray, tmp_path) -> None:
    codebook, encoding, _ = fit_cosine(clustered, small(scale_mode="per_item", scale_bits=5))
    codebook.save(tmp_path)
    save_encoding(encoding, tmp_path)
    loaded = CosineResidualCodebook.load(tmp_path)
    assert loaded.config == codebook.config
    np.testing.assert_array_equal(load_encoding(tmp_path).scales, encoding.scales)
    np.testing.assert_allclose(load_reconstructions(tmp_path), codebook.decode(encoding), atol=1e-6)


def test_comparison_at_equal_bytes_and_curve(clustered: np.ndarray) -> None:
    config = small(num_layers=2)
    codebook, encoding, _ = fit_cosine(clustered, config)
    metrics = codebook_metrics(codebook, clustered, encoding)
    comparison = compare(clustered, config, metrics, seed=1).as_dict()
    compared = comparison["at_equal_bytes"]
    assert set(compared) == {"cosine_rq", "cosine_rq_design", "euclidean_rq", "euclidean_rq_beam5", "faiss_pq"}
    assert {row["bytes_per_item"] for row in compared.values()} == {2}
    assert compared["cosine_rq"]["recon_cosine_mean"] == metrics.recon_cosine_mean
    assert all(0.5 < row["recon_cosine_mean"] <= 1.0 and row["recon_cosine_p5"] <= row["recon_cosine_mean"] for row in compared.values())
    curve = comparison["curve"]
    assert list(curve) == ["1", "2", "3"] and curve["2"]["recon_cosine_mean"] == metrics.recon_cosine_mean
    assert {"euclidean_rq_recon_cosine_mean", "faiss_pq_recon_cosine_mean"} <= set(curve["3"])
    assert design_config(config).refine_iterations == 0
