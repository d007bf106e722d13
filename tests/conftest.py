"""Shared fixtures: tiny hand-checkable data built in code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from xdist.scheduler import LoadScopeScheduling

from hymirec.data.schema import RawLogs
from tests.pipeline import E2E_CONFIG, build_workspace, run

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Every process the tests start (pipeline stages, DVC, Dagster) runs torch and DuckDB on one thread: `make test`
# runs two pytest-xdist workers on the 2-core machine, and two processes spinning two threads each on two
# cores are slower than one each.
os.environ.setdefault("HYMIREC_THREADS", "1")

# A worker takes whole groups of tests (``GroupedScheduling``): each module is one group, so its
# module-scoped fixtures are built once, and the modules that read the one real-pipeline run
# (``materialised``) are one group, so that run is made once. The queue starts with that group, the
# longest, and the queued-experiments module, the next longest, so that each worker starts on one and
# the short modules that follow even out where the two end.
SHARED_RUN_GROUP = "materialised"
SHARED_RUN_MODULES = ("tests/test_crash_safety.py", "tests/test_end_to_end.py", "tests/test_snapshot.py")
SECOND_MODULE = "tests/test_experiments.py"


def module_of(nodeid: str) -> str:
    return nodeid.split("::")[0]


def group_of(nodeid: str) -> str:
    """The group a test runs in: its module's, or the shared real-pipeline run's."""
    module = module_of(nodeid)
    return SHARED_RUN_GROUP if module in SHARED_RUN_MODULES else module


class GroupedScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with ``group_of`` as the scope (pytest 9 ignores the node-id suffix xdist's
    own ``loadgroup`` mode relies on, so its ``xdist_group`` marks would not group anything here)."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> GroupedScheduling:  # noqa: ANN001 (xdist's Producer)
    return GroupedScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    strays = sorted({module_of(item.nodeid) for item in items if SHARED_RUN_GROUP in item.fixturenames} - set(SHARED_RUN_MODULES))
    if strays:
        raise pytest.UsageError(f"{strays} use the {SHARED_RUN_GROUP} fixture: add them to SHARED_RUN_MODULES in tests/conftest.py")

    def queue_position(item: pytest.Item) -> int:
        group = group_of(item.nodeid)
        return 0 if group == SHARED_RUN_GROUP else 1 if group == SECOND_MODULE else 2

    items.sort(key=queue_position)  # stable: collection order within each group


# Seconds of tests (setup, call and teardown) each xdist worker ran, summed on the controller: the line
# at the end of `make test` shows whether the two workers' loads are even, which the grouping above needs.
WORKER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    worker = getattr(report, "node", None)  # the xdist worker that ran it (controller only)
    if worker is not None:
        WORKER_SECONDS[worker.gateway.id] = WORKER_SECONDS.get(worker.gateway.id, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if WORKER_SECONDS:
        loads = ", ".join(f"{worker} {seconds:.0f} s" for worker, seconds in sorted(WORKER_SECONDS.items()))
        terminalreporter.write_line(f"seconds of tests per xdist worker: {loads}")


@pytest.fixture
def tiny_raw() -> RawLogs:
    """Four users. u1 rates two items in the same second (file order must break the tie), u2 repeats
    an item, u3 has only three events (dropped by the 5-core user filter)."""
    rows = [
        ("u1", "a", 10), ("u1", "b", 20), ("u1", "c", 30), ("u1", "e", 40), ("u1", "d", 40),
        ("u2", "a", 5), ("u2", "b", 6), ("u2", "a", 7), ("u2", "c", 8), ("u2", "d", 9), ("u2", "e", 10),
        ("u3", "a", 1), ("u3", "b", 2), ("u3", "f", 3),
        ("u0", "e", 100), ("u0", "d", 101), ("u0", "c", 102), ("u0", "b", 103), ("u0", "a", 104),
    ]
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    items = pd.DataFrame(
        {
            "item_id": list("abcdef"),
            "title": ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"],
            "genres": ["Drama", "Comedy", "Drama|Comedy", "Action", "Action|Drama", "Horror"],
        }
    )
    return RawLogs(interactions=interactions, items=items)

# Tests run beside other work on 2 cores: one intra-op thread avoids oversubscription stalls.
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory: pytest.TempPathFactory):
    """One converted SmolLM2 folder for every test that needs it (the GGUF conversion costs tens of seconds)."""
    from hymirec.models.pretrained import cached_smollm2

    cache_dir = tmp_path_factory.mktemp("pretrained")
    cached_smollm2(cache_dir)
    return cache_dir


@pytest.fixture(scope="session")
def served_data():
    """A small catalog for serving: 23 items with titles and genres, 9 users of 6–14 distinct events (seeded)."""
    import numpy as np

    from hymirec.config import SequencesConfig
    from hymirec.data.sequences import build_sequences

    rng = np.random.default_rng(7)
    genres = ["Drama", "Comedy", "Action|Drama", "Horror", "Comedy|Romance"]
    items = pd.DataFrame({
        "item_id": [f"i{j:02d}" for j in range(23)],
        "title": [f"Film {j}" for j in range(23)],
        "year": [str(1990 + j) for j in range(23)],
        "genres": [genres[j % len(genres)] for j in range(23)],
    })
    rows = [
        (f"u{user}", f"i{item:02d}", 1000 * user + step)
        for user in range(9)
        for step, item in enumerate(rng.choice(23, size=6 + user, replace=False))
    ]
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return build_sequences(RawLogs(interactions=interactions, items=items), SequencesConfig())


@pytest.fixture(scope="session")
def tracking_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite MLflow store for the tests that log or register models (a fresh one costs ~6 s of migrations)."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("tests", artifact_location=(root / "mlruns").as_uri())
    mlflow.set_tracking_uri(None)
    return uri


@pytest.fixture
def tracking(tracking_store: str):
    """The shared store as the active one, with its ``tests`` experiment; reset afterwards."""
    import mlflow

    mlflow.set_tracking_uri(tracking_store)
    mlflow.set_experiment("tests")
    yield tracking_store
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def ml100k_workspace(tmp_path_factory: pytest.TempPathFactory, smollm2_cache: Path) -> tuple[Path, dict[str, str]]:
    """A git + DVC workspace holding this checkout's files and a short ML-100K config (tests/pipeline.py)."""
    root = tmp_path_factory.mktemp("workspace")
    return root, build_workspace(root, smollm2_cache)


@pytest.fixture(scope="session")
def materialised(ml100k_workspace: tuple[Path, dict[str, str]]) -> tuple[Path, dict[str, str], str]:
    """The workspace after Dagster materialised every asset (the whole pipeline, run once per test session)."""
    root, env = ml100k_workspace
    output = run([sys.executable, "-m", "orchestration.run", "--root", str(root), "--config", E2E_CONFIG], root, env)
    return root, env, output
