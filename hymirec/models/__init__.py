"""Recommenders. Each exposes ``score_items(histories) -> [B, I]`` so one evaluator ranks them all."""
