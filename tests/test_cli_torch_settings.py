"""Every `hymirec` command runs torch deterministically, with as many threads as it has CPUs."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import torch
from hymirec.cli import configure_torch
threads = configure_torch()
g = torch.Generator().manual_seed(0)
weight = torch.randn(100, 64, generator=g, requires_grad=True)
index = torch.randint(0, 100, (200_000,), generator=g)  # many repeats: the backward accumulates into each row
upstream = torch.randn(200_000, 64, generator=g)
grads = []
for _ in range(5):
    weight.grad = None
    (weight[index] * upstream).sum().backward()
    grads.append(weight.grad.clone())
print(threads, torch.get_num_threads(), all(torch.equal(grads[0], grad) for grad in grads[1:]))
"""


def _run(env_threads: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "HYMIREC_THREADS"}
    if env_threads is not None:
        env["HYMIREC_THREADS"] = env_threads
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True).stdout.split()


def test_an_accumulating_backward_gives_the_same_bits_every_time() -> None:
    # with 2 threads and torch's default kernels this gradient differs between repeats (atomic adds)
    assert _run("2") == ["2", "2", "True"]


def test_threads_default_to_the_cpus_this_process_may_use() -> None:
    cpus = str(len(os.sched_getaffinity(0)))
    assert _run(None)[:2] == [cpus, cpus]
