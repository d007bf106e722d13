"""Full-ranking evaluation time and per-user top-10 latency of every model a workspace has trained.

Evaluation is the report's own (``hymirec.evaluation.ranking.evaluate`` on the test split, top lists and
diversity included), timed per model. Latency is what serving one request costs: one user's history
in, the catalog scored, the history masked, the 10 best items out (a partition, then a sort of 10).
"""

from __future__ import annotations

import time

from hymirec.config import HyMiRecConfig
from hymirec.data.sequences import item_categories, load_sequence_data, split_view
from hymirec.evaluation.cost import latency_ms, latency_sample
from hymirec.evaluation.ranking import evaluate
from hymirec.paths import Layout
from hymirec.serving.served_model import load_trained, trained_model_dirs, with_popularity


def serving_benchmark(config: HyMiRecConfig, layout: Layout, seed: int) -> dict:
    data = load_sequence_data(layout)
    view = split_view(data.sequences, "test")
    categories = item_categories(data.items)
    trained = {name: load_trained(name, folder, layout) for name, folder in trained_model_dirs(layout).items()}
    users = latency_sample(len(view.targets), config.evaluation.latency_requests, seed)
    eval_seconds, latency = {}, {}
    for name, model in with_popularity(trained, view, data.num_items).items():
        started = time.perf_counter()
        evaluate(model.score_items, view, config.evaluation, model_name=name, item_categories=categories)
        eval_seconds[name] = round(time.perf_counter() - started, 3)
        latency[name] = latency_ms(model, view.histories, users)
    return {"users": len(view.targets), "items": data.num_items, "full_rank_eval_seconds": eval_seconds,
            "top10_latency_ms": latency, "latency_users": len(users)}
