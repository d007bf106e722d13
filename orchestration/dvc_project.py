"""The pipeline as ``dvc.yaml`` declares it, and running one of its stages through DVC.

``read_stages`` asks DVC itself (``dvc.repo.Repo(root).index.stages``) for the stages, so the graph
Dagster shows is the one ``dvc repro`` runs: a stage depends on another when one of its deps is
equal to, inside, or a parent folder of the other's outs (the same overlap rule ``dvc dag`` uses).
``run_dvc_repro`` reproduces a single stage as a subprocess; DVC skips it when nothing changed.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import dagster as dg

from orchestration.process_group import start_process_group, stop_process_group

TAIL_LINES = 40
PROGRESS_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True)
class DvcStage:
    """One pipeline stage of ``dvc.yaml``; paths are POSIX, relative to the project root."""

    name: str
    target: str  # what `dvc repro` accepts: the name, or `sub/dvc.yaml:name` for nested files
    cmd: str
    deps: tuple[str, ...]  # data and code paths, plus the params files the stage reads
    params_files: tuple[str, ...]
    outs: tuple[str, ...]  # outputs that are not metrics
    metrics: tuple[str, ...]  # metrics JSON files (also outputs)
    upstream: tuple[str, ...] = ()  # names of the stages that produce one of `deps`

    @property
    def all_outs(self) -> tuple[str, ...]:
        return self.outs + self.metrics


def _relative(path: str, root: str) -> str:
    return PurePosixPath(Path(os.path.relpath(path, root)).as_posix()).as_posix()


def _target(dvcfile: str, name: str, root: str) -> str:
    # `stage.addressing` is relative to the current directory, not the project root: build it ourselves
    relative = _relative(dvcfile, root)
    return name if relative == "dvc.yaml" else f"{relative}:{name}"


def read_stages(root: str | os.PathLike[str]) -> tuple[DvcStage, ...]:
    """The pipeline stages of the DVC project at ``root``, in ``dvc.yaml`` order, with their upstreams.

    Works before ``dvc init`` (reading needs no ``.dvc/``); ``.dvc`` files of ``dvc add``-ed data are
    not stages with a command and are left out.
    """
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    stages = []
    with Repo(os.fspath(root), uninitialized=True) as repo:
        for stage in repo.index.stages:
            if not isinstance(stage, PipelineStage):
                continue
            deps = tuple(_relative(dep.fs_path, repo.root_dir) for dep in stage.deps)
            params = tuple(_relative(dep.fs_path, repo.root_dir) for dep in stage.deps if isinstance(dep, ParamsDependency))
            stages.append(
                DvcStage(
                    name=stage.name,
                    target=_target(stage.dvcfile.path, stage.name, repo.root_dir),
                    cmd=stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd),
                    deps=deps,
                    params_files=params,
                    outs=tuple(_relative(out.fs_path, repo.root_dir) for out in stage.outs if not out.is_metric),
                    metrics=tuple(_relative(out.fs_path, repo.root_dir) for out in stage.outs if out.is_metric),
                )
            )
    names = [stage.name for stage in stages]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{root}: stage names must be unique across dvc.yaml files to be asset keys: {duplicates}")
    return tuple(_with_upstream(stages))


def _overlaps(dep: str, out: str) -> bool:
    """True when ``dep`` is ``out``, lies inside it, or is a folder holding it."""
    dep_parts, out_parts = PurePosixPath(dep).parts, PurePosixPath(out).parts
    shorter = min(len(dep_parts), len(out_parts))
    return dep_parts[:shorter] == out_parts[:shorter]


def _with_upstream(stages: list[DvcStage]) -> Iterator[DvcStage]:
    for stage in stages:
        upstream = [
            other.name
            for other in stages
            if other.name != stage.name and any(_overlaps(dep, out) for dep in stage.deps for out in other.all_outs)
        ]
        yield DvcStage(**{**stage.__dict__, "upstream": tuple(upstream)})


EXPERIMENT_CHOICE = "params.yaml"  # hymirec.paths.Layout.experiment_choice, relative to the root
CHOICE_KEY = "config"  # the params.yaml key dvc.yaml's ${config} reads


def chosen_config(root: str | os.PathLike[str]) -> str:
    """The config file (relative to ``root``) that ``params.yaml`` names: what ``dvc repro`` runs."""
    import yaml

    path = Path(root) / EXPERIMENT_CHOICE
    choice = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(CHOICE_KEY) if path.is_file() else None
    if not isinstance(choice, str):
        raise ValueError(f"{path}: needs `{CHOICE_KEY}: configs/<name>.yaml`, the config file the pipeline runs")
    return choice


def choose_config(root: str | os.PathLike[str], config_path: str) -> bool:
    """Point ``params.yaml`` at ``config_path`` (what ``dvc exp run -S config=…`` would do); True if it changed.

    The file is rewritten only when the choice differs, so an unchanged choice leaves DVC's view as it was.
    """
    if chosen_config(root) == config_path:
        return False
    text = (
        "# The config file this workspace runs; `make experiment CONFIG=…` and `python -m orchestration.run --config …` set it.\n"
        f"{CHOICE_KEY}: {config_path}\n"
    )
    (Path(root) / EXPERIMENT_CHOICE).write_text(text, encoding="utf-8")
    return True


class _Log(Protocol):
    def info(self, msg: str) -> None: ...


@dataclass(frozen=True)
class ReproResult:
    """What ``dvc repro --single-item`` did for one stage."""

    reproduced: bool  # False when DVC found the stage unchanged and skipped it
    output_tail: str
    seconds: float


def repro_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment stage commands run in: this venv's ``bin`` first on PATH, offline, no DVC analytics."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env.setdefault("DVC_NO_ANALYTICS", "1")  # else every dvc command forks a daemon that tries to phone home
    env["PYTHONUNBUFFERED"] = "1"  # stream the stage's Python output instead of buffering until exit
    env.update(extra or {})
    return env


def run_dvc_repro(
    root: str | os.PathLike[str],
    target: str,
    *,
    log: _Log,
    env: Mapping[str, str] | None = None,
) -> ReproResult:
    """Run ``dvc repro --single-item <target>`` in ``root``, forwarding its output to ``log``.

    ``env`` entries (e.g. ``MLFLOW_TRACKING_URI``) are added to the subprocess environment. A non-zero
    exit raises ``dagster.Failure`` whose description holds the last lines of the output.
    """
    root = Path(root)
    command = [sys.executable, "-m", "dvc", "repro", "--single-item", target]
    shown = f"dvc repro --single-item {target}"
    if not (root / ".dvc").is_dir():
        raise dg.Failure(
            description=f"{root} is not a DVC repository (no .dvc/ folder): run `dvc init` there before `{shown}`.",
            allow_retries=False,
        )
    log.info(f"{root}$ {shown}")
    started = time.monotonic()
    output = _OutputForwarder(log)
    process = start_process_group(
        command, cwd=root, env=repro_environment(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        while chunk := process.stdout.read1(65536):
            output.feed(chunk)
        output.close()
        returncode = process.wait()
    finally:
        if process.poll() is None:  # the Dagster step was interrupted: don't leave the stage running
            stop_process_group(process)
    tail = output.tail()
    if returncode != 0:
        raise dg.Failure(
            description=f"`{shown}` failed with exit code {returncode} in {root}. Last lines of its output:\n{tail}",
            metadata={
                "command": dg.MetadataValue.text(shown),
                "exit_code": returncode,
                "output_tail": dg.MetadataValue.md(f"```\n{tail}\n```"),
            },
            allow_retries=False,
        )
    return ReproResult(reproduced=output.ran_a_stage, output_tail=tail, seconds=time.monotonic() - started)


_LINE_END = re.compile(r"\r\n|\r|\n")


class _OutputForwarder:
    """Splits subprocess output into lines for the log and keeps the last ``TAIL_LINES``.

    Progress bars redraw with a bare ``\\r``; such redraws are logged at most every
    ``PROGRESS_LOG_INTERVAL_S`` seconds (and only the latest one is kept in the tail), so a training
    loop does not flood the Dagster event log.
    """

    def __init__(self, log: _Log) -> None:
        self._log = log
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._last_was_progress = False
        self._last_progress_log = float("-inf")
        self.ran_a_stage = False

    def feed(self, data: bytes, *, final: bool = False) -> None:
        self._pending += self._decoder.decode(data, final=final)
        while match := _LINE_END.search(self._pending):
            if match.group() == "\r" and match.end() == len(self._pending) and not final:
                break  # may be the first half of "\r\n": wait for the next chunk
            segment, self._pending = self._pending[: match.start()], self._pending[match.end() :]
            self._emit(segment, progress=match.group() == "\r")

    def close(self) -> None:
        self.feed(b"", final=True)
        if self._pending:
            self._emit(self._pending, progress=False)
            self._pending = ""

    def tail(self) -> str:
        return "\n".join(self._tail)

    def _emit(self, segment: str, *, progress: bool) -> None:
        if not segment.strip():
            return
        if segment.startswith("Running stage "):
            self.ran_a_stage = True
        if self._last_was_progress and self._tail:
            self._tail.pop()  # a redraw (or the line finishing it) replaces the previous redraw
        self._tail.append(segment)
        self._last_was_progress = progress
        now = time.monotonic()
        if progress and now - self._last_progress_log < PROGRESS_LOG_INTERVAL_S:
            return
        if progress:
            self._last_progress_log = now
        self._log.info(segment)
