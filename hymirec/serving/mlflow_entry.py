"""The code MLflow stores with every logged recommender (MLflow's "models from code"; see ``hymirec.pyfunc``)."""

import mlflow

from hymirec.pyfunc import RecommenderPyfunc

mlflow.models.set_model(RecommenderPyfunc())
