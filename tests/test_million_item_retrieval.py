"""benchmarks/million_item_retrieval.py at a tiny size: it runs, and its report has what the README quotes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "million_item_retrieval.py"


def test_the_benchmark_writes_its_report_and_summary_at_a_tiny_size(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("million_item_retrieval", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    config = tmp_path / "tiny.yaml"
    config.write_text("seed: 3\nserving:\n  exact_max_items: 10000\n  ivf_lists_per_sqrt_item: 2.0\n")
    out = tmp_path / "retrieval.json"
    line = script.main(["-c", str(config), "--items", "20000", "--clusters", "300", "--users", "100",
                        "--nprobe-sweep", "2", "--repeats", "1", "--out", str(out)])
    report = json.loads(out.read_text())
    assert {"recall@10", "users_per_second", "build_seconds", "index_memory_mb", "index", "nprobe_sweep", "threads",
            "load_average_1min", "machine", "commit", "measured_at", "targets"} <= report.keys()
    assert report["index"] == {"kind": "IndexIVFFlat", "nlist": 283, "nprobe": 8, "train_points_per_list": 64, "exact_max_items": 10_000}
    assert [point["nprobe"] for point in report["nprobe_sweep"]] == [2, 8] and report["threads"] == 1
    assert 0.9 <= report["recall@10"] <= 1.0 and report["seed"] == 3 and report["catalog"]["items"] == 20_000
    assert report["users_per_second"]["approximate"] > 0 and report["index_memory_mb"]["exact"] > 0
    assert line.startswith("retrieval: 20,000 items x 64, 100 users x 4 interests, 1 thread(s): IndexIVFFlat (nlist 283, nprobe 8)")
