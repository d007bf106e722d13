"""How each stage's time and memory grow with events: reports/scale.json.

    python benchmarks/scale.py                                  # 1M, 10M, 100M events (~1 h, one thread)
    python benchmarks/scale.py --sizes 1e5,1e6 --downstream-sizes 1e5 --engine-size 1e5 --out /tmp/scale.json
    python benchmarks/scale.py --stages hymirec_epoch --sizes '' --downstream-sizes 1e6,1e7 --engine-size 0 \
        --polars-sizes '' --append                                # one stage, merged into reports/scale.json

Synthetic logs (benchmarks/synthetic_logs.py, calibrated on ML-1M) are generated under ``--data`` when
missing. Every measurement is one child process of this script, so that its peak RSS is its own
(``os.wait4``'s rusage of that child), single-threaded (OMP_NUM_THREADS, POLARS_MAX_THREADS,
HYMIREC_THREADS = 1, DuckDB ``threads = 1``, torch one thread):

- ``raw_logs`` and ``validated_sequences`` at every size as the pipeline runs them: the stages' own ``run``
  (``hymirec.stages.raw_logs`` / ``validated_sequences``: DuckDB, their Great Expectations suites batch by batch,
  Data Docs, metrics) on ``data.source: files`` pointing at the synthetic log, with the stages' own DuckDB
  settings (``EngineSettings``' memory limit, not ``--memory-limit``) and no inbox;
- the engine choice at ``--engine-size``: the same two stages on DuckDB, on Polars' streaming engine and
  on today's pandas path (``hymirec.data.files`` + ``hymirec.data.sequences.build_sequences``), and the
  Great Expectations suites as the stages run them (``raw_logs_checks`` on DuckDB batches, ``sequences_checks`` on a pandas frame); Polars again
  at ``--polars-sizes`` (10⁸: does it stay within memory where DuckDB spills?);
- downstream at ``--downstream-sizes``, each with the library's own functions on the default config:
  ``item_embeddings`` (MiniLM on the first ``--sample-items`` item texts, scaled to the catalog),
  ``codebook`` (fit and encode; random unit vectors stand in for the embeddings), ``sasrec_epoch``
  (``--train-batches`` optimiser steps, as seconds per million training targets and scaled to the
  epoch), ``hymirec_epoch`` (the same for the LLM model of the default config's ``llm`` section,
  ``hymirec.bench.training.hymirec_epoch_of``: its context an untrained coarse model on the random
  vectors' codebook reconstructions, same shapes and cost as a trained one), ``evaluation`` (full
  ranking of ``--sample-users`` validation users, scaled to all users) and ``serving``
  (``ServedModel.recommend`` top 10 for the same users, scaled to all users).

The stage reads one interactions file (``data.interactions_path``), so the synthetic chunks are concatenated
into one Parquet file in their order (``<data>/interactions.parquet``, by DuckDB, once, before any clock):
what a user hands the stage. Teaching ``data.interactions_path`` a folder of chunks would touch the config,
the readability check and the row numbers of every rule message, for no user who asked; one file is the
honest and simpler measurement of what runs today.

``--stages`` measures only the named stages; a data stage still runs, unrecorded, where a downstream
stage needs its outputs and they are missing. ``growth_exponent`` per stage is the slope of log seconds
over log events. Prints one line per stage.
``--append`` adds a run's measurements to those already in ``--out`` (the earlier run's commit and
machine are kept under ``appended``); a new run of a stage at a size replaces the earlier one, which is
kept under ``superseded`` with its commit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THREAD_VARIABLES = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    "POLARS_MAX_THREADS": "1", "HYMIREC_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
DATA_STAGES = ("raw_logs", "validated_sequences")
DOWNSTREAM_STAGES = ("item_embeddings", "codebook", "sasrec_epoch", "hymirec_epoch", "evaluation", "serving")
ENGINES = ("duckdb", "polars", "pandas")
TARGET_PEAK_RSS_MB = 8 * 1024


def label(events: int) -> str:
    return f"{events / 1e6:g}m" if events >= 1_000_000 else f"{events / 1e3:g}k"


# ---------------------------------------------------------------- the measured work (child processes)


def _synth():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import synthetic_logs

    return synthetic_logs


SINGLE_FILE = "interactions.parquet"  # the synthetic chunks as one file, the stage's data.interactions_path


def _layout(work: Path):
    """The workspace the stages run in: data/raw, data/sequences, reports/ under ``work/duckdb``."""
    from hymirec.paths import Layout

    return Layout(work / "duckdb")


def _single_file(data: Path) -> Path:
    """The synthetic chunks concatenated in order into ``<data>/interactions.parquet`` (once; not timed)."""
    path, manifest = data / SINGLE_FILE, data / _synth().MANIFEST_FILE
    if not path.exists() or path.stat().st_mtime < manifest.stat().st_mtime:
        from hymirec.data.streaming import EngineSettings, _quote, connect

        files = "[" + ", ".join(_quote(file) for file in _synth().interaction_files(data)) + "]"
        with connect(EngineSettings(threads=1, temp_dir=data)) as (connection, _):
            connection.execute(f"COPY (SELECT * FROM read_parquet({files})) TO {_quote(path)} (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
    return path


def _stage(stage: str, data: Path, work: Path) -> dict:
    """Stage ``stage``'s ``run`` as ``hymirec stage`` calls it, on the synthetic log; its metrics JSON."""
    from hymirec.config import DataConfig, DataSource, HyMiRecConfig
    from hymirec.io import read_json
    from hymirec.stages import raw_logs, validated_sequences

    data_config = DataConfig(source=DataSource.FILES, interactions_path=data / SINGLE_FILE, items_path=data / _synth().ITEMS_FILE, inbox=None)
    layout = _layout(work)
    {"raw_logs": raw_logs, "validated_sequences": validated_sequences}[stage].run(HyMiRecConfig(data=data_config), layout)
    return read_json(layout.stage_metrics(stage))


def _raw_logs(engine: str, data: Path, work: Path, memory_limit: str) -> dict:
    files, items = _synth().interaction_files(data), data / _synth().ITEMS_FILE
    out = work / engine / "raw"
    if engine == "duckdb":
        return _stage("raw_logs", data, work)
    if engine == "polars":
        import polars as pl

        out.mkdir(parents=True, exist_ok=True)
        pl.scan_parquet(files).select(
            pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String), pl.col("timestamp").cast(pl.Int64)
        ).sink_parquet(out / "interactions.parquet", engine="streaming")
        pl.read_parquet(items).cast(pl.String).write_parquet(out / "items.parquet")
        return {}
    import pandas as pd

    from hymirec.data.files import coerce_types, read_table
    from hymirec.data.schema import RawLogs
    from hymirec.io import write_parquet

    raw = coerce_types(RawLogs(pd.concat([read_table(path) for path in files], ignore_index=True), read_table(items)))
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(raw.interactions, out / "interactions.parquet")
    write_parquet(raw.items, out / "items.parquet")
    return {}


def _polars_sequences(raw: Path, out: Path, min_user_interactions: int) -> dict:
    """validated_sequences' rules on Polars' streaming engine (the comparison; not the library's path).

    The (timestamp, source row) order is one int64 key, timestamp · 2³¹ + row: exact for timestamps below
    2³² (2106) and fewer than 2³¹ rows, enough for this benchmark.
    """
    import polars as pl

    out.mkdir(parents=True, exist_ok=True)
    key = (pl.col("timestamp") * (1 << 31) + pl.col("source_row")).alias("event_key")
    events = pl.scan_parquet(raw / "interactions.parquet").with_row_index("source_row").select("user_id", "item_id", key)
    firsts = out / "first_events.parquet"
    events.group_by("user_id", "item_id").agg(pl.col("event_key").min()).sink_parquet(firsts, engine="streaming")
    first = pl.scan_parquet(firsts)
    users = (first.group_by("user_id").len().filter(pl.col("len") >= min_user_interactions).select("user_id")
             .sort("user_id").with_row_index("user_idx").collect(engine="streaming"))  # fmt: skip
    kept = first.join(users.lazy(), on="user_id")
    item_map = kept.select("item_id").unique().sort("item_id").with_row_index("item_idx").collect(engine="streaming")
    (kept.join(item_map.lazy(), on="item_id").sort("user_idx", "event_key")
         .group_by("user_idx", "user_id", maintain_order=True)
         .agg(pl.col("item_idx").alias("items"), (pl.col("event_key") // (1 << 31)).alias("timestamps"))
         .sink_parquet(out / "sequences.parquet", engine="streaming"))  # fmt: skip
    catalog = pl.read_parquet(raw / "items.parquet")
    item_map.join(catalog, on="item_id").sort("item_idx").write_parquet(out / "items.parquet")
    users.write_parquet(out / "users.parquet")
    firsts.unlink()
    return {"users": len(users), "items": len(item_map)}


def _validated_sequences(engine: str, data: Path, work: Path, memory_limit: str) -> dict:
    raw = _layout(work).raw_dir  # every engine reads the stage's raw logs
    out = work / engine / "sequences"
    if engine == "duckdb":
        return _stage("validated_sequences", data, work)
    if engine == "polars":
        return _polars_sequences(raw, out, 5)
    import pandas as pd

    from hymirec.config import SequencesConfig
    from hymirec.data.schema import RawLogs
    from hymirec.data.sequences import build_sequences
    from hymirec.io import write_parquet

    data = build_sequences(RawLogs(pd.read_parquet(raw / "interactions.parquet"), pd.read_parquet(raw / "items.parquet")), SequencesConfig())
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(data.sequences, out / "sequences.parquet")
    write_parquet(data.items, out / "items.parquet")
    write_parquet(data.users, out / "users.parquet")
    return data.stats


def _checks(stage: str, work: Path) -> dict:
    """The Great Expectations suites as the stages run them: raw_logs' on DuckDB batches, validated_sequences' on a pandas frame."""
    import pandas as pd

    if stage == "raw_logs_checks":  # as stage raw_logs runs it: batch by batch from DuckDB
        from data_checks.raw_logs import RawLogRules, check_table
        from data_checks.tables import EngineTable
        from hymirec.config import DataConfig
        from hymirec.data.files import read_table
        from hymirec.data.streaming import SOURCE_ROW, EngineSettings, as_written, connect

        raw = _layout(work).raw_dir
        started = time.perf_counter()
        with connect(EngineSettings(threads=1, temp_dir=work)) as (connection, staging):
            table = EngineTable(connection, as_written(connection, raw / "interactions.parquet", staging), SOURCE_ROW)
            summary = check_table(table, read_table(raw / "items.parquet"), "interactions", "items", RawLogRules.of(DataConfig()))
        return {"rules_checked": summary["rules_checked"], "validate_seconds": round(time.perf_counter() - started, 2)}
    from data_checks.sequences import validate_sequences

    sequences = pd.read_parquet(_layout(work).sequences_dir / "sequences.parquet")
    num_items = len(pd.read_parquet(_layout(work).sequences_dir / "items.parquet"))
    started = time.perf_counter()
    summary = validate_sequences(sequences, num_items=num_items, min_user_interactions=5, source="sequences")
    return {"rules_checked": summary.get("rules_checked"), "validate_seconds": round(time.perf_counter() - started, 2)}


def _sequence_data(work: Path):
    import pandas as pd

    from hymirec.data.sequences import SequenceData

    folder = _layout(work).sequences_dir
    return SequenceData(pd.read_parquet(folder / "sequences.parquet"), pd.read_parquet(folder / "items.parquet"),
                        pd.read_parquet(folder / "users.parquet"), {})  # fmt: skip


EMBEDDING_DIM = 384  # MiniLM's, the default item encoder


def _unit_vectors(items: int, seed: int):
    """[items 384] random unit vectors: the item embeddings' stand-in (the downstream cost depends on their shape)."""
    import numpy as np

    vectors = np.random.default_rng(seed).standard_normal((items, EMBEDDING_DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _hymirec_epoch(config, data, work: Path, args: argparse.Namespace) -> dict:
    """One HyMiRec epoch as ``sasrec_epoch`` times SASRec's: ``--train-batches`` optimiser steps, as seconds per
    million training targets, scaled to the epoch's targets (plus the once-per-training setup).

    The item embeddings are random unit vectors and the history vectors their codebook's reconstructions
    (fitted and decoded before the clock); the coarse context is untrained: same shapes, same cost.
    """
    from threadpoolctl import threadpool_limits

    from hymirec.bench.training import hymirec_epoch_of
    from hymirec.codebook.residual import CosineResidualCodebook
    from hymirec.data.sequences import training_sequences

    vectors = _unit_vectors(data.num_items, config.seed)
    with threadpool_limits(limits=1, user_api="blas"):
        codebook = CosineResidualCodebook.fit(vectors, config.codebook, config.seed, progress=False)
        reconstructions = codebook.decode(codebook.encode(vectors))
    timed = hymirec_epoch_of(config, training_sequences(data.sequences), vectors, reconstructions, _layout(work).pretrained_cache,
                             args.train_batches)  # fmt: skip
    per_million = timed["seconds"] / timed["targets"] * 1e6
    llm = config.llm
    return {"seconds": per_million * timed["epoch_targets"] / 1e6 + timed["setup_seconds"],
            "seconds_per_million_targets": round(per_million, 2), "setup_seconds": timed["setup_seconds"],
            "measured_steps": timed["steps"], "measured_targets": timed["targets"], "measured_seconds": timed["seconds"],
            "epoch_targets": timed["epoch_targets"], "steps_per_epoch": timed["steps_per_epoch"], "batch_size": llm.batch_size,
            "recent_items": llm.recent_items, "target_window": llm.target_window, "windows_per_user": llm.windows_per_user,
            "backbone": llm.backbone.kind, "context": "untrained coarse model", "embeddings": "random unit vectors",
            "scaled_to_epoch": True}  # fmt: skip


def _downstream(stage: str, work: Path, args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from hymirec.config import load_config
    from hymirec.training.loop import seed_everything

    torch.set_num_threads(1)
    config = load_config(ROOT / "configs" / "default.yaml")
    seed_everything(config.seed)
    data = _sequence_data(work)
    items = data.num_items
    if stage == "item_embeddings":
        from hymirec.encoders import build_encoder, render_item_texts

        texts = render_item_texts(data.items.iloc[: args.sample_items], config.item_embeddings)
        encoder = build_encoder(config.item_embeddings)
        started = time.perf_counter()
        encoder.encode(texts)
        seconds = time.perf_counter() - started
        return {"seconds": seconds * items / len(texts), "measured_items": len(texts), "measured_seconds": round(seconds, 2),
                "items_per_second": round(len(texts) / seconds, 1), "scaled_to_catalog": True}  # fmt: skip
    if stage == "codebook":
        from threadpoolctl import threadpool_limits

        from hymirec.codebook.residual import CosineResidualCodebook

        vectors = _unit_vectors(items, config.seed)
        with threadpool_limits(limits=1, user_api="blas"):
            started = time.perf_counter()
            codebook = CosineResidualCodebook.fit(vectors, config.codebook, config.seed)
            codebook.encode(vectors)
        return {"seconds": time.perf_counter() - started, "dim": EMBEDDING_DIM, "embeddings": "random unit vectors"}
    if stage == "hymirec_epoch":
        return _hymirec_epoch(config, data, work, args)
    from hymirec.data.sequences import split_view, training_sequences
    from hymirec.models.sasrec import SASRec, training_batch

    model = SASRec(config.sasrec, items)
    users = len(data.sequences)
    if stage == "sasrec_epoch":
        from hymirec.training.loop import TrainingSchedule, batch_order, make_optimizer, process_shards, train_epoch

        sequences = training_sequences(data.sequences)
        schedule = TrainingSchedule.of(config.sasrec)
        order = batch_order(sequences, schedule.batch_size, np.random.default_rng(config.seed), len)
        max_length = config.sasrec.max_length
        epoch_targets = int(sum(min(len(sequence) - 1, max_length) for sequence in sequences if len(sequence) > 1))
        counted = [0]

        def batches():
            for batch, terms in process_shards(sequences, order[: args.train_batches], lambda b: training_batch(b, max_length)):
                counted[0] += terms
                yield batch, terms

        started = time.perf_counter()
        steps = len(train_epoch(model, make_optimizer(model, schedule), batches(), epoch=1))
        seconds = time.perf_counter() - started
        per_million = seconds / counted[0] * 1e6
        return {"seconds": per_million * epoch_targets / 1e6, "seconds_per_million_targets": round(per_million, 2),
                "measured_steps": steps, "measured_targets": counted[0], "epoch_targets": epoch_targets,
                "steps_per_epoch": len(order), "batch_size": schedule.batch_size, "max_length": max_length,
                "scaled_to_epoch": True}  # fmt: skip
    view = split_view(data.sequences.iloc[: args.sample_users], "valid")
    model.eval()
    if stage == "evaluation":
        from hymirec.evaluation.ranking import evaluate

        started = time.perf_counter()
        with torch.no_grad():
            evaluate(model.score_items, view, config.evaluation, model_name="sasrec", with_top_items=True)
        seconds = time.perf_counter() - started
    else:  # serving
        from hymirec.config import ServingConfig
        from hymirec.serving.served_model import Catalog, ServedModel

        served = ServedModel("sasrec", model, Catalog.of(data), ServingConfig(), config.seed)
        started = time.perf_counter()
        with torch.no_grad():
            served.recommend(view.histories, 10)
        seconds = time.perf_counter() - started
    return {"seconds": seconds * users / len(view.targets), "measured_users": len(view.targets),
            "measured_seconds": round(seconds, 2), "users_per_second": round(len(view.targets) / seconds, 1),
            "scaled_to_users": True}  # fmt: skip


def _preload(stage: str, engine: str) -> None:
    """Import what a measurement uses before its clock starts (imports cost ~1-5 s, not the stage's work)."""
    import pandas  # noqa: F401

    import hymirec.data.sequences  # noqa: F401

    if engine == "duckdb":  # the stages, and the GE import they pay once per process (~3 s)
        import hymirec.stages.raw_logs  # noqa: F401
        import hymirec.stages.validated_sequences  # noqa: F401
        from data_checks.runner import expectations

        expectations()
    elif engine == "polars":
        import polars  # noqa: F401
    if stage.endswith("_checks"):
        import data_checks.raw_logs  # noqa: F401
        import data_checks.sequences  # noqa: F401
        from data_checks.runner import expectations

        expectations()


def child(argv: list[str]) -> None:
    """One measurement: ``--child STAGE ENGINE DATA WORK``; prints its result as the last line of stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("stage")
    parser.add_argument("engine")
    parser.add_argument("data", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--memory-limit", default="5GB")
    parser.add_argument("--sample-items", type=int, default=1000)
    parser.add_argument("--sample-users", type=int, default=2000)
    parser.add_argument("--train-batches", type=int, default=20)
    args = parser.parse_args(argv)
    _preload(args.stage, args.engine)
    started = time.perf_counter()
    if args.stage == "raw_logs":
        extra = _raw_logs(args.engine, args.data, args.work, args.memory_limit)
    elif args.stage == "validated_sequences":
        extra = _validated_sequences(args.engine, args.data, args.work, args.memory_limit)
    elif args.stage in ("raw_logs_checks", "sequences_checks"):
        extra = _checks(args.stage, args.work)
    else:
        extra = _downstream(args.stage, args.work, args)
    seconds = extra.pop("seconds", time.perf_counter() - started)
    print(json.dumps({"seconds": round(seconds, 2), "wall_seconds": round(time.perf_counter() - started, 2), **extra}, default=str))


# ---------------------------------------------------------------- the driver


def measure(stage: str, engine: str, data: Path, work: Path, args: argparse.Namespace) -> dict:
    """Run one measurement in a child process; its result with the child's peak RSS (or its error).

    ``os.wait4`` returns the child's own rusage, whose ru_maxrss is its peak RSS; past ``--child-timeout``
    seconds the child is killed.
    """
    command = [sys.executable, str(Path(__file__).resolve()), "--child", stage, engine, str(data), str(work),
               "--memory-limit", args.memory_limit, "--sample-items", str(args.sample_items),
               "--sample-users", str(args.sample_users), "--train-batches", str(args.train_batches)]  # fmt: skip
    env = {**os.environ, **THREAD_VARIABLES, "PYTHONPATH": str(ROOT)}
    log, out = work / f"{stage}.{engine}.log", work / f"{stage}.{engine}.out"
    started = time.perf_counter()
    with open(log, "w") as stderr, open(out, "w") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=ROOT)
        killed: list[str] = []
        done = threading.Event()
        watchdog = threading.Thread(target=_watch, args=(process, args, killed, done), daemon=True)
        watchdog.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
    process.returncode = os.waitstatus_to_exitcode(status)
    result = {"stage": stage, "engine": engine, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    lines = [line for line in out.read_text().splitlines() if line.startswith("{")]
    if process.returncode == 0 and lines:
        result.update(json.loads(lines[-1]))
    else:
        reason = f"; killed: {killed[0]}" if killed else ""
        result["error"] = f"exit status {process.returncode} after {time.perf_counter() - started:.0f} s{reason} (log: {log})"
    return result


def _watch(process: subprocess.Popen, args: argparse.Namespace, killed: list[str], done: threading.Event) -> None:
    """Kill the child past ``--child-timeout`` seconds or ``--max-rss-mb`` of RSS (the machine is shared)."""
    deadline = time.monotonic() + args.child_timeout
    status = Path(f"/proc/{process.pid}/status")
    while not done.wait(0.5):
        try:
            rss_kb = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmRSS"))
        except (OSError, StopIteration, ValueError):
            rss_kb = 0
        if rss_kb > args.max_rss_mb * 1024 or time.monotonic() > deadline:
            killed.append(f"RSS {rss_kb / 1024:.0f} MB above {args.max_rss_mb} MB" if rss_kb > args.max_rss_mb * 1024
                          else f"past {args.child_timeout:.0f} s")  # fmt: skip
            process.kill()
            return


def growth_exponent(points: list[tuple[int, float]]) -> float | None:
    """Slope of log(seconds) over log(events), least squares over the sizes measured."""
    import numpy as np

    points = [(events, seconds) for events, seconds in points if seconds and seconds > 0]
    if len({events for events, _ in points}) < 2:
        return None
    x, y = np.log([events for events, _ in points]), np.log([seconds for _, seconds in points])
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def _stage_settings() -> dict:
    """What the data stages ran with: DuckDB's settings and the suites' batch sizes."""
    from data_checks.tables import BATCH_ROWS, SEQUENCE_BATCH_USERS
    from hymirec.data.streaming import EngineSettings

    settings = EngineSettings()
    return {"duckdb_memory_limit": settings.memory_limit, "events_per_partition": settings.events_per_partition,
            "raw_logs_suite_batch_rows": BATCH_ROWS, "sequences_suite_batch_users": SEQUENCE_BATCH_USERS}  # fmt: skip


def _machine() -> dict:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    return {"cpus": os.cpu_count(), "memory_gb": round(int(memory) / 2**20, 1), "load_average_1min": round(os.getloadavg()[0], 2)}


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def summary_lines(report: dict) -> list[str]:
    lines = []
    stages = dict.fromkeys(run["stage"] for run in report["runs"])
    for stage in stages:
        runs = [run for run in report["runs"] if run["stage"] == stage]
        parts = [
            f"{label(run['events'])} {run['seconds']:.1f} s {run['peak_rss_mb'] / 1024:.2f} GiB" if "seconds" in run
            else f"{label(run['events'])} failed" for run in runs  # fmt: skip
        ]
        exponent = report["growth_exponent"].get(stage)
        lines.append(f"{stage}: " + ", ".join(parts) + (f"; time ~ events^{exponent}" if exponent is not None else ""))
    for stage in dict.fromkeys(run["stage"] for run in report["engines"]):
        parts = [
            f"{run['engine']} {label(run['events'])} {run['seconds']:.1f} s {run['peak_rss_mb'] / 1024:.2f} GiB" if "seconds" in run
            else f"{run['engine']} {label(run['events'])} failed" for run in report["engines"] if run["stage"] == stage  # fmt: skip
        ]
        lines.append(f"{stage} by engine: " + ", ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="events of the data-stage runs")
    parser.add_argument("--downstream-sizes", default="1e6,1e7", help="events of the downstream runs ('' for none)")
    parser.add_argument("--engine-size", type=float, default=1e7, help="events of the DuckDB / Polars / pandas comparison (0: none)")
    parser.add_argument("--polars-sizes", default="1e8", help="events where Polars' streaming engine also runs the data stages")
    parser.add_argument("--data", type=Path, default=Path("/tmp/hymirec-scale"), help="synthetic logs and work folders")
    parser.add_argument("--append", action="store_true", help="add these measurements to the runs already in --out")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "scale.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit", default="5GB", help="DuckDB's memory_limit; it spills to disk past it")
    parser.add_argument("--sample-items", type=int, default=1000)
    parser.add_argument("--sample-users", type=int, default=2000)
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--child-timeout", type=float, default=3600.0, help="seconds before a measurement is killed")
    parser.add_argument("--max-rss-mb", type=float, default=12_000.0, help="RSS at which a measurement is killed (shared machine)")
    parser.add_argument("--stages", default=",".join(DATA_STAGES + DOWNSTREAM_STAGES), help="the stages to measure (comma-separated)")
    args = parser.parse_args(argv)
    chosen = [stage for stage in args.stages.split(",") if stage]
    if unknown := sorted(set(chosen) - set(DATA_STAGES + DOWNSTREAM_STAGES)):
        parser.error(f"--stages: unknown {unknown}; the stages are {', '.join(DATA_STAGES + DOWNSTREAM_STAGES)}")
    sizes = [int(float(size)) for size in args.sizes.split(",") if size]
    downstream = [int(float(size)) for size in args.downstream_sizes.split(",") if size]
    engine_size = int(args.engine_size)
    polars = [int(float(size)) for size in args.polars_sizes.split(",") if size]
    load_before = round(os.getloadavg()[0], 2)
    started = datetime.now(UTC)
    runs, engines, generated = [], [], []

    def prepared(events: int) -> tuple[Path, Path]:
        data, work = args.data / label(events), args.data / "work" / label(events)
        work.mkdir(parents=True, exist_ok=True)
        manifest = data / _synth().MANIFEST_FILE
        if not manifest.exists() or json.loads(manifest.read_text())["seed"] != args.seed or json.loads(manifest.read_text())["events"] != events:
            _synth().generate(events, data, seed=args.seed)
        generated.append(json.loads(manifest.read_text()))
        _single_file(data)
        return data, work

    def record(into: list, run: dict, events: int, manifest: dict) -> None:
        # events, users, items: of the synthetic log; a stage's own counts of them are output_events, …
        run = {"stage": run.pop("stage"), "events": events, "users": manifest["users"], "items": manifest["items"],
               **{(f"output_{key}" if key in ("events", "users", "items") else key): value for key, value in run.items()}}  # fmt: skip
        into.append(run)
        print(json.dumps(run), flush=True)

    for events in sorted(set(sizes) | set(downstream) | set(polars) | ({engine_size} if engine_size else set())):
        data, work = prepared(events)
        manifest = generated[-1]
        duckdb_outputs = (_layout(work).raw_interactions).exists() and (_layout(work).sequences_dir).exists()
        for stage in DATA_STAGES:  # on DuckDB wherever a stage reads its outputs (all engines read its raw logs)
            measured = stage in chosen and (events in sizes or events in downstream or events == engine_size)
            if measured or not duckdb_outputs:
                run = measure(stage, "duckdb", data, work, args)
                record(runs if events in sizes and stage in chosen else [], dict(run), events, manifest)
                if events == engine_size:
                    record(engines, dict(run), events, manifest)
        if events in polars and events != engine_size:
            for stage in DATA_STAGES:
                record(engines, measure(stage, "polars", data, work, args), events, manifest)
        if events == engine_size:
            for engine in ("polars", "pandas"):
                for stage in DATA_STAGES:
                    record(engines, measure(stage, engine, data, work, args), events, manifest)
            for stage in ("raw_logs_checks", "sequences_checks"):
                record(engines, measure(stage, "pandas", data, work, args), events, manifest)
        if events in downstream:
            for stage in DOWNSTREAM_STAGES:
                if stage in chosen:
                    record(runs, measure(stage, "library", data, work, args), events, manifest)

    earlier = json.loads(args.out.read_text()) if args.append and args.out.exists() else None
    superseded = earlier.get("superseded", []) if earlier else []
    if earlier:
        # a new run of a (stage, events) replaces the earlier one, which is kept under "superseded"
        new = {(run["stage"], run["events"]) for run in runs}
        superseded += [{**run, "commit": earlier["commit"]} for run in earlier["runs"] if (run["stage"], run["events"]) in new]
        runs = [run for run in earlier["runs"] if (run["stage"], run["events"]) not in new] + runs
        engines = earlier["engines"] + engines
        generated = [*({"seconds": None, **manifest} for manifest in earlier["data"]), *generated]
    stages = dict.fromkeys(run["stage"] for run in runs)
    report = {
        "runs": runs,
        "growth_exponent": {
            stage: growth_exponent([(run["events"], run.get("seconds")) for run in runs if run["stage"] == stage]) for stage in stages
        },
        "engines": engines,
        "superseded": superseded,
        "engine_events": earlier["engine_events"] if earlier else engine_size,
        "data": [{key: manifest[key] for key in ("events", "users", "items", "seed", "seconds")} for manifest in
                 {manifest["events"]: manifest for manifest in generated}.values()],  # fmt: skip
        "threads": 1,
        "thread_settings": {**THREAD_VARIABLES, "duckdb": "SET threads = 1", "torch": "torch.set_num_threads(1)"},
        "duckdb_memory_limit": args.memory_limit,  # the engine comparison's; the stages run with their own settings
        "stage_settings": _stage_settings(),
        "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
        "peak_rss": "ru_maxrss of each measurement's own child process (os.wait4)",
        "machine": {**_machine(), "load_average_1min_before": load_before},
        "commit": _commit(),
        "measured_at": started.isoformat(timespec="seconds"),
        "appended": [*(earlier.get("appended", []) if earlier else []),
                     *([{"commit": earlier["commit"], "measured_at": earlier["measured_at"], "machine": earlier["machine"]}]
                       if earlier else [])],  # fmt: skip
        "sample": {"items": args.sample_items, "users": args.sample_users, "train_batches": args.train_batches},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for line in summary_lines(report):
        print(line)
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
