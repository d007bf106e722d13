"""``drain``: every queued experiment runs even when DVC's worker stops early, and a failure is named, not waited on.

DVC's own queue is driven here by a stand-in that behaves as its worker does at the race the module's
docstring describes (the real queue runs in tests/test_experiments.py): the worker takes an
experiment when the poll sleeps, and after ``tasks_before_exit`` experiments it stops, queue or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from orchestration.experiment_queue import drain


@dataclass(frozen=True)
class Entry:
    stash_rev: str
    name: str


@dataclass
class StandInQueue:
    queued: list[Entry]
    tasks_before_exit: int  # the worker stops after this many experiments (DVC's race: the queue looked empty)
    fails_in_setup: frozenset[str] = frozenset()
    running: Entry | None = None
    worker_tasks_left: int = 0
    started: dict[str, bool] = field(default_factory=dict)
    results: dict[str, SimpleNamespace] = field(default_factory=dict)
    workers_started: int = 0
    followed: list[str] = field(default_factory=list)
    stops_sent: int = 0

    # DVC's LocalCeleryQueue, as drain uses it
    def iter_queued(self) -> list[Entry]:
        return list(self.queued)

    def iter_active(self) -> list[Entry]:
        return [self.running] if self.running else []

    @property
    def proc(self) -> dict[str, bool]:
        return self.started

    def start_workers(self, count: int) -> int:
        assert count == 1 and not self.worker_running()
        self.workers_started += 1
        self.worker_tasks_left = self.tasks_before_exit
        return 1

    def follow(self, entry: Entry) -> None:  # returns when the experiment's process ends
        assert self.running == entry
        self.followed.append(entry.name)
        self.results[entry.stash_rev] = SimpleNamespace(exp_hash=f"hash-{entry.name}")
        self.running = None
        self.worker_tasks_left -= 1

    def get_result(self, entry: Entry) -> SimpleNamespace | None:
        if entry.stash_rev not in self.results:
            raise FileNotFoundError(entry.stash_rev)
        return self.results[entry.stash_rev]

    def shutdown(self) -> None:  # `dvc queue stop`: the worker stops once idle
        self.stops_sent += 1
        self.worker_tasks_left = 0

    # the worker
    def worker_running(self) -> bool:
        return self.worker_tasks_left > 0

    def work(self, _seconds: float) -> None:
        """What the worker does while drain sleeps: take the next queued experiment."""
        if self.worker_running() and self.running is None and self.queued:
            entry = self.queued.pop(0)
            if entry.stash_rev in self.fails_in_setup:
                self.results[entry.stash_rev] = SimpleNamespace(exp_hash=None)
            else:
                self.running = entry
                self.started[entry.stash_rev] = True


MAX_POLLS = 1_000


def _drain(queue: StandInQueue) -> list[str]:
    """``drain`` on the stand-in; a drain still polling after ``MAX_POLLS`` fails the test instead of hanging it."""
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        assert len(polls) < MAX_POLLS, "drain waits for an experiment no worker will start"
        queue.work(seconds)

    return drain(queue, queue.worker_running, poll_seconds=1.0, spawn_grace_seconds=0.0, clock=lambda: float(len(polls)),
                 sleep=sleep)


def test_a_worker_that_stops_with_experiments_queued_is_replaced_and_every_experiment_runs() -> None:
    queue = StandInQueue([Entry("a1", "seed1"), Entry("b2", "seed2"), Entry("c3", "seed3")], tasks_before_exit=1)
    assert _drain(queue) == []
    assert queue.followed == ["seed1", "seed2", "seed3"]
    assert queue.workers_started == 3  # one per experiment: each worker stopped after its first
    assert queue.stops_sent == 0  # the last worker had stopped itself: no stop left for the next one


def test_one_worker_runs_them_all_when_it_does_not_stop() -> None:
    queue = StandInQueue([Entry("a1", "seed1"), Entry("b2", "seed2")], tasks_before_exit=99)
    assert _drain(queue) == []
    assert queue.workers_started == 1
    assert not queue.worker_running()  # stopped with the drain, not left holding --run-queue's output pipes
    assert queue.stops_sent == 1


def test_an_experiment_that_fails_before_its_process_starts_is_named_and_the_rest_run() -> None:
    queue = StandInQueue([Entry("a1", "seed1"), Entry("b2", "seed2")], tasks_before_exit=99, fails_in_setup=frozenset({"a1"}))
    assert _drain(queue) == ["seed1"]
    assert queue.followed == ["seed2"]


def test_no_second_worker_is_spawned_while_the_first_may_still_be_starting() -> None:
    queue = StandInQueue([Entry("a1", "seed1")], tasks_before_exit=1)
    queue.worker_running = lambda: False  # its process record not written yet
    sleeps = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert len(sleeps) < MAX_POLLS
        if len(sleeps) == 5:  # the worker comes up after five polls and takes the experiment
            queue.running = queue.queued.pop(0)
            queue.started[queue.running.stash_rev] = True

    failed = drain(queue, queue.worker_running, poll_seconds=1.0, spawn_grace_seconds=30.0, clock=lambda: float(len(sleeps)),
                   sleep=sleep)
    assert failed == []
    assert queue.workers_started == 1
