"""Run DVC so that stopping it stops the stage it runs.

DVC runs a stage's command as its own child process and does not pass a SIGTERM on: ending ``dvc`` alone
leaves the training running, still writing checkpoints and outputs into the workspace — found when an
experiment stopped with ``kill`` kept training, unseen, beside the run started again in its place. So
DVC starts here as the leader of a process group of its own (a new session), and a stop goes to the whole
group: DVC, the shell it starts the stage with, the stage.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def start_process_group(command: Sequence[str], **popen_arguments: Any) -> subprocess.Popen:
    """``command`` as the leader of a new process group (a new session: no terminal signal reaches it directly)."""
    return subprocess.Popen(list(command), start_new_session=True, **popen_arguments)


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to every process of ``process``'s group; the group outlives its leader while a member lives."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # every member has exited
        pass


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 10.0) -> None:
    """SIGTERM to the group, then SIGKILL to what is left of it once the leader has exited or ``grace_seconds`` passed."""
    signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        pass
    signal_group(process, signal.SIGKILL)
    process.wait()


def run_forwarding_signals(command: Sequence[str], **popen_arguments: Any) -> int:
    """Run ``command`` in its own process group until it exits; SIGTERM, SIGINT (Ctrl-C) and SIGHUP received
    meanwhile go to the whole group. The exit status as a shell gives it: 128 + N when signal N ended it.

    The handlers are in place before the group starts: a signal that comes while it starts waits for it."""
    process: subprocess.Popen | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if process is None:
            pending.append(signum)
        else:
            signal_group(process, signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        process = start_process_group(command, **popen_arguments)
        for signum in pending:
            signal_group(process, signum)
        returncode = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process is not None:
            signal_group(process, signal.SIGKILL)  # a stage left behind by a DVC that died first (its group outlives it)
    return 128 - returncode if returncode < 0 else returncode
