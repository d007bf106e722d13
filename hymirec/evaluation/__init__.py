"""Evaluation: full-ranking metrics, per-interest analysis, cost and the evaluation report."""
