"""Stopping DVC stops the stage it runs (``orchestration.process_group``).

The stand-in for ``dvc`` is a process that starts a child (the stage) and waits for it, as DVC does; a
stop must end that child too. Measured before the change: the child outlived its parent's SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestration.process_group import start_process_group, stop_process_group

ROOT = Path(__file__).resolve().parents[2]

# what DVC does with a stage: start it as a child, write where it is, wait for it
STARTS_A_STAGE = """
import subprocess, sys
stage = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(stage.pid))
stage.wait()
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (exited, not yet reaped by whoever adopted it) does not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def stage_pid(pid_file: Path, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the stand-in never started its stage"
        time.sleep(0.05)
    return int(pid_file.read_text())


def gone_within(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_stopping_the_group_ends_the_stage_its_leader_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "stage.pid"
    leader = start_process_group([sys.executable, "-c", STARTS_A_STAGE, str(pid_file)])
    stage = stage_pid(pid_file)
    stopping = threading.Thread(target=stop_process_group, args=(leader,), kwargs={"grace_seconds": 5}, daemon=True)
    stopping.start()
    stopping.join(timeout=30)  # a stop that misses the stage waits for it (two minutes): fail instead
    assert not stopping.is_alive() and gone_within(stage)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_runner_reaches_the_stage(tmp_path: Path, signum: int) -> None:
    """``python -m orchestration.experiment`` runs DVC through ``run_forwarding_signals``: ``kill`` or Ctrl-C
    on it ends the stage as well, and it exits as a shell reports a process a signal ended."""
    pid_file = tmp_path / "stage.pid"
    runner = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from orchestration.process_group import run_forwarding_signals;"
         f"sys.exit(run_forwarding_signals([sys.executable, '-c', {STARTS_A_STAGE!r}, {str(pid_file)!r}]))"],
        cwd=ROOT,
    )
    try:
        stage = stage_pid(pid_file)
        runner.send_signal(signum)
        assert runner.wait(timeout=30) == 128 + signum
        assert gone_within(stage)
    finally:
        runner.kill()
