"""``dagster-webserver`` on a free local port, for tests that open the Dagster UI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _default_signals() -> None:
    # A process started from a non-interactive shell inherits SIGINT/SIGTERM as ignored, and Dagster's
    # servers then never stop (STACK.md pitfall 2): give the child the default handlers back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def dagster_webserver(
    root: Path, dagster_home: Path, env: Mapping[str, str], *, log_path: Path, timeout: float = 180.0
) -> Iterator[str]:
    """Serve ``orchestration.definitions`` of the project at ``root`` with the instance in ``dagster_home``.

    Yields the base URL once ``/server_info`` answers; stops the server and its children on exit.
    The server's output goes to ``log_path`` (quoted when it does not come up).
    """
    port = free_port()
    command = [str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-m", "orchestration.definitions"]
    server_env = {**env, "DAGSTER_HOME": str(dagster_home), "HYMIREC_PROJECT_ROOT": str(root)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=server_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_default_signals,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited with code {process.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dagster-webserver did not answer on {url} within {timeout:.0f} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # the server and the code server it started share its session
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
