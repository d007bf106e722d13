"""Wall time and peak memory of a child process, and latency percentiles.

A child's peak RSS is read by the child itself, from /proc/self/status (VmHWM): ``wait4``'s
``ru_maxrss`` would count the parent's memory at ``fork`` time (Linux carries the old mm's high-water
mark across ``exec``), so every child of a 500 MB process would report at least 500 MB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessCost:
    seconds: float
    peak_rss_mb: float | None  # None when the command does not report it


class CommandFailed(RuntimeError):
    """A benchmarked command exited non-zero: its numbers would describe a failure, so none are kept."""


def own_peak_rss_mb() -> float:
    """This process's peak resident memory since its ``exec``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux: the best there is


def python_module_command(peak_file: Path, module: str, *arguments: str) -> list[str]:
    """``python -m module arguments…`` run so that it leaves its peak RSS in ``peak_file``."""
    return [sys.executable, "-m", "hymirec.bench.peak_memory", str(peak_file), module, *arguments]


def run_measured(command: Sequence[str], log: Path, peak_file: Path | None = None, cwd: Path | None = None) -> ProcessCost:
    """Run ``command`` (in ``cwd``, default ours) with stdout and stderr to ``log``; its wall time, and the peak
    RSS it left in ``peak_file``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        returncode = subprocess.run(list(command), stdout=out, stderr=subprocess.STDOUT, check=False, cwd=cwd).returncode
        seconds = time.perf_counter() - started
    if returncode != 0:
        raise CommandFailed(f"{' '.join(command)} exited {returncode}: see {log}")
    peak = json.loads(peak_file.read_text())["peak_rss_mb"] if peak_file is not None else None
    return ProcessCost(seconds=round(seconds, 2), peak_rss_mb=peak)


