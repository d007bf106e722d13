"""What `mlflow models serve` answers a request naming an item the model does not know: MLflow's
INVALID_PARAMETER_VALUE (HTTP 400) with the item in the message, no stack trace."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from hymirec.config import ServingConfig
from hymirec.serving.pyfunc import log_recommender
from hymirec.serving.served_model import Catalog


@pytest.fixture
def served_popularity(tracking: str, served_data) -> mlflow.pyfunc.PyFuncModel:
    with mlflow.start_run():
        logged = log_recommender("popularity", None, Catalog.of(served_data), ServingConfig(), seed=0)
    return mlflow.pyfunc.load_model(logged.model_uri)


def _invoke(model: mlflow.pyfunc.PyFuncModel, histories: list[list[str]]) -> scoring_server.InvocationsResponse:
    """The scoring server's request handler, as `mlflow models serve` calls it for POST /invocations."""
    body = json.dumps({"dataframe_split": {"columns": ["history"], "data": [[history] for history in histories]}})
    return scoring_server.invocations(body, "application/json", model, model.metadata.get_input_schema())


def test_an_unknown_item_is_a_400_naming_it_without_a_stack_trace(served_popularity, served_data) -> None:
    known = served_data.items["item_id"].iloc[0]
    with pytest.raises(MlflowException) as raised:
        _invoke(served_popularity, [[known], [known, "i99", "nope"]])
    error = raised.value
    answer = json.loads(error.serialize_as_json())  # the response body the server sends
    assert error.get_http_status_code() == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "history of request 1: unknown item ids 'i99', 'nope' (not among the 23 items" in answer["message"]
    assert "stack_trace" not in answer and "Traceback" not in answer["message"]


def test_known_items_are_answered(served_popularity, served_data) -> None:
    known = served_data.items["item_id"].iloc[0]
    response = _invoke(served_popularity, [[known]])
    assert response.status == 200
    predictions = pd.DataFrame(json.loads(response.response)["predictions"])
    assert len(predictions) == 10 and known not in predictions["item_id"].tolist()
