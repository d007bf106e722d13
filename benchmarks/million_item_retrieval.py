"""Million-item retrieval: exact against IVF faiss search of a synthetic catalog, timed: reports/retrieval_1m.json.

Builds the catalog and users of ``hymirec.bench.retrieval`` (clustered unit vectors; why is said
there), serves every user's top-k with the exact index and with the IVF index the config's
``serving`` section describes, and writes recall@k of IVF against exact, users per second of both,
index build seconds and memory, an nprobe sweep (the recall / speed trade-off), the faiss threads
used and the machine's load average before and after. Prints a one-line summary.

    python benchmarks/million_item_retrieval.py                        # 1M items, 2,000 users, 1 thread
    python benchmarks/million_item_retrieval.py --items 20000 --users 100 --out /tmp/r.json
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import faiss

from hymirec.bench.retrieval import retrieval_benchmark
from hymirec.config import load_config
from hymirec.experiments.publish import commit_of, machine
from hymirec.io import write_json

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"recall@10": 0.95, "users_per_second": 1000.0}  # issue 13: vs exact search, on 2 cores


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, default=ROOT / "configs/default.yaml", help="its serving section and seed")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=3_000, help="cluster centres of the synthetic catalog")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--interests", type=int, default=4, help="K interests per user")
    parser.add_argument("--history", type=int, nargs=2, default=(25, 75), metavar=("MIN", "MAX"), help="history lengths, uniform")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nprobe-sweep", type=int, nargs="+", default=(4, 8, 16, 32))
    parser.add_argument("--repeats", type=int, default=3, help="serving runs timed; the fastest counts")
    parser.add_argument("--threads", type=int, default=1, help="faiss threads (1: the machine is shared)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/retrieval_1m.json")
    return parser.parse_args(argv)


def summary_line(report: dict) -> str:
    k, index, speed = report["k"], report["index"], report["users_per_second"]
    return (f"retrieval: {report['catalog']['items']:,} items x {report['catalog']['dim']}, {report['users']:,} users x "
            f"{report['interests_per_user']} interests, {report['threads']} thread(s): {index['kind']} (nlist {index['nlist']}, "
            f"nprobe {index['nprobe']}) recall@{k} {report[f'recall@{k}']} vs exact at {speed['approximate']:,} users/s "
            f"(exact {speed['exact']:,}); build {report['build_seconds']['approximate']} s, {report['index_memory_mb']['approximate']} MB; "
            f"load {report['load_average_1min']['before']} -> {report['load_average_1min']['after']}")


def main(argv: list[str]) -> str:
    args = arguments(argv)
    config = load_config(args.config)
    faiss.omp_set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    result = retrieval_benchmark(config.serving, config.seed, args.items, args.clusters, args.dim, args.users,
                                 args.interests, tuple(args.history), args.k, tuple(args.nprobe_sweep), args.repeats)
    report = {
        **result, "threads": faiss.omp_get_max_threads(), "config": args.config.name, "seed": config.seed,
        "targets": TARGETS, "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit_of(ROOT), "machine": machine(),
    }
    write_json(report, args.out)
    return summary_line(report)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(main(sys.argv[1:]))
