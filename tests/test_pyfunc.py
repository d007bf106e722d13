"""Every trained recommender logs as an MLflow pyfunc that loads by URI, without the folder it was trained into."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.exceptions import MlflowException

from hymirec.config import BackboneConfig, CoarseConfig, LLMConfig, SASRecConfig, ServingConfig, Variant
from hymirec.models.coarse import CoarseModel
from hymirec.models.llm import build_hymirec, save_hymirec
from hymirec.models.persistence import save_model
from hymirec.models.sasrec import SASRec
from hymirec.serving.pyfunc import log_recommender
from hymirec.serving.served_model import Catalog, ServedModel
from hymirec.training.loop import seed_everything


def test_a_logged_recommender_loads_by_uri_and_predicts_top_n_from_item_ids(tracking: str, served_data, tmp_path: Path) -> None:
    catalog = Catalog.of(served_data)
    torch.manual_seed(0)
    model = SASRec(SASRecConfig(hidden_size=8, num_layers=1, max_length=6, dropout=0.0), catalog.size).eval()
    save_model(model, model.config, catalog.size, tmp_path / "sasrec")
    with mlflow.start_run():
        logged = log_recommender("sasrec", tmp_path / "sasrec", catalog, ServingConfig(), seed=0)
        popular = log_recommender("popularity", None, catalog, ServingConfig(), seed=0)
    shutil.rmtree(tmp_path / "sasrec")  # the artifact holds all it needs

    loaded = mlflow.pyfunc.load_model(logged.model_uri)
    history = catalog.items["item_id"].iloc[[3, 1, 4]].tolist()
    frame = loaded.predict(pd.DataFrame({"history": [history, []], "user_id": ["a", "b"]}), params={"k": 5})
    expected = ServedModel("sasrec", model, catalog, ServingConfig(), seed=0).recommend([np.array([3, 1, 4]), np.array([], dtype=np.int64)], 5)
    assert list(frame.columns) == ["request", "user_id", "rank", "item_id", "title", "score", "source"]
    assert frame["item_id"].tolist() == catalog.items["item_id"].to_numpy()[expected.items.ravel()].tolist()
    assert frame["source"].tolist() == ["model"] * 5 + ["popularity"] * 5 and frame["user_id"].tolist() == ["a"] * 5 + ["b"] * 5
    np.testing.assert_allclose(frame["score"], expected.scores.ravel(), rtol=1e-6)
    with pytest.raises(MlflowException, match="history of request 0: unknown item id 'nope'") as unknown:
        loaded.predict(pd.DataFrame({"history": [["nope"]]}))
    assert unknown.value.error_code == "INVALID_PARAMETER_VALUE"  # tests/test_pyfunc_errors.py: what `mlflow models serve` answers
    by_popularity = mlflow.pyfunc.load_model(popular.model_uri).predict(pd.DataFrame({"history": [history]}))
    assert by_popularity["item_id"].tolist() == catalog.items["item_id"].to_numpy()[
        [item for item in catalog.popular(13) if item not in (1, 3, 4)][:10]].tolist()


def test_a_pretrained_decoder_is_rebuilt_from_the_package_at_load_time(tracking: str, served_data, smollm2_cache: Path, tmp_path: Path) -> None:
    """The SmolLM2 variant's artifact holds no frozen decoder weight; loading takes them from the pretrained cache."""
    catalog = Catalog.of(served_data)
    coarse = CoarseConfig(hidden_size=8, num_layers=1, max_length=6, num_tokens=2)
    config = LLMConfig(smollm2_backbone=BackboneConfig(kind="smollm2", num_layers_kept=1, lora_rank=2), num_interests=2,
                       interest_size=8, recent_items=4)
    embeddings = np.random.default_rng(0).normal(size=(catalog.size, 10)).astype(np.float32)
    seed_everything(0)
    context = CoarseModel.from_embeddings(coarse, embeddings, embeddings).state_dict()
    model = build_hymirec(config, Variant.SMOLLM2, coarse, embeddings, embeddings, smollm2_cache, context).eval()
    save_hymirec(model, tmp_path / "hymirec_smollm2")
    with mlflow.start_run():
        logged = log_recommender("hymirec_smollm2", tmp_path / "hymirec_smollm2", catalog, ServingConfig(), seed=0)

    stored = torch.load(Path(mlflow.artifacts.download_artifacts(logged.model_uri, dst_path=str(tmp_path / "download")))
                        / "artifacts" / "recommender" / "model" / "model.pt", weights_only=True)
    assert model.frozen_pretrained_keys() and not model.frozen_pretrained_keys() & set(stored)
    served = mlflow.pyfunc.load_model(logged.model_uri, model_config={"pretrained_cache": str(smollm2_cache)}).unwrap_python_model().served
    histories = [np.array([5, 2, 9, 11, 0, 3]), np.array([7])]
    assert served.has_interests and served.score_name == "cosine"
    expected = ServedModel("hymirec_smollm2", model, catalog, ServingConfig(), seed=0).recommend(histories, 6)
    assert (served.recommend(histories, 6).items == expected.items).all()
