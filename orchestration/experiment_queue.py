"""Run DVC's experiment queue to its end: every queued experiment, one after another, its log followed.

What ``dvc exp run --run-all`` does, without its hang. DVC's queue worker stops when it finds the queue
empty, and it can find it so between two experiments while the next one is still queued
(treeverse/dvc#8165, #10398); ``--run-all`` then waits for that experiment to start, forever. A CI run of
``tests/test_experiments.py`` (two queued experiments) timed out so after 30 minutes in ``--run-all``; the
test takes under 4 minutes on an idle machine. So ``drain`` waits on each experiment itself, and an
experiment still queued while no worker runs gets a new worker (``dvc queue start`` by hand does the same).
A worker killed in the middle of an experiment is not handled: DVC then has no result to give.

When the queue is drained a worker still running is told to stop (``dvc queue stop``). A worker stops itself once idle,
but only through a monitor thread that reads the file broker's replies, and a reply read while being written
kills that thread (``JSONDecodeError`` in ``dvc_task/worker/temporary.py``, seen in a CI run): the worker then
lives on, holding the output pipes it inherited from ``--run-queue``, and whatever reads that output to its
end — a test's ``subprocess.run``, a CI log — waits forever after ``--run-queue`` has exited 0.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

from orchestration.dvc_project import repro_environment

POLL_SECONDS = 2.0
# a worker just spawned writes its process record a moment later: no second one is spawned meanwhile
SPAWN_GRACE_SECONDS = 30.0
# the name DVC's celery queue gives its first (with --jobs 1 its only) worker's process record
WORKER_RECORD = "dvc-exp-worker-1.json"


class Queue(Protocol):
    """The part of DVC's ``LocalCeleryQueue`` ``drain`` uses."""

    def iter_queued(self) -> Iterable[Any]: ...

    def iter_active(self) -> Iterable[Any]: ...

    def start_workers(self, count: int) -> int: ...

    def follow(self, entry: Any) -> None: ...

    def get_result(self, entry: Any) -> Any: ...

    def shutdown(self) -> None: ...

    @property
    def proc(self) -> Any: ...


def _waiting(queue: Queue, entry: Any) -> bool:
    """Whether ``entry`` is still queued or taken by a worker (and so not failed before its process started)."""
    return entry.stash_rev in {other.stash_rev for other in chain(queue.iter_queued(), queue.iter_active())}


def _succeeded(queue: Queue, entry: Any) -> bool:
    try:
        result = queue.get_result(entry)
    except FileNotFoundError:  # DVC's own reading: no result file, no experiment
        return False
    return result is not None and result.exp_hash is not None


def drain(queue: Queue, worker_running: Callable[[], bool], *, poll_seconds: float = POLL_SECONDS,
          spawn_grace_seconds: float = SPAWN_GRACE_SECONDS, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Run every experiment ``queue`` holds now to its end, in queue order; the names of those that failed."""
    entries = [*queue.iter_active(), *queue.iter_queued()]
    failed = []
    last_spawn = -float("inf")
    for entry in entries:
        while not queue.proc.get(entry.stash_rev):  # its process has not started
            if not _waiting(queue, entry):
                break  # it failed while being set up: get_result says so below
            if not worker_running() and clock() - last_spawn >= spawn_grace_seconds:
                queue.start_workers(1)
                last_spawn = clock()
            sleep(poll_seconds)
        if queue.proc.get(entry.stash_rev):
            queue.follow(entry)  # returns when its process ends
        if not _succeeded(queue, entry):
            failed.append(entry.name or entry.stash_rev[:7])
    if worker_running():  # its worker stops with it, not only when its own idle check works; a stop sent with
        queue.shutdown()  # no worker up could wait in the broker for the next worker of that name (not measured)
    return failed


def _process_running(record: Path) -> bool:
    """Whether the process a dvc-task record (``{pid, returncode, ...}``) names is still running."""
    try:
        info = json.loads(record.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    if info.get("returncode") is not None:
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:  # killed without a chance to write its return code
        return False
    except PermissionError:
        return True
    return True


def run_queue(root: Path) -> int:
    """Every queued experiment of the DVC project at ``root``; 0 when every one succeeded, else 1."""
    from dvc.repo import Repo

    os.environ.update(repro_environment())  # the worker DVC spawns runs `dvc` from PATH: this venv's
    with Repo(os.fspath(root)) as repo:
        queue = repo.experiments.celery_queue
        record = Path(queue.wdir) / WORKER_RECORD
        print("Following the logs of every queued experiment (they run one after another).", flush=True)
        failed = drain(queue, lambda: _process_running(record))
    if failed:
        print(f"error: experiment(s) failed: {', '.join(failed)} (dvc queue logs NAME shows why)", flush=True)
        return 1
    return 0
