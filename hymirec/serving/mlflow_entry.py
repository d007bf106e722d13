"""The code MLflow stores with every logged recommender (MLflow's "models from code"; see ``hymirec.serving.pyfunc``)."""

import mlflow

from hymirec.serving.pyfunc import RecommenderPyfunc

mlflow.models.set_model(RecommenderPyfunc())
