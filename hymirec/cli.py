"""The ``hymirec`` command: run one pipeline stage, or validate user-supplied log files.

    hymirec stage <name> -c configs/default.yaml
    hymirec validate --interactions PATH [--items PATH] [-c CONFIG]
    hymirec metrics [reports/metrics.json] [--all]
    hymirec recommend --user 1 [--explain] [--model URI|NAME]   (or --history ITEM_ID…, --history-file PATH, --all-users --out PATH)
    hymirec publish --root ../bench -c configs/benchmark_ml1m.yaml --out results/benchmark_ml1m [--stage sasrec_model]
    hymirec seeds results/run_seed42 results/run_seed43 --out results/run_seeds
    hymirec paired results/run_seed42 [--against results/other_run | --taste data/sequences]
    hymirec select results/run_a results/run_b --out results/run_a/selection.md
    hymirec bench [--sections pipeline serving training converge recbole llm_steps]

Expected failures (bad config, bad data) print one clear message and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from hymirec.bench import SECTIONS
from hymirec.config import ConfigError, SequencesConfig, load_config
from hymirec.data.schema import USER_ID
from hymirec.paths import STAGES, Layout
from hymirec.training import distributed

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("hymirec")


def _run_stage(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    stage = importlib.import_module(f"hymirec.stages.{args.name}")
    stage.run(config, Layout(Path(args.root).resolve()))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from data_checks.validate_files import validate_user_files
    from hymirec.data.files import read_table

    report = validate_user_files(Path(args.interactions), Path(args.items) if args.items else None)
    print(report)
    sequences = load_config(args.config).sequences if args.config else SequencesConfig()
    if warning := short_users_warning(read_table(Path(args.interactions)), sequences.min_user_interactions):
        print(f"warning: {args.interactions}: {warning}", file=sys.stderr)
    return 0


def short_users_warning(interactions: pd.DataFrame, min_interactions: int) -> str | None:
    """Why stage ``validated_sequences`` would keep no user of ``interactions`` (its repeat and short-user
    rules, ``hymirec.data.sequences``), or None when some user is kept."""
    from hymirec.data.sequences import drop_repeated_items, filter_short_users

    distinct = drop_repeated_items(interactions)
    if len(filter_short_users(distinct, min_interactions)):
        return None
    most = int(distinct.groupby(USER_ID).size().max()) if len(distinct) else 0
    return (
        f"no user has {min_interactions} distinct items (sequences.min_user_interactions={min_interactions}; the most any "
        f"user has is {most}): the pipeline would drop every user and stop at validated_sequences. Add events, or lower "
        f"sequences.min_user_interactions in your config (3 at least: one each for training, validation and test)"
    )


# Columns `hymirec metrics` shows by default, those of them the file holds (all its metrics if none)
HEADLINE_METRICS = ("ndcg@10", "recall@10", "ndcg@50", "recall@50", "mrr", "ild@10")


def metrics_summary(path: Path, every_metric: bool = False) -> str:
    """A metrics file of stage ``evaluation_report`` ({"test"|"valid": {model: {metric: value}}}) as one
    model × metric table per split, test first: ``hymirec.evaluation.report.metrics_table`` (4 decimals) with its
    columns padded to line up in a terminal. ``FileNotFoundError``/``ValueError`` name the file."""
    from hymirec.evaluation.report import metrics_table

    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: run `make run` first (stage evaluation_report writes it), or name a metrics.json") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read it as JSON: {error}") from error
    splits = {split: metrics[split] for split in ("test", "valid") if isinstance(metrics, dict) and isinstance(metrics.get(split), dict) and metrics[split]}
    if not splits:
        found = sorted(metrics) if isinstance(metrics, dict) else type(metrics).__name__
        raise ValueError(f"{path}: no 'test' or 'valid' table of model -> metric -> value in it (found: {found})")
    sections = []
    for split, table in splits.items():
        rows = {model: row for model, row in table.items() if isinstance(row, dict)}
        held = [name for name in next(iter(rows.values())) if all(isinstance(row.get(name), (int, float)) for row in rows.values())]
        columns = held if every_metric else [name for name in HEADLINE_METRICS if name in held] or held
        sections.append(f"{split}\n" + _aligned(metrics_table({model: {name: row[name] for name in columns} for model, row in rows.items()})))
    return "\n\n".join(sections)


def _aligned(markdown: str) -> str:
    """A markdown table with its cells padded to equal widths (still markdown): text left, numbers right."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in markdown.splitlines()]
    header, rule, body = rows[0], rows[1], rows[2:]
    widths = [max(len(row[column]) for row in [header, *body]) for column in range(len(header))]
    right = [cell.endswith(":") for cell in rule]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.rjust(width) if flush else cell.ljust(width) for cell, width, flush in zip(cells, widths, right)) + " |"

    rule = "|" + "|".join("-" * (width + 1) + ":" if flush else "-" * (width + 2) for width, flush in zip(widths, right)) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in body)])


def _metrics(args: argparse.Namespace) -> int:
    try:
        print(metrics_summary(Path(args.path), args.all))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from hymirec.serving.recommend import run
    from hymirec.serving.served_model import RequestError

    try:
        return run(args)
    except (RequestError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _publish(args: argparse.Namespace) -> int:
    from hymirec.experiments.publish import publish, publish_candidate, read_stage_seconds

    load_config(args.config)  # a config that does not load cannot be what the workspace ran
    seconds = read_stage_seconds(Path(args.stage_seconds)) if args.stage_seconds else None
    try:
        if args.stage:
            publish_candidate(Path(args.root).resolve(), Path(args.config), args.stage, Path(args.out), args.note)
        else:
            publish(Path(args.root).resolve(), Path(args.config), Path(args.out), seconds, args.note)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"published {args.root} -> {args.out}")
    return 0


def _seeds(args: argparse.Namespace) -> int:
    from hymirec.experiments.seeds import seed_summary, summary_markdown
    from hymirec.io import write_json, write_text

    try:
        summary = seed_summary([Path(run) for run in args.runs])
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = Path(args.out)
    write_json(summary, out / "seeds.json")
    write_text(summary_markdown(summary), out / "seeds.md")
    print(f"seeds {summary['seeds']} -> {out / 'seeds.json'}, {out / 'seeds.md'}")
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    from hymirec.experiments import snapshot

    try:
        if args.action == "save":
            manifest = snapshot.save(Path(args.root), Path(args.path), args.note)
            print(f"saved {len(manifest['sha256'])} files of {args.root} -> {args.path}")
        else:
            restored = snapshot.restore(Path(args.path), Path(args.root))
            print(f"rebuilt the interaction data (as saved) and restored {len(restored)} files from {args.path} into {args.root}")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _select(args: argparse.Namespace) -> int:
    from hymirec.experiments.selection import write_selection

    try:
        written = write_selection([Path(run) for run in args.runs], Path(args.out))
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"selection on validation -> {written}")
    return 0


def _paired(args: argparse.Namespace) -> int:
    from hymirec.experiments.paired import write_paired

    against = None if args.against is None else Path(args.against)
    taste = None if args.taste is None else Path(args.taste)
    for run in map(Path, args.runs):
        try:
            written = write_paired(run, against, taste)
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        baseline = "hymirec" if against is None else f"the same models in {against}"
        print(f"paired differences from {baseline} -> {written}, {written.with_suffix('.md')}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from hymirec.bench.run import run_bench

    root = Path(".").resolve()
    try:
        line = run_bench(root, Path(args.config), Path(args.benchmark_config), tuple(args.sections), args.recbole_steps,
                         args.hymirec_batches or None, Path(args.out), Path(args.workspace).resolve() if args.workspace else None,
                         args.llm_steps)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hymirec", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    stage = commands.add_parser("stage", help="run one pipeline stage (as dvc.yaml does)")
    stage.add_argument("name", choices=STAGES)
    stage.add_argument("-c", "--config", default="configs/default.yaml")
    stage.add_argument("--root", default=".", help="workspace root (default: current directory)")
    stage.set_defaults(handler=_run_stage)

    validate = commands.add_parser("validate", help="check interaction/item files against the raw-logs suite")
    validate.add_argument("--interactions", required=True)
    validate.add_argument("--items")
    validate.add_argument("-c", "--config", help="the config the data will run with: its sequences.min_user_interactions "
                          f"is the shortest history kept (default {SequencesConfig().min_user_interactions})")
    validate.set_defaults(handler=_validate)

    metrics = commands.add_parser("metrics", help="the evaluation metrics as a model × metric table per split (4 decimals)")
    metrics.add_argument("path", nargs="?", default=str(Layout(Path(".")).metrics), help="a metrics.json (default: this workspace's reports/metrics.json)")
    metrics.add_argument("--all", action="store_true", help=f"every metric in the file (default: {', '.join(HEADLINE_METRICS)})")
    metrics.set_defaults(handler=_metrics)

    recommend = commands.add_parser("recommend", help="top-N items with titles from this data's champion or a named model")
    who = recommend.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", nargs="+", metavar="ID", help="original user ids; each gets a list from their full history")
    who.add_argument("--history", nargs="+", metavar="ITEM_ID", help="a history of item ids, oldest first")
    who.add_argument("--history-file", metavar="PATH", help="a history: one item id per line")
    who.add_argument("--all-users", action="store_true", help="every user of the workspace (needs --out)")
    recommend.add_argument("--model", metavar="URI|NAME", help="an MLflow model URI or a trained model of the workspace (default: this data's champion)")
    recommend.add_argument("-n", "--top", type=int, default=10, help="items per list (default 10)")
    recommend.add_argument("--explain", action="store_true", help="each interest's nearest items, and which interest produced each item")
    recommend.add_argument("--out", metavar="PATH", help="also write the lists to this Parquet file")
    recommend.add_argument("--root", default=".", help="workspace root (default: current directory)")
    recommend.add_argument("-c", "--config", default="configs/default.yaml", help="serving settings for --model NAME (a workspace model)")
    recommend.set_defaults(handler=_recommend)

    publish = commands.add_parser("publish", help="copy a benchmark workspace's report, top-10 rankings and provenance into results/")
    publish.add_argument("--root", required=True, help="the benchmark workspace")
    publish.add_argument("-c", "--config", required=True, help="the config the workspace ran")
    publish.add_argument("--out", required=True, help="e.g. results/benchmark_ml1m")
    publish.add_argument("--stage-seconds", help="lines '<stage> <seconds>' measured while the stages ran")
    publish.add_argument("--note", default="", help="what a reader must know that the numbers do not say")
    publish.add_argument("--stage", help="a one-stage experiment (make experiment STAGE=sasrec_model or llm_model): publish "
                         "that stage's report, a selection candidate")
    publish.set_defaults(handler=_publish)

    seeds = commands.add_parser("seeds", help="mean ± std of each model's test metrics over published runs of several seeds")
    seeds.add_argument("runs", nargs="+", help="results directories written by 'hymirec publish', one per seed")
    seeds.add_argument("--out", required=True, help="folder for seeds.json and seeds.md")
    seeds.set_defaults(handler=_seeds)

    snapshot = commands.add_parser("snapshot", help="carry a workspace's training state (models, checkpoints) to another machine")
    snapshot.add_argument("action", choices=("save", "restore"))
    snapshot.add_argument("path", help="the snapshot folder (save: written whole; restore: read)")
    snapshot.add_argument("--root", default=".", help="workspace root (restore: a fresh clone)")
    snapshot.add_argument("--note", default="", help="save: what the snapshot holds, in words")
    snapshot.set_defaults(handler=_snapshot)

    paired = commands.add_parser("paired", help="each model's per-user NDCG@10 difference from hymirec (or the same model in another run) in published runs")
    paired.add_argument("runs", nargs="+", help="results directories written by 'hymirec publish' (publish writes these too)")
    grouping = paired.add_mutually_exclusive_group()
    grouping.add_argument("--against", help="another published run: each model's difference from the same model there")
    grouping.add_argument("--taste", help="the run's sequences folder (data/sequences): the differences per third of the "
                          "test users by taste diversity, in paired_by_taste.json/.md")
    paired.set_defaults(handler=_paired)

    select = commands.add_parser("select", help="choose each model's configuration, merge and the champion on validation only")
    select.add_argument("runs", nargs="+", help="candidate runs: folders holding a metrics.json (published runs or reports/), or a one-stage "
                        "experiment's training report (sasrec_model.json, llm_model.json)")
    select.add_argument("--out", required=True, help="the selection.md to write")
    select.set_defaults(handler=_select)

    bench = commands.add_parser("bench", help="measure pipeline, training, serving and RecBole side by side -> reports/bench.json")
    bench.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    bench.add_argument("-c", "--config", default="configs/default.yaml", help="the pipeline timed by 'pipeline'")
    bench.add_argument("--benchmark-config", default="configs/benchmark_ml1m.yaml", help="training speed and convergence")
    bench.add_argument("--recbole-steps", type=int, default=20, help="RecBole training steps timed")
    bench.add_argument("--hymirec-batches", type=int, default=60,
                       help="HyMiRec batches timed; its epoch time is extrapolated from them (0: the whole epoch)")
    bench.add_argument("--llm-steps", type=int, default=4, help="LLM training steps timed per row and option (after one warm-up)")
    bench.add_argument("--workspace", help="a trained workspace to measure instead of the pipeline section's (e.g. '.')")
    bench.add_argument("--out", default="reports/bench.json")
    bench.set_defaults(handler=_bench)
    return parser


def configure_torch() -> int:
    """Deterministic kernels; one intra-op thread per CPU this process may run on (``HYMIREC_THREADS`` overrides),
    shared among the processes torchrun started on this machine.

    Threads are set explicitly rather than left to torch's guess (physical cores, which ignores CPU
    affinity and container limits): more threads than CPUs make every parallel kernel wait on
    descheduled workers. Deterministic algorithms because with 2 threads the backward of an indexed
    gather accumulates with atomic adds in whatever order the threads run: two runs of the same config
    trained different models (ComiRec's and HyMiRec's test NDCG@10 moved by up to 0.012 between two
    `make run`-equivalent runs); the deterministic kernels cost ComiRec ~3 s an epoch and HyMiRec
    nothing measurable. A different thread count still changes float summation order (README,
    "Reproducibility").
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic cuBLAS needs on a GPU; unused on CPU
    # torch.use_deterministic_algorithms(True) sets this same flag, and first imports torch._inductor's
    # config for torch.compile, which this project never uses: 2 CPU seconds (6 s wall on a busy machine)
    # on every command. The flag itself is what makes eager kernels deterministic.
    torch._C._set_deterministic_algorithms(True)
    count = int(os.environ.get("HYMIREC_THREADS") or max(1, len(os.sched_getaffinity(0)) // distributed.local_processes()))
    torch.set_num_threads(count)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already fixed once parallel work has started; the intra-op count is what matters
            pass
    return count


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("HYMIREC_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it tried, on every import
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_torch()
    distributed.init()
    args = build_parser().parse_args(argv)
    from data_checks.errors import DataValidationError

    try:
        return args.handler(args)
    except (ConfigError, DataValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
