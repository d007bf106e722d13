"""Serving: loading trained models, top-k retrieval, recommendations with explanations, and the MLflow model."""
