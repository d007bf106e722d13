"""What each model costs to serve: the history bytes it fetches per user and its top-10 latency.

HyMiRec's promise is near-ceiling quality at a fraction of the cost of an LLM that reads the whole
history, so every report row carries its cost beside its quality (``evaluation_report`` writes
``metrics.json: cost``; the training seconds come from each model's training summary).

History bytes per user, from what each model reads for one request (ids are int32, 4 bytes; an item's
LM vector is ``embedding_dim`` float32; a codebook code is ``code_bytes`` bytes):

- SASRec, SASRec with text, ComiRec-SA: the ids of the last ``max_length`` items (the item tables are
  model parameters, not fetched per request);
- the coarse model: per item of its last ``max_length``, the id and the codebook code (or the LM
  vector, for the exact-history twin);
- HyMiRec's LLM model: the R window items' ids and LM vectors, plus its context: the coarse model's
  (ids + codes, or ids + vectors for ``hymirec_exact_history``), codes alone for the pooled
  ``hymirec_no_coarse``, nothing for ``hymirec_recent_only`` and ``llm_full_history``;
- Popularity: nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from hymirec.config import CodebookConfig, ScaleMode
from hymirec.evaluation.ranking import mask_histories
from hymirec.models.base import Recommender
from hymirec.models.coarse import CoarseModel
from hymirec.models.llm import HyMiRecModel, PooledHistory
from hymirec.models.popularity import Popularity

ID_BYTES = 4
FLOAT_BYTES = 4


def code_bytes(codebook: CodebookConfig) -> int:
    """Bytes stored per item by the codebook: one code per layer (1 byte up to 256 codes, else 2), plus
    the bit-packed per-item scales in ``per_item`` scale mode (``hymirec.codebook.residual.CodebookEncoding``)."""
    codes = codebook.num_layers * (1 if codebook.num_codes <= 256 else 2)
    scales = -(-codebook.num_layers * codebook.scale_bits // 8) if codebook.scale_mode is ScaleMode.PER_ITEM else 0
    return codes + scales


def _read(histories: Sequence[np.ndarray], last: int, skip_recent: int = 0) -> np.ndarray:
    """[U] items read per user: at most ``last`` of the items before the ``skip_recent`` most recent."""
    return np.array([min(max(len(history) - skip_recent, 0), last) for history in histories], dtype=np.float64)


def history_bytes_per_user(
    name: str, model: Recommender, histories: Sequence[np.ndarray], embedding_dim: int, code_size: int
) -> float:
    """Mean bytes fetched per request for the report's model ``name`` over ``histories`` (the module docstring
    says what each reads; ``coarse_exact`` is the coarse model reading LM vectors instead of codes)."""
    vector = embedding_dim * FLOAT_BYTES
    if isinstance(model, Popularity):
        return 0.0
    if isinstance(model, HyMiRecModel):
        recent = model.recent_items
        window = _read(histories, recent) * (ID_BYTES + vector)
        context = model.context
        if context is None:
            return float(window.mean())
        before = _read(histories, context.max_length if isinstance(context, PooledHistory) else context.config.max_length, recent)
        if isinstance(context, PooledHistory):
            per_item = code_size
        else:
            per_item = ID_BYTES + (vector if model.spec.history == "exact" else code_size)
        return float((window + before * per_item).mean())
    if isinstance(model, CoarseModel):
        per_item = ID_BYTES + (vector if name == "coarse_exact" else code_size)
        return float((_read(histories, model.config.max_length) * per_item).mean())
    return float((_read(histories, model.config.max_length) * ID_BYTES).mean())  # id-sequence models


def top10(model: Recommender, history: np.ndarray) -> np.ndarray:
    """One request: the catalog scored for one history, the history masked, the 10 best items."""
    scores = mask_histories(np.array(model.score_items([history]), dtype=np.float32), [history])[0]
    best = np.argpartition(-scores, 10)[:10]
    return best[np.argsort(-scores[best], kind="stable")]


def latency_sample(users: int, requests: int, seed: int) -> np.ndarray:
    """The users whose requests are timed: ``requests`` distinct ones of ``users`` (all, if fewer), drawn by ``seed``."""
    return np.random.default_rng(seed).choice(users, size=min(requests, users), replace=False)


def latency_ms(model: Recommender, histories: Sequence[np.ndarray], users: np.ndarray) -> dict[str, float]:
    """p50 and p99 of ``top10`` over the ``users`` (indices into ``histories``), after one warm-up request."""
    top10(model, histories[users[0]])  # lazy buffers, allocator
    seconds = []
    for user in users:
        started = time.perf_counter()
        top10(model, histories[user])
        seconds.append(time.perf_counter() - started)
    return percentiles_ms(seconds)


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {"p50": round(float(np.percentile(values, 50)), 3), "p99": round(float(np.percentile(values, 99)), 3)}
