"""Run or queue a published experiment through the pipeline: ``python -m orchestration.experiment CONFIG``.

An experiment is a DVC experiment of the one ``dvc.yaml`` whose only change is the config file that
``params.yaml`` names (``config:``) — what ``dvc exp run -S config=CONFIG`` does. (``-S`` itself needs
hydra's parser, which cannot load beside the antlr runtime Dagster needs, so params.yaml is written
here; DVC sees the same change.) ``dvc exp show`` then lists every run with its resolved parameters
and metrics side by side.

- ``CONFIG``: ``dvc exp run`` in this workspace. Interrupted, the same command resumes: DVC skips
  the stages that finished (their outputs persist and ``dvc.lock`` records them), and a training stage
  restarts from its last epoch checkpoint (``checkpoints/``).
- ``CONFIG --stage STAGE``: that stage and the stages it needs only (``dvc exp run STAGE``), not what
  follows it — a selection candidate that changes one model's settings is decided by that model's
  validation figure (its stage's report), so the evaluation report need not run for it.
- ``CONFIG --queue``: ``dvc exp run --queue``, the workspace's params.yaml left as it was; ``--run-queue``
  then runs every queued experiment one after another, each in a temporary copy of the repository
  (``orchestration.experiment_queue``: what ``dvc exp run --run-all`` does, without its hang). A queued
  experiment that fails is retried from its start.

Exit status: DVC's (``--run-queue``: 1 when an experiment failed), or 2 when the config does not exist or
does not load, or ``--stage`` names no stage of dvc.yaml.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hymirec.config import ConfigError, load_config
from orchestration.dvc_project import EXPERIMENT_CHOICE, choose_config, read_stages, repro_environment
from orchestration.experiment_queue import run_queue
from orchestration.process_group import run_forwarding_signals
from orchestration.resources import default_project_root


def experiment_name(config_path: str) -> str:
    """``<config stem>-<month><day>-<hour><minute>``: DVC names must be unique, a rerun of one config is a new run."""
    return f"{Path(config_path).stem}-{time.strftime('%m%d-%H%M')}"


def _dvc(root: Path, *arguments: str) -> int:
    """DVC's exit status; stopping this process (``kill``, Ctrl-C) stops DVC and the stage it runs too."""
    return run_forwarding_signals([sys.executable, "-m", "dvc", *arguments], cwd=root, env=repro_environment())


def run_experiment(root: Path, config_path: str, *, queue: bool = False, name: str | None = None, stage: str | None = None) -> int:
    """Run (or queue) the pipeline on ``config_path`` as a DVC experiment, up to ``stage`` if given; DVC's exit status."""
    load_config(root / config_path)  # a bad config fails here, before DVC records anything
    arguments = ["--name", name or experiment_name(config_path), *([stage] if stage else [])]
    if not queue:
        choose_config(root, config_path)
        return _dvc(root, "exp", "run", *arguments)
    choice = root / EXPERIMENT_CHOICE
    before = choice.read_bytes()
    try:
        choose_config(root, config_path)
        return _dvc(root, "exp", "run", "--queue", *arguments)
    finally:
        choice.write_bytes(before)  # the queue holds its own copy; the workspace keeps its choice


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestration.experiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="config file relative to the project root, e.g. configs/benchmark_ml1m.yaml")
    parser.add_argument("--queue", action="store_true", help="queue it instead of running it now")
    parser.add_argument("--run-queue", action="store_true", help="run every queued experiment, then exit")
    parser.add_argument("--stage", default=None, help="run only this stage of dvc.yaml and the stages it needs")
    parser.add_argument("--name", default=None, help="experiment name (default: <config stem>-<MMDD-HHMM>)")
    parser.add_argument("--root", default=None, help="project root holding dvc.yaml (default $HYMIREC_PROJECT_ROOT or this checkout)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    root = Path(args.root).resolve() if args.root else default_project_root()
    if args.config is None and not args.run_queue:
        parser.error("name a config file, or --run-queue")
    if args.stage is not None and args.config is None:
        parser.error("--stage goes with a config file")
    if args.stage is not None and args.stage not in {stage.name for stage in read_stages(root)}:
        parser.error(f"{root / 'dvc.yaml'} has no stage {args.stage!r}")
    if args.config is not None:
        try:
            status = run_experiment(root, Path(args.config).as_posix(), queue=args.queue, name=args.name, stage=args.stage)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if status or not args.run_queue:
            return status
    return run_queue(root)


if __name__ == "__main__":
    sys.exit(main())
