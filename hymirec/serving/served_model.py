"""Serving a trained recommender: the top-N unseen items for histories of item ids, ranked as the evaluation ranks them.

A ``ServedModel`` is one trained model plus the ``Catalog`` it was trained on: the validated item table
in item_idx order, each item's number of events in the whole data set (the popularity list) and the
data fingerprint (``hymirec.serving.registry.data_fingerprint``). Two ways to rank, both exact:

- multi-interest models (every HyMiRec variant and ComiRec-SA: the models with ``user_interests``) go
  through faiss (``hymirec.serving.retrieval.MultiInterestRetriever``): each of the K interests searches the
  item index, and an item scores what its best interest gives it, s(u, i) = max_k s_k(u, i) — the
  cosine for HyMiRec (unit vectors; the dot product with ``llm.scoring: dot``), the dot product for ComiRec-SA;
- every other model (SASRec, sasrec_text, the coarse models, Popularity) scores the whole catalog
  (``score_items``) and the seen items are masked.

Either way the list is the evaluation's full ranking with the history masked (ties: lower item_idx
first), cut at N. A history without items gets the popularity list (``Recommendations.from_popularity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hymirec.config import CoarseConfig, ComiRecConfig, SASRecConfig, ServingConfig
from hymirec.data.schema import GENRE_SEPARATOR, GENRES, ITEM_ID, TITLE
from hymirec.data.sequences import ITEMS, SequenceData, SplitView
from hymirec.evaluation.ranking import mask_histories, top_items
from hymirec.io import read_json, write_json, write_npy, write_parquet
from hymirec.models.base import Recommender
from hymirec.models.coarse import CoarseModel
from hymirec.models.comirec import ComiRec
from hymirec.models.llm import HyMiRecModel, load_hymirec
from hymirec.models.persistence import load_model
from hymirec.models.popularity import Popularity
from hymirec.models.sasrec import SASRec, SASRecText
from hymirec.paths import Layout
from hymirec.serving.registry import data_fingerprint
from hymirec.serving.retrieval import MultiInterestRetriever

POPULARITY = "popularity"
BATCH_USERS = 1024  # users scored at once (the evaluation's chunk)


class RequestError(ValueError):
    """A request that cannot be served (unknown item or user file, unknown model): the message names it."""


def trained_model_dirs(layout: Layout) -> dict[str, Path]:
    """Every trained model in the workspace, by report name -> its folder (what the registry stores)."""
    folders = {folder.name: folder for folder in sorted(layout.baselines_dir.glob("*/")) if folder.is_dir()}
    folders.update({f"coarse_{folder.name}": folder for folder in sorted(layout.coarse_dir.glob("*/")) if folder.is_dir()})
    folders.update({folder.name: folder for folder in sorted(layout.llm_dir.glob("*/")) if folder.is_dir()})
    return folders


BASELINE_CLASSES = {
    "sasrec": (SASRec, SASRecConfig), "sasrec_full_history": (SASRec, SASRecConfig), "sasrec_text": (SASRecText, SASRecConfig),
    "comirec": (ComiRec, ComiRecConfig),
}


def load_recommender(name: str, folder: Path, pretrained_cache: Path) -> Recommender:
    """The trained model saved in ``folder`` under report name ``name``, in eval mode.

    A pretrained decoder's frozen weights are not in the folder: they are rebuilt from the bundled
    package in ``pretrained_cache`` (``hymirec.models.pretrained.cached_smollm2``).
    """
    if name in BASELINE_CLASSES:
        return load_model(*BASELINE_CLASSES[name], folder)
    if name.startswith("coarse_"):
        return load_model(CoarseModel, CoarseConfig, folder)
    return load_hymirec(folder, pretrained_cache)


def load_trained(name: str, folder: Path, layout: Layout) -> Recommender:
    """``load_recommender`` with the workspace's pretrained cache."""
    return load_recommender(name, folder, layout.pretrained_cache)


def with_popularity(trained: dict[str, Recommender], view: SplitView, num_items: int) -> dict[str, Recommender]:
    """Popularity counted on ``view``'s own inputs, then the ``trained`` models (loaded once, shared by both splits)."""
    return {POPULARITY: Popularity.of_histories(view.histories, num_items), **trained}


@dataclass(frozen=True)
class Catalog:
    """The items a model ranks, in item_idx order, and what serving needs to know about them."""

    items: pd.DataFrame  # item_idx, item_id, title and the other text columns (year, genres)
    popularity: np.ndarray  # [I] events per item in the whole data set
    fingerprint: str  # of the validated sequences the model was trained and evaluated on

    FILES = ("catalog.parquet", "popularity.npy", "catalog.json")

    @classmethod
    def of(cls, data: SequenceData) -> Catalog:
        events = np.concatenate([np.asarray(items, dtype=np.int64) for items in data.sequences[ITEMS]])
        return cls(data.items.reset_index(drop=True), np.bincount(events, minlength=data.num_items), data_fingerprint(data.sequences, data.items))

    def save(self, directory: Path) -> None:
        items, popularity, meta = (directory / name for name in self.FILES)
        write_parquet(self.items, items)
        write_npy(self.popularity, popularity)
        write_json({"fingerprint": self.fingerprint}, meta)

    @classmethod
    def load(cls, directory: Path) -> Catalog:
        items, popularity, meta = (directory / name for name in cls.FILES)
        return cls(pd.read_parquet(items), np.load(popularity), read_json(meta)["fingerprint"])

    @property
    def size(self) -> int:
        return len(self.items)

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.items[ITEM_ID].astype(str))

    def item_idx(self, item_ids: Sequence[object], source: str) -> np.ndarray:
        """item_idx of raw item ids; ``RequestError`` naming every unknown id (and ``source``) otherwise."""
        ids = [str(item) for item in item_ids]
        found = self._index.get_indexer(ids)
        if (found < 0).any():
            unknown = list(dict.fromkeys(item for item, idx in zip(ids, found) if idx < 0))
            shown = ", ".join(repr(item) for item in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            raise RequestError(f"{source}: unknown item id{'s' if len(unknown) > 1 else ''} {shown} "
                               f"(not among the {self.size} items of the model's catalog)")
        return found.astype(np.int64)

    def item_id(self, idx: int) -> str:
        return str(self.items[ITEM_ID].iat[idx])

    def title(self, idx: int) -> str:
        """'Title (year)' when the catalog has years, else the title (or the item id when there is none)."""
        title = str(self.items[TITLE].iat[idx]) if TITLE in self.items.columns else self.item_id(idx)
        year = str(self.items["year"].iat[idx]) if "year" in self.items.columns else ""
        return f"{title} ({year})" if year and year not in ("nan", "None") and not title.endswith(f"({year})") else title

    def genres(self, idx: int) -> str:
        value = self.items[GENRES].iat[idx] if GENRES in self.items.columns else None
        return ", ".join(str(value).split(GENRE_SEPARATOR)) if isinstance(value, str) and value else ""

    def popular(self, n: int) -> np.ndarray:
        """The ``n`` items with the most events, most first (ties: lower item_idx)."""
        return np.argsort(-self.popularity, kind="stable")[:n]


@dataclass(frozen=True)
class Recommendations:
    items: np.ndarray  # [B N] item_idx, best first
    scores: np.ndarray  # [B N] the model's score of each (events, for a popularity list)
    from_popularity: np.ndarray  # [B] bool: the history was empty, the row is the popularity list

    def frame(self, catalog: Catalog, keys: dict[str, Sequence[object]]) -> pd.DataFrame:
        """One row per recommendation: the ``keys`` columns of its request, rank (1 = best), item_id, title, score, source."""
        users, depth = self.items.shape
        flat = self.items.ravel()
        columns = {name: np.repeat(np.asarray(values, dtype=object), depth) for name, values in keys.items()}
        return pd.DataFrame({
            **columns,
            "rank": np.tile(np.arange(1, depth + 1), users),
            ITEM_ID: catalog.items[ITEM_ID].to_numpy()[flat].astype(str),
            TITLE: [catalog.title(idx) for idx in flat],
            "score": self.scores.ravel().astype(np.float64),
            "source": np.repeat(np.where(self.from_popularity, POPULARITY, "model"), depth),
        })


def is_gated(model: Recommender) -> bool:
    """Whether a learned gate weighs the model's interests in the merge (``llm.merge: gated_max``)."""
    return getattr(model, "gate", None) is not None


def served_item_vectors(model: Recommender) -> np.ndarray:
    """[I D] a multi-interest model's item vectors as served: with a gate each ends in a 1 that meets the
    interests' offsets (``served_interests``)."""
    with torch.no_grad():
        vectors = model.item_vectors().detach().numpy()
    return np.hstack([vectors, np.ones((len(vectors), 1), dtype=vectors.dtype)]) if is_gated(model) else vectors


def served_interests(model: Recommender, histories: list[np.ndarray]) -> np.ndarray:
    """[B K D] each user's interests as served: with a gate each ends in its offset τ·log π_k, so that
    interests · ``served_item_vectors`` is s_k(i) + τ·log π_k, the term the merge maximises — exact under
    faiss's inner-product search per interest, in ``--explain``'s attribution and in every report."""
    if not is_gated(model):
        return model.user_interests(histories)
    vectors, offsets = model.user_interests_and_offsets(histories)
    return np.concatenate([vectors, offsets[..., None]], axis=-1)


class ServedModel:
    """A trained model and its catalog: ``recommend`` ranks, ``interests`` shows what a multi-interest model read."""

    def __init__(self, name: str, model: Recommender, catalog: Catalog, serving: ServingConfig, seed: int) -> None:
        """``serving`` and ``seed`` build the faiss index of a multi-interest model (exact, or IVF above a size)."""
        self.name, self.model, self.catalog = name, model, catalog
        self.serving, self.seed = serving, seed
        num_items = getattr(model, "num_items", catalog.size)
        if num_items != catalog.size:
            raise RequestError(f"model {name} ranks {num_items} items but its catalog has {catalog.size}")

    @classmethod
    def popularity(cls, catalog: Catalog) -> ServedModel:
        return cls(POPULARITY, Popularity(catalog.popularity), catalog, ServingConfig(), seed=0)  # no index

    @property
    def has_interests(self) -> bool:
        """A multi-interest model (K ≥ 1 interest vectors per user, served through faiss)."""
        return hasattr(self.model, "user_interests")

    @property
    def score_name(self) -> str:
        if isinstance(self.model, Popularity):
            return "events"
        score = "cosine" if isinstance(self.model, HyMiRecModel) and self.model.unit_vectors else "dot product"
        return f"gated {score}" if self.gated else score  # s_k(i) + τ·log π_k: what the interests' lists and the merge rank by

    @property
    def gated(self) -> bool:
        """A learned gate weighs the interests in the merge (``llm.merge: gated_max``): the served vectors carry it."""
        return is_gated(self.model)

    @cached_property
    def item_vectors(self) -> np.ndarray:
        """[I D] the vectors a multi-interest model's interests are compared with (``served_item_vectors``)."""
        return served_item_vectors(self.model)

    @cached_property
    def retriever(self) -> MultiInterestRetriever:
        return MultiInterestRetriever(self.item_vectors, self.serving, self.seed)

    def interests(self, histories: list[np.ndarray]) -> np.ndarray:
        """[B K D] each user's interests as served (multi-interest models only; ``served_interests``)."""
        return served_interests(self.model, histories)

    def interest_vectors(self, interests: np.ndarray) -> np.ndarray:
        """The K interest vectors of served ``interests`` [B K D], without a gate's offsets: what their cosine compares."""
        return interests[..., :-1] if self.gated else interests

    def recommend(self, histories: list[np.ndarray], n: int) -> Recommendations:
        """The ``n`` best unseen items for each history of item_idx (fewer if a history leaves fewer unseen)."""
        depth = min(n, self.catalog.size - max((len(history) for history in histories), default=0))
        items = np.empty((len(histories), depth), dtype=np.int64)
        scores = np.empty((len(histories), depth), dtype=np.float32)
        empty = np.array([len(history) == 0 for history in histories], dtype=bool)
        known = np.flatnonzero(~empty)
        for start in range(0, len(known), BATCH_USERS):
            rows = known[start : start + BATCH_USERS]
            items[rows], scores[rows] = self._rank([histories[row] for row in rows], depth)
        items[empty] = self.catalog.popular(depth)
        scores[empty] = self.catalog.popularity[items[empty]]
        return Recommendations(items=items, scores=scores, from_popularity=empty)

    def _rank(self, histories: list[np.ndarray], depth: int) -> tuple[np.ndarray, np.ndarray]:
        if self.has_interests:
            interests = self.interests(histories)  # [B K D]
            top = self.retriever.top_items(interests, depth, histories)  # [B N]
            return top, np.einsum("bkd,bnd->bkn", interests, self.item_vectors[top]).max(axis=1)
        scores = mask_histories(np.array(self.model.score_items(histories), dtype=np.float32), histories)
        top = top_items(scores, depth)  # the evaluation's order: score desc, lower item_idx first
        return top, np.take_along_axis(scores, top, axis=1)
