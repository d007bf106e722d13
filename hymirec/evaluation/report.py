"""The human-readable evaluation report: markdown tables and the history-length plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hymirec.io import write_atomically  # noqa: E402

Table = dict[str, dict[str, float]]  # model -> metric -> value


def metrics_table(results: Table) -> str:
    """A markdown table, one row per model, one column per metric (4 decimals)."""
    metric_names = list(next(iter(results.values())))
    lines = ["| model | " + " | ".join(metric_names) + " |", "|---|" + "---:|" * len(metric_names)]
    for model, metrics in results.items():
        lines.append(f"| {model} | " + " | ".join(f"{metrics[name]:.4f}" for name in metric_names) + " |")
    return "\n".join(lines)


def breakdown_table(breakdowns: dict[str, list[dict]], metric: str = "ndcg@10") -> str:
    """``metric`` per history-length bucket (rows) and model (columns)."""
    models = list(breakdowns)
    first = breakdowns[models[0]]
    lines = ["| history length | users | " + " | ".join(models) + " |", "|---|---:|" + "---:|" * len(models)]
    for index, bucket in enumerate(first):
        values = " | ".join(f"{breakdowns[model][index][metric]:.4f}" for model in models)
        lines.append(f"| {bucket['history_length']} | {bucket['users']} | {values} |")
    return "\n".join(lines)


def plot_breakdown(breakdowns: dict[str, list[dict]], path: Path, metric: str = "ndcg@10") -> None:
    """Bar chart of ``metric`` by history-length bucket, one bar group per bucket."""
    models = list(breakdowns)
    labels = [bucket["history_length"] for bucket in breakdowns[models[0]]]
    width = 0.8 / len(models)
    figure, axis = plt.subplots(figsize=(8, 4))
    for offset, model in enumerate(models):
        positions = [index + offset * width for index in range(len(labels))]
        axis.bar(positions, [bucket[metric] for bucket in breakdowns[model]], width=width, label=model)
    axis.set_xticks([index + 0.4 - width / 2 for index in range(len(labels))], labels)
    axis.set_xlabel("input history length (items)")
    axis.set_ylabel(f"test {metric}")
    axis.legend()
    figure.tight_layout()
    write_atomically(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)


def compression_table(compression: dict[str, dict[str, dict[str, float]]]) -> str:
    """ΔNDCG@10 of reading the history from the codebook instead of the exact embeddings."""
    lines = ["| split | model | exact history | codebook history | relative change |", "|---|---|---:|---:|---:|"]
    for split, pairs in compression.items():
        for model, row in pairs.items():
            change = "n/a" if row["relative_change"] is None else f"{row['relative_change']:+.2%}"
            lines.append(f"| {split} | {model} | {row['exact_ndcg@10']:.4f} | {row['codebook_ndcg@10']:.4f} | {change} |")
    return "\n".join(lines)


def cost_table_markdown(cost: dict[str, dict], test: Table) -> str:
    """Quality beside what a request fetches: test NDCG@10 and the history bytes per user. The measured
    costs (training time, top-10 latency) stay in metrics.json: the report itself is the same bytes
    whenever the same models are evaluated."""
    lines = ["Training time and top-10 latency p50/p99 per model: `metrics.json`, `cost`.", "",
             "| model | test NDCG@10 | history bytes per user |", "|---|---:|---:|"]
    for name, row in cost.items():
        lines.append(f"| {name} | {test[name]['ndcg@10']:.4f} | {row['history_bytes_per_user']:,.0f} |")
    return "\n".join(lines)


def interest_table(interest_metrics: dict[str, dict]) -> str:
    """Per multi-interest model: each interest's share of targets won and of top-N slots, and the pairwise cosine."""
    lines = ["| model | interest | targets won | top slots | mean pairwise cosine |", "|---|---:|---:|---:|---:|"]
    for name, row in interest_metrics.items():
        top_key = next(key for key in row if key.startswith("top") and key.endswith("_share"))
        cosine = "—" if row["pairwise_cosine"] is None else f"{row['pairwise_cosine']:.3f}"
        for k, (won, slots) in enumerate(zip(row["target_share"], row[top_key]), start=1):
            lines.append(f"| {name if k == 1 else ''} | {k} | {won:.1%} | {slots:.1%} | {cosine if k == 1 else ''} |")
    return "\n".join(lines)


def render_report(
    valid: Table, test: Table, breakdowns: dict[str, list[dict]], figure_name: str, dataset: str,
    compression: dict[str, dict[str, dict[str, float]]] | None = None, interests: str | None = None,
    interest_metrics: dict[str, dict] | None = None, round_robin: dict[str, Table] | None = None,
    cost: dict[str, dict] | None = None,
) -> str:
    sections = [
        "# HyMiRec evaluation report",
        f"Data set: {dataset}. Leave-one-out split, full ranking over the whole catalog, each user's input "
        "history masked. Metrics are means over users; the test rankings are in `rankings/<model>.parquet`.",
        "## Test\n\n" + metrics_table(test),
        "## Validation\n\n" + metrics_table(valid),
        "## Test NDCG@10 by input history length\n\n" + breakdown_table(breakdowns) + f"\n\n![NDCG@10 by history length]({figure_name})",
    ]
    if compression:
        sections.append("## Cost of the compressed history (NDCG@10)\n\n" + compression_table(compression))
    if cost:
        sections.append("## What each model costs\n\n" + cost_table_markdown(cost, test))
    if interest_metrics:
        sections.append("## Are the interests alive and distinct? (test)\n\n" + interest_table(interest_metrics))
    if round_robin and round_robin.get("test"):
        sections.append(
            "## The same multi-interest models merged by round robin instead of max\n\n"
            "Each interest's best unseen item, then each one's second, …: a quota of N/K slots per interest. "
            "Which merge a model serves is chosen on validation.\n\n"
            "### Test\n\n" + metrics_table(round_robin["test"]) + "\n\n### Validation\n\n" + metrics_table(round_robin["valid"])
        )
    if interests:
        sections.append("## Interests of sample users\n\n" + interests)
    return "\n\n".join(sections) + "\n"


def plot_codebook_curve(curve: list[dict[str, float]], path: Path) -> None:
    """Mean reconstruction cosine against the number of codebook layers (and the baselines at equal bytes)."""
    layers = [row["num_layers"] for row in curve]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(layers, [row["recon_cosine_mean"] for row in curve], marker="o", label="cosine residual codebook")
    for key, label in (("euclidean_rq_recon_cosine_mean", "Euclidean residual k-means"), ("faiss_pq_recon_cosine_mean", "faiss PQ")):
        if all(key in row for row in curve):
            axis.plot(layers, [row[key] for row in curve], marker="s", linestyle="--", label=f"{label} (equal bytes)")
    axis.set_xticks(layers, [f"{int(row['num_layers'])}\n{int(row['bytes_per_item'])} B" for row in curve])
    axis.set_xlabel("layers L (bytes per item)")
    axis.set_ylabel("mean reconstruction cosine")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    write_atomically(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)


def plot_training_curves(histories: dict[str, list[dict[str, float]]], path: Path, metric: str = "valid_ndcg@10") -> None:
    """Validation ``metric`` per epoch, one line per trained model (Dagster metadata and the report)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, history in histories.items():
        axis.plot([row["epoch"] for row in history], [row[metric] for row in history], marker=".", label=name)
    axis.set_xlabel("epoch")
    axis.set_ylabel(metric.replace("_", " "))
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    write_atomically(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)
