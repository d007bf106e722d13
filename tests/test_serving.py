"""Serving: the top-N is the evaluation's full ranking with the history masked; the interest explorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hymirec.config import BackboneConfig, CoarseConfig, ComiRecConfig, EvaluationConfig, LLMConfig, SASRecConfig, ServingConfig, Variant
from hymirec.data.sequences import split_view
from hymirec.evaluation.ranking import evaluate
from hymirec.models.coarse import CoarseModel
from hymirec.models.comirec import ComiRec
from hymirec.models.llm import HyMiRecModel, build_hymirec
from hymirec.models.sasrec import SASRec
from hymirec.serving.explain import explain, explanation_markdown, explanation_text
from hymirec.serving.served_model import Catalog, RequestError, ServedModel

N = 7


def _served(name: str, data) -> ServedModel:
    catalog = Catalog.of(data)
    torch.manual_seed(0)
    if name == "popularity":
        return ServedModel.popularity(catalog)
    if name == "sasrec":  # a single user vector: full scoring
        return ServedModel(name, SASRec(SASRecConfig(hidden_size=8, num_layers=1, max_length=6, dropout=0.0), catalog.size).eval(), catalog, ServingConfig(), seed=0)
    if name == "hymirec_gated":  # K = 3 interests and a gate that weighs them apart: served through faiss on [u_k, τ·log π_k]
        return ServedModel(name, _gated_hymirec(catalog.size), catalog, ServingConfig(), seed=0)
    # K = 3 interests of width 12: served through faiss
    return ServedModel(name, ComiRec(ComiRecConfig(hidden_size=12, attention_size=10, num_interests=3, max_length=6), catalog.size).eval(), catalog, ServingConfig(), seed=0)


def _gated_hymirec(num_items: int) -> HyMiRecModel:
    """An untrained HyMiRec over random item vectors whose gate is set far from uniform (it starts at zero)."""
    embeddings = np.random.default_rng(0).normal(size=(num_items, 10)).astype(np.float32)
    coarse = CoarseConfig(hidden_size=8, num_layers=1, num_heads=1, dropout=0.0, max_length=9, num_tokens=2)
    config = LLMConfig(backbone=BackboneConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, dropout=0.0),
                       num_interests=3, interest_size=12, recent_items=4, target_window=3, merge="gated_max")
    model = build_hymirec(config, Variant.HYMIREC, coarse, embeddings, embeddings, Path("unused"),
                          CoarseModel.from_embeddings(coarse, embeddings, embeddings).state_dict())
    with torch.no_grad():
        model.gate.weight.normal_(std=3.0)
    return model.eval()


@pytest.mark.parametrize("name", ["popularity", "sasrec", "comirec", "hymirec_gated"])
def test_the_top_n_is_the_evaluation_ranking_with_seen_items_masked(served_data, name: str) -> None:
    """Against ``evaluate``'s own top list for the same users and histories; the target is taken out of both
    lists, the one place they may differ (the evaluation ranks it after the items tied with it)."""
    served = _served(name, served_data)
    view = split_view(served_data.sequences, "test")
    listed = served.recommend(view.histories, N)
    expected = evaluate(served.model.score_items, view, EvaluationConfig(ks=(5,), ranking_depth=N + 1), model_name=name).top_items
    assert listed.items.shape == (len(view.histories), N) and not listed.from_popularity.any()
    for user, target in enumerate(view.targets):
        assert not set(listed.items[user]) & set(view.histories[user])
        ours = [item for item in listed.items[user] if item != target]
        assert ours == [item for item in expected[user] if item != target][: len(ours)], user
    assert (np.diff(listed.scores, axis=1) <= 0).all()


def test_an_empty_history_gets_the_popularity_list_and_says_so(served_data) -> None:
    served = _served("sasrec", served_data)
    listed = served.recommend([np.array([0, 1]), np.array([], dtype=np.int64)], 4)
    assert listed.from_popularity.tolist() == [False, True]
    counts = served.catalog.popularity
    assert listed.items[1].tolist() == sorted(range(len(counts)), key=lambda item: (-counts[item], item))[:4]
    frame = listed.frame(served.catalog, {"user_id": ["u1", None]})
    assert frame["source"].tolist() == ["model"] * 4 + ["popularity"] * 4
    assert frame["title"].iloc[0] == served.catalog.title(listed.items[0, 0])
    assert served.catalog.title(served.catalog.item_idx(["i05"], "test")[0]) == "Film 5 (1995)"


def test_unknown_item_ids_are_named(served_data) -> None:
    catalog = Catalog.of(served_data)
    assert catalog.item_idx(["i03", "i00", "i03"], "history").tolist() == [3, 0, 3]
    with pytest.raises(RequestError, match=r"history file h\.txt: unknown item ids 'x1', 'x2'"):
        catalog.item_idx(["i03", "x1", "x2", "x1"], "history file h.txt")


@pytest.mark.parametrize("name", ["comirec", "hymirec_gated"])
def test_each_recommendation_names_the_interest_that_scores_it_best(served_data, name: str) -> None:
    served = _served(name, served_data)
    history = split_view(served_data.sequences, "test").histories[4]
    explanation = explain(served, history, N)
    per_interest = served.interests([history])[0] @ served.item_vectors.T  # [K I]
    assert explanation.producers.tolist() == per_interest[:, explanation.items].argmax(axis=0).tolist()
    np.testing.assert_allclose(explanation.scores, per_interest[:, explanation.items].max(axis=0), rtol=1e-5)
    assert sum(interest.produced for interest in explanation.interests) == N and len(explanation.interests) == 3
    for k, interest in enumerate(explanation.interests):  # nearest items: the best of s_k, seen ones included
        assert interest.nearest.tolist() == np.argsort(-per_interest[k], kind="stable")[:5].tolist()
    text = explanation_text(served, explanation)
    assert "3 interests" in text and "interest 3 (produced" in text and "seen items included and marked *" in text
    assert ("gated cosine" in text) == (name == "hymirec_gated")  # the scores shown are what the gated merge ranks by
    assert "| interest | recommendations produced |" in explanation_markdown(served, explanation, "user u4")


@pytest.mark.parametrize(("name", "says"), [("sasrec", "has a single interest"), ("popularity", "has no interests")])
def test_a_model_without_interests_says_so_and_still_lists(served_data, name: str, says: str) -> None:
    served = _served(name, served_data)
    explanation = explain(served, np.array([0, 5, 7]), N)
    assert explanation.interests == [] and explanation.producers is None
    text = explanation_text(served, explanation)
    assert says in text and text.count("Film ") == N
