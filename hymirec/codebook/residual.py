"""Cosine residual codebook: each unit item embedding becomes L small codes (DESIGN.md §2).

Method, per layer l = 1…L with C unit centroids each (C ≤ 256 → one byte per layer):
- fit: spherical k-means on the normalised residuals u_{l-1} = r_{l-1} / |r_{l-1}| (r_0 = e);
- encode: c_l = argmax_c u_{l-1} · c (cosine), s_l = r_{l-1} · c_l, r_l = r_{l-1} − s_l c_l, so
  r_l · c_l = 0 and |r_l|² = |r_{l-1}|² − s_l²;
- decode: ê = Σ_l s_l c_l, returned unit-norm (only its direction matters for cosine scoring).

The magnitudes s_l are stored either per item or as one constant per layer (``ScaleMode``):
- per item: t_l = s_l / |r_{l-1}| (the cosine of the normalised residual with its centroid) is
  quantised to ``scale_bits`` bits within the layer's fitted range and bit-packed; the decoder rebuilds
  s_l = |r_{l-1}| t_l and |r_l| = |r_{l-1}| sqrt(1 − t_l²) from t alone;
- per layer: s̄_l are the least-squares constants for the fitted codes, min Σ_i |e_i − Σ_l s̄_l c_{l,i}|²;
  no bytes per item.

Our choices beyond the design (all in ``CodebookConfig``; reports/codebook.json measures the plain
design beside the configured codebook):
- k-means++ seeding on the cosine distance 1 − cos; empty codes re-seeded with the worst-fitted points;
- ``balanced``: while fitting, each code holds at most ceil(N / C · (1 + slack)) points;
- ``residual = decoded`` (per-layer scales only): subtract what the decoder will add, r_l = r_{l-1} − s̄_l c_l,
  so the next layer codes the decoder's actual error (with per-item scales the two rules coincide up to
  quantisation, and the decoder's norm recursion needs r_l ⟂ c_l, so the projection is always removed);
- ``refine_iterations``: after the layer-wise fit, rounds that move each layer's centroids to the
  normalised ŝ-weighted mean of what that layer must reconstruct (e − the other layers' terms), re-encode
  and refit the scales; stops when a round no longer raises the mean reconstruction cosine;
- ``beam_size`` > 1: encode by beam search, keeping the B code prefixes whose *decoded* reconstruction
  has the highest cosine with e (beam_size = 1 is the greedy argmax-cosine rule).
Layer l of the layer-wise fit draws from a seed of its own, so without refinement the first l layers
of a deeper codebook equal an l-layer codebook.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy import sparse
from tqdm import tqdm

from hymirec.config import CodebookConfig, CodebookInit, ResidualRule, ScaleMode
from hymirec.io import read_json, write_json, write_npy

logger = logging.getLogger(__name__)
EPS = 1e-12


def normalize_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


def remove_projection(residual: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """r − (r·c) c for rows r [... D] and their unit centroids c [... D]; returns (new residual, s = r·c [...])."""
    projection = np.einsum("...d,...d->...", residual, centroids)
    return residual - projection[..., None] * centroids, projection


def sum_by_code(values: np.ndarray, codes: np.ndarray, num_codes: int) -> np.ndarray:
    """[num_codes D]: Σ of the rows of ``values`` [N D] per code (a sparse one-hot product; np.add.at is slow)."""
    one_hot = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(num_codes, len(codes)))
    return np.asarray(one_hot @ values)


def code_dtype(num_codes: int) -> type[np.unsignedinteger]:
    return np.uint8 if num_codes <= 256 else np.uint16


# ---------------------------------------------------------------------------------------------------
# spherical k-means


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k unit seeds drawn with probability ∝ (1 − max cos to the seeds so far)²."""
    chosen = [int(rng.integers(len(x)))]
    best = x @ x[chosen[0]]  # [N] max cosine to the chosen seeds
    for _ in range(1, k):
        cumulative = np.cumsum(np.clip(1.0 - best, 0.0, None, dtype=np.float64) ** 2)
        if cumulative[-1] > 0:
            index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        else:  # every point already coincides with a seed
            index = int(rng.integers(len(x)))
        chosen.append(min(index, len(x) - 1))
        best = np.maximum(best, x @ x[chosen[-1]])
    return x[chosen].copy()


def balanced_assignment(similarity: np.ndarray, capacity: int) -> np.ndarray:
    """argmax assignment in which no code takes more than ``capacity`` rows.

    Rounds: every unplaced row goes to its best code that is not full; a code over capacity keeps
    its most similar rows and closes; the rest try their next-best code. Needs capacity · C ≥ N.
    """
    n, k = similarity.shape
    if capacity * k < n:
        raise ValueError(f"capacity {capacity} × {k} codes < {n} rows")
    similarity = similarity.copy()
    assignment = np.full(n, -1)
    load = np.zeros(k, dtype=np.int64)
    while (assignment < 0).any():
        pending = np.flatnonzero(assignment < 0)
        choice = similarity[pending].argmax(axis=1)
        for code in np.unique(choice):
            rows = pending[choice == code]
            room = capacity - load[code]
            keep = rows[np.argsort(-similarity[rows, code], kind="stable")[:room]]
            assignment[keep] = code
            load[code] += len(keep)
            if load[code] >= capacity:
                similarity[:, code] = -np.inf
    return assignment


def spherical_kmeans(x: np.ndarray, k: int, config: CodebookConfig, rng: np.random.Generator) -> np.ndarray:
    """[k D] unit centroids maximising Σ_i cos(x_i, c_{a(i)}) for unit rows x [N D]."""
    if len(x) < k:
        raise ValueError(f"codebook.num_codes={k} exceeds the {len(x)} vectors to fit")
    if config.init is CodebookInit.KMEANS_PLUS_PLUS:
        centroids = kmeans_plus_plus(x, k, rng)
    else:
        centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    capacity = math.ceil(len(x) / k * (1.0 + config.balance_slack))
    assignment = np.full(len(x), -1)
    for _ in range(config.kmeans_iterations):
        similarity = x @ centroids.T  # [N k]
        new = balanced_assignment(similarity, capacity) if config.balanced else similarity.argmax(axis=1)
        if np.array_equal(new, assignment):
            break
        assignment = new
        sums = sum_by_code(x.astype(np.float64), assignment, k)
        empty = np.flatnonzero(np.bincount(assignment, minlength=k) == 0)
        if len(empty):  # re-seed with the points their centroid fits worst
            worst = np.argsort(similarity[np.arange(len(x)), assignment], kind="stable")[: len(empty)]
            sums[empty] = x[worst]
        centroids = normalize_rows(sums).astype(np.float32)
    return centroids


# ---------------------------------------------------------------------------------------------------
# scales


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """[N L] integers < 2^bits → [N ceil(L·bits/8)] uint8, little-endian within each value."""
    unpacked = (values[:, :, None].astype(np.uint16) >> np.arange(bits)) & 1  # [N L bits]
    return np.packbits(unpacked.reshape(len(values), -1).astype(np.uint8), axis=1, bitorder="little")


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    unpacked = np.unpackbits(packed, axis=1, bitorder="little")[:, : count * bits].reshape(len(packed), count, bits)
    return (unpacked.astype(np.uint16) << np.arange(bits)).sum(axis=-1).astype(np.uint8)


def quantize_scales(t: np.ndarray, scale_range: np.ndarray, bits: int) -> np.ndarray:
    """[N L] cosines in each layer's [lo, hi] → integers 0 … 2^bits − 1."""
    low, high = scale_range[:, 0], scale_range[:, 1]
    levels = (1 << bits) - 1
    unit = (np.clip(t, low, high) - low) / np.maximum(high - low, EPS)
    return np.rint(unit * levels).astype(np.uint8)


def dequantize_scales(q: np.ndarray, scale_range: np.ndarray, bits: int) -> np.ndarray:
    low, high = scale_range[:, 0], scale_range[:, 1]
    return low + q.astype(np.float64) / ((1 << bits) - 1) * (high - low)


def magnitudes_from_cosines(t: np.ndarray) -> np.ndarray:
    """s_l = |r_{l-1}| t_l with |r_0| = 1 and |r_l| = |r_{l-1}| sqrt(1 − t_l²); [N L] → [N L]."""
    remaining = np.cumprod(np.sqrt(np.clip(1.0 - t**2, 0.0, None)), axis=1)
    before = np.concatenate([np.ones((len(t), 1)), remaining[:, :-1]], axis=1)
    return before * t


def least_squares_scales(embeddings: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per-layer constants s̄ [L] minimising Σ_i |e_i − Σ_l s̄_l c_{l,i}|²; ``chosen`` [N L D]."""
    gram = np.einsum("nld,nmd->lm", chosen, chosen, dtype=np.float64)  # Σ_i A_iᵀ A_i
    target = np.einsum("nld,nd->l", chosen, embeddings, dtype=np.float64)  # Σ_i A_iᵀ e_i
    return np.linalg.solve(gram + 1e-9 * np.eye(len(gram)), target)


# ---------------------------------------------------------------------------------------------------
# one layer of encoding, shared by fit, greedy encode and beam search


@dataclass
class _EncoderState:
    """Per item (or per item and beam): the residual still to code and the decoder's running |r_{l-1}|."""

    residual: np.ndarray  # [... D]
    norm: np.ndarray  # [...] |r_{l-1}| as the decoder rebuilds it from quantised t (per-item mode)


def _subtracts_decoded(config: CodebookConfig) -> bool:
    """The decoded-residual rule applies to per-layer scales; per item, ŝ already is the (quantised)
    projection, and the decoder's norm recursion |r_l|² = |r_{l-1}|² − s_l² needs r_l ⟂ c_l."""
    return config.residual is ResidualRule.DECODED and config.scale_mode is ScaleMode.PER_LAYER


def _layer_cosines(residual: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """t_l = r_{l-1}·c_l / |r_{l-1}|: the cosine of the normalised residual with its centroid."""
    return projection / np.maximum(np.linalg.norm(residual, axis=-1), EPS)


def _decoder_scales(
    norm: np.ndarray, t: np.ndarray, config: CodebookConfig, layer_scale: float, scale_range: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ŝ_l as the decoder will rebuild it, and the decoder's next |r_l| (per-item mode; unchanged otherwise)."""
    if config.scale_mode is ScaleMode.PER_LAYER:
        return np.full(t.shape, layer_scale), norm
    t_hat = dequantize_scales(quantize_scales(t[..., None], scale_range[None], config.scale_bits), scale_range[None], config.scale_bits)[..., 0]
    return norm * t_hat, norm * np.sqrt(np.clip(1.0 - t_hat**2, 0.0, None))


def _advance(
    state: _EncoderState, chosen: np.ndarray, t: np.ndarray, config: CodebookConfig, layer_scale: float, scale_range: np.ndarray
) -> tuple[_EncoderState, np.ndarray]:
    """Subtract layer l from the residual; returns the next state and the decoder's scale ŝ_l."""
    decoded, norm = _decoder_scales(state.norm, t, config, layer_scale, scale_range)
    if _subtracts_decoded(config):
        residual = state.residual - decoded[..., None] * chosen
    else:
        residual, _ = remove_projection(state.residual, chosen)
    return _EncoderState(residual, norm), decoded


# ---------------------------------------------------------------------------------------------------
# the codebook


@dataclass(frozen=True)
class CodebookEncoding:
    """What is stored per item: ``codes`` [N L] (uint8 if C ≤ 256, else uint16) and, in per-item scale
    mode, ``scales`` [N ceil(L · scale_bits / 8)] bit-packed uint8."""

    codes: np.ndarray
    scales: np.ndarray | None = None

    @property
    def bytes_per_item(self) -> int:
        return self.codes.itemsize * self.codes.shape[1] + (0 if self.scales is None else self.scales.shape[1])


@dataclass(frozen=True)
class _Encoded:
    codes: np.ndarray  # [N L] int64
    cosines: np.ndarray  # [N L] t before quantisation
    scales: np.ndarray  # [N L] ŝ the decoder uses


@dataclass(frozen=True)
class CodebookMetrics:
    bytes_per_item: int
    recon_cosine_mean: float
    recon_cosine_p5: float
    recon_cosine_min: float
    collision_rate: float  # share of items whose full code tuple another item also has
    perplexity: list[float]  # per layer, exp(entropy of code usage); C when perfectly uniform
    codes_used: list[int]  # per layer

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CosineResidualCodebook:
    config: CodebookConfig
    centroids: np.ndarray  # [L C D] float32, unit rows
    layer_scales: np.ndarray  # [L] s̄_l (per-layer mode)
    scale_range: np.ndarray  # [L 2] range of t_l that per-item scales are quantised in

    @property
    def num_layers(self) -> int:
        return int(self.centroids.shape[0])

    # fitting ------------------------------------------------------------------------------------

    @classmethod
    def fit(cls, embeddings: np.ndarray, config: CodebookConfig, seed: int, *, progress: bool = True) -> CosineResidualCodebook:
        """Layer-wise spherical k-means on normalised residuals, then ``refine_iterations`` joint rounds."""
        e = normalize_rows(np.asarray(embeddings, dtype=np.float64))
        state = _EncoderState(e.copy(), np.ones(len(e)))
        layers, layer_scales, ranges = [], [], []
        for layer in tqdm(range(config.num_layers), desc="codebook layers", disable=None if progress else True):
            rng = np.random.default_rng([seed, layer])
            centroids = spherical_kmeans(normalize_rows(state.residual).astype(np.float32), config.num_codes, config, rng)
            centroids = centroids.astype(np.float64)
            chosen = centroids[(state.residual @ centroids.T).argmax(axis=1)]
            projection = np.einsum("nd,nd->n", state.residual, chosen)
            t = _layer_cosines(state.residual, projection)
            scale_range = np.array([t.min(), t.max()])
            layer_scale = float(projection.mean())  # provisional; refitted by least squares below
            state, _ = _advance(state, chosen, t, config, layer_scale, scale_range)
            layers.append(centroids)
            layer_scales.append(layer_scale)
            ranges.append(scale_range)
        codebook = cls(config, np.stack(layers).astype(np.float32), np.array(layer_scales, dtype=np.float32), np.stack(ranges).astype(np.float32))
        codebook = codebook._refit_scales(e)
        encoded = codebook._encode(e)
        cosine = codebook._mean_cosine(e, encoded)
        for round_ in range(config.refine_iterations):
            refined = codebook._refine(e, encoded)
            refined_encoded = refined._encode(e)
            refined_cosine = refined._mean_cosine(e, refined_encoded)
            logger.info("codebook refinement round %d: recon cosine %.4f", round_ + 1, refined_cosine)
            if refined_cosine <= cosine:  # converged: keep the better codebook
                break
            codebook, encoded, cosine = refined, refined_encoded, refined_cosine
        return codebook

    def _refit_scales(self, e: np.ndarray) -> CosineResidualCodebook:
        """Least-squares per-layer constants and the per-item quantisation ranges for the current codes."""
        encoded = self._encode(e)
        chosen = self._chosen(encoded.codes)
        layer_scales = least_squares_scales(e, chosen).astype(np.float32)
        scale_range = np.stack([encoded.cosines.min(axis=0), encoded.cosines.max(axis=0)], axis=1).astype(np.float32)
        return replace(self, layer_scales=layer_scales, scale_range=scale_range)

    def _refine(self, e: np.ndarray, encoded: _Encoded) -> CosineResidualCodebook:
        """One round from the current encoding: each layer's centroids move to the normalised ŝ-weighted
        mean of what that layer must reconstruct, e_i − Σ_{m≠l} ŝ_m c_m (the other layers fixed, layer
        after layer); then the items are re-encoded and the scales refitted."""
        centroids = self.centroids.astype(np.float64)
        chosen = self._chosen(encoded.codes, centroids)
        recon = np.einsum("nl,nld->nd", encoded.scales, chosen)
        for layer in range(self.num_layers):
            codes, scale = encoded.codes[:, layer], encoded.scales[:, layer]
            target = e - recon + scale[:, None] * chosen[:, layer]
            sums = sum_by_code(scale[:, None] * target, codes, centroids.shape[1])
            moved = np.linalg.norm(sums, axis=1) > EPS
            centroids[layer][moved] = normalize_rows(sums[moved])
            recon += scale[:, None] * (centroids[layer][codes] - chosen[:, layer])
            chosen[:, layer] = centroids[layer][codes]
        return replace(self, centroids=centroids.astype(np.float32))._refit_scales(e)

    def _mean_cosine(self, e: np.ndarray, encoded: _Encoded) -> float:
        """Mean cos(e, ê) of an encoding (its ŝ are exactly the decoder's scales)."""
        recon = np.einsum("nl,nld->nd", encoded.scales, self._chosen(encoded.codes))
        return float(reconstruction_cosine(e, recon).mean())

    def _chosen(self, codes: np.ndarray, centroids: np.ndarray | None = None) -> np.ndarray:
        """[N L D] the centroid each item uses in each layer."""
        centroids = self.centroids.astype(np.float64) if centroids is None else centroids
        return np.stack([centroids[layer][codes[:, layer]] for layer in range(self.num_layers)], axis=1)

    # encoding -----------------------------------------------------------------------------------

    def _encode(self, e: np.ndarray) -> _Encoded:
        return self._beam(e) if self.config.beam_size > 1 else self._greedy(e)

    def _greedy(self, e: np.ndarray) -> _Encoded:
        """Per layer, the code of highest cosine with the residual (the design's assignment rule)."""
        state = _EncoderState(e.copy(), np.ones(len(e)))
        codes, cosines, scales = [], [], []
        for layer, centroids in enumerate(self.centroids):
            code = (state.residual.astype(np.float32) @ centroids.T).argmax(axis=1)
            chosen = centroids[code].astype(np.float64)
            projection = np.einsum("nd,nd->n", state.residual, chosen)
            t = _layer_cosines(state.residual, projection)
            state, decoded = _advance(state, chosen, t, self.config, float(self.layer_scales[layer]), self.scale_range[layer])
            codes.append(code)
            cosines.append(t)
            scales.append(decoded)
        return _Encoded(np.stack(codes, axis=1), np.stack(cosines, axis=1), np.stack(scales, axis=1))

    def _beam(self, e: np.ndarray) -> _Encoded:
        """Beam search: each of the B kept prefixes proposes its B best codes by cosine with its residual;
        the B prefixes whose decoded reconstruction has the highest cosine with e are kept."""
        beam = self.config.beam_size
        n = len(e)
        rows = np.arange(n)[:, None]
        state = _EncoderState(e[:, None, :].copy(), np.ones((n, 1)))  # [N B D], [N B]
        recon = np.zeros_like(state.residual)  # [N B D] decoded prefix
        codes, cosines, scales = (np.zeros((n, 1, 0), dtype=dtype) for dtype in (np.int64, np.float64, np.float64))
        for layer, centroids in enumerate(self.centroids.astype(np.float64)):
            width, proposals = state.residual.shape[1], min(beam, centroids.shape[0])
            similarity = state.residual @ centroids.T  # [N B C]
            code = np.argpartition(-similarity, proposals - 1, axis=-1)[..., :proposals]  # [N B P]
            projection = np.take_along_axis(similarity, code, axis=-1)
            t = _layer_cosines(state.residual[:, :, None, :], projection)
            decoded, _ = _decoder_scales(state.norm[..., None], t, self.config, float(self.layer_scales[layer]), self.scale_range[layer])
            # cos(e, recon_b + ŝ c) from dot products, without materialising the candidates
            e_c = (e @ centroids.T)[rows[:, :, None], code]  # [N B P]
            recon_c = np.take_along_axis(recon @ centroids.T, code, axis=-1)  # [N B P]
            e_recon = np.einsum("nd,nbd->nb", e, recon)[..., None]
            recon_sq = np.einsum("nbd,nbd->nb", recon, recon)[..., None]
            score = (e_recon + decoded * e_c) / np.sqrt(np.maximum(recon_sq + 2 * decoded * recon_c + decoded**2, EPS))
            keep = min(beam, width * proposals)
            best = np.argsort(-score.reshape(n, -1), axis=1, kind="stable")[:, :keep]  # [N B']
            parent = best // proposals
            pick = lambda x: x.reshape(n, width * proposals)[rows, best]  # noqa: E731
            chosen_code = pick(code)
            chosen = centroids[chosen_code]  # [N B' D]
            state, chosen_scale = _advance(
                _EncoderState(state.residual[rows, parent], state.norm[rows, parent]), chosen, pick(t),
                self.config, float(self.layer_scales[layer]), self.scale_range[layer],
            )
            recon = recon[rows, parent] + chosen_scale[..., None] * chosen
            codes = np.concatenate([codes[rows, parent], chosen_code[..., None]], axis=-1)
            cosines = np.concatenate([cosines[rows, parent], pick(t)[..., None]], axis=-1)
            scales = np.concatenate([scales[rows, parent], chosen_scale[..., None]], axis=-1)
        return _Encoded(codes[:, 0], cosines[:, 0], scales[:, 0])

    def encode(self, embeddings: np.ndarray) -> CodebookEncoding:
        encoded = self._encode(normalize_rows(np.asarray(embeddings, dtype=np.float64)))
        codes = encoded.codes.astype(code_dtype(self.config.num_codes))
        if self.config.scale_mode is ScaleMode.PER_LAYER:
            return CodebookEncoding(codes)
        quantized = quantize_scales(encoded.cosines, self.scale_range, self.config.scale_bits)
        return CodebookEncoding(codes, pack_bits(quantized, self.config.scale_bits))

    # decoding -----------------------------------------------------------------------------------

    def scales(self, encoding: CodebookEncoding) -> np.ndarray:
        """ŝ [N L] the decoder uses."""
        n = len(encoding.codes)
        if self.config.scale_mode is ScaleMode.PER_LAYER:
            return np.broadcast_to(self.layer_scales.astype(np.float64), (n, self.num_layers))
        if encoding.scales is None:
            raise ValueError("per_item scale mode needs the encoding's scales")
        quantized = unpack_bits(encoding.scales, self.config.scale_bits, self.num_layers)
        return magnitudes_from_cosines(dequantize_scales(quantized, self.scale_range, self.config.scale_bits))

    def decode(self, encoding: CodebookEncoding, *, normalize: bool = True) -> np.ndarray:
        """ê = Σ_l ŝ_l c_l [N D] float32 (unit-norm rows unless ``normalize=False``)."""
        recon = np.einsum("nl,nld->nd", self.scales(encoding), self._chosen(encoding.codes.astype(np.int64)))
        return (normalize_rows(recon) if normalize else recon).astype(np.float32)

    # persistence --------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """``centroids.npy`` + ``codebook.json`` (config, per-layer scales, scale ranges)."""
        write_npy(self.centroids, directory / "centroids.npy")
        write_json(
            {
                "config": self.config.model_dump(mode="json"),
                "layer_scales": self.layer_scales.tolist(),
                "scale_range": self.scale_range.tolist(),
            },
            directory / "codebook.json",
        )

    @classmethod
    def load(cls, directory: Path) -> CosineResidualCodebook:
        saved = read_json(directory / "codebook.json")
        return cls(
            CodebookConfig.model_validate(saved["config"]),
            np.load(directory / "centroids.npy"),
            np.asarray(saved["layer_scales"], dtype=np.float32),
            np.asarray(saved["scale_range"], dtype=np.float32),
        )


def save_encoding(encoding: CodebookEncoding, directory: Path) -> None:
    """``codes.npy`` (and ``scales.npy`` in per-item scale mode), rows in item_idx order."""
    write_npy(encoding.codes, directory / "codes.npy")
    if encoding.scales is not None:
        write_npy(encoding.scales, directory / "scales.npy")


def load_encoding(directory: Path) -> CodebookEncoding:
    scales = directory / "scales.npy"
    return CodebookEncoding(np.load(directory / "codes.npy"), np.load(scales) if scales.exists() else None)


def load_reconstructions(directory: Path) -> np.ndarray:
    """[N D] unit-norm decoded item vectors of a saved codebook directory (``models/codebook``)."""
    return CosineResidualCodebook.load(directory).decode(load_encoding(directory))


# ---------------------------------------------------------------------------------------------------
# metrics


def reconstruction_cosine(embeddings: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """[N] cos(e_i, ê_i)."""
    return np.einsum("nd,nd->n", normalize_rows(embeddings.astype(np.float64)), normalize_rows(reconstructions.astype(np.float64)))


def perplexity(codes: np.ndarray, num_codes: int) -> float:
    """exp(H) of the code usage distribution of one layer."""
    p = np.bincount(codes.astype(np.int64), minlength=num_codes) / len(codes)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def collision_rate(codes: np.ndarray) -> float:
    """Share of items whose full code tuple is shared with at least one other item."""
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return float((counts[inverse.ravel()] > 1).mean())


def codebook_metrics(codebook: CosineResidualCodebook, embeddings: np.ndarray, encoding: CodebookEncoding) -> CodebookMetrics:
    cosine = reconstruction_cosine(embeddings, codebook.decode(encoding))
    codes = encoding.codes
    return CodebookMetrics(
        bytes_per_item=encoding.bytes_per_item,
        recon_cosine_mean=float(cosine.mean()),
        recon_cosine_p5=float(np.percentile(cosine, 5)),
        recon_cosine_min=float(cosine.min()),
        collision_rate=collision_rate(codes),
        perplexity=[perplexity(codes[:, layer], codebook.config.num_codes) for layer in range(codes.shape[1])],
        codes_used=[int(len(np.unique(codes[:, layer]))) for layer in range(codes.shape[1])],
    )
