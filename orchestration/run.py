"""Materialise the whole pipeline once, in this process: ``python -m orchestration.run [--config …]``.

Runs ``pipeline_job`` (every asset and asset check) against the persistent Dagster instance in
``$DAGSTER_HOME`` (default ``<root>/.dagster_home``), so ``dagster dev`` with the same
``DAGSTER_HOME`` shows the run afterwards. Exits 1 if a step or an asset check fails, 2 on a usage
error, and 0 after printing where the evaluation report is.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from orchestration.instance import prepare_dagster_home
from orchestration.dvc_project import chosen_config
from orchestration.resources import default_project_root

logger = logging.getLogger("orchestration.run")


def _config_problem(root: Path, config_path: str) -> str | None:
    """Why ``config_path`` cannot be run, or None: it must exist and load (its ``extends:`` chain included)."""
    from hymirec.config import ConfigError, load_config

    if not (root / config_path).is_file():
        return f"config file {root / config_path} does not exist"
    try:
        load_config(root / config_path)
    except ConfigError as error:
        return str(error)
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestration.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--config", default=None,
        help="config file relative to the project root, written into params.yaml (default: the one params.yaml names)",
    )
    parser.add_argument("--root", default=None, help="project root holding dvc.yaml (default $HYMIREC_PROJECT_ROOT or this checkout)")
    return parser


# Lines of `dvc repro`'s own, around a stage command's output.
_DVC_LINES = ("Running stage ", "> ", "ERROR: ", "WARNING: ", "Updating lock file", "Verifying ", "Stage '", "Use `dvc push`", "To track the changes")


def stage_error_line(output: str) -> str | None:
    """The failing stage's own one-line error in the output of `dvc repro`: its last ``error: …`` line
    (how ``hymirec`` reports an expected failure, details on the lines below), else its last line (a
    traceback's ``ValueError: …``), else DVC's ``ERROR: …`` line when the command never ran."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    own = [line for line in lines if not line.startswith(_DVC_LINES)]
    errors = [line for line in own if line.startswith("error:")]
    if errors or own:
        return (errors or own)[-1]
    return next((line for line in reversed(lines) if line.startswith("ERROR: ")), None)


def failure_lines(result) -> list[str]:
    """``<step>: <its error>`` for each failed step and asset check: what the run's last lines repeat,
    below Dagster's stack traces."""
    lines = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        tail = user.metadata.get("output_tail") if user is not None else None  # a stage that `dvc repro` ran
        line = stage_error_line(str(tail.value).strip().strip("`")) if tail is not None else None
        if line is None:
            text = (user.description if user is not None and user.description else None) or (data.error.message if data.error else "")
            line = next((part.strip() for part in text.splitlines() if part.strip()), "failed, no message")
        lines.append(f"{event.step_key}: {line}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            description = (evaluation.description or "failed").strip().splitlines()[0]
            lines.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}: {description}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("HYMIREC_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = Path(args.root).resolve() if args.root else default_project_root()
    try:
        config_path = Path(args.config or chosen_config(root)).as_posix()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if Path(config_path).is_absolute():
        config_path = Path(os.path.relpath(config_path, root)).as_posix()
    if problem := _config_problem(root, config_path):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    home = prepare_dagster_home(root)

    import dagster as dg

    from hymirec.paths import Layout
    from orchestration.definitions import build_definitions

    job = build_definitions(root, config_path=config_path).resolve_job_def("pipeline_job")
    logger.info("running %s for %s (config %s, DAGSTER_HOME=%s)", job.name, root, config_path, home)
    # Not `with DagsterInstance.get()`: disposing it closes SQLite connections that SQLAlchemy's pool
    # later tries to roll back ("Cannot operate on a closed database" tracebacks at interpreter exit).
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
        tags={"hymirec/config": config_path, "hymirec/trigger": "orchestration.run"},
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    failed_steps = [event.step_key for event in result.get_step_failure_events()]
    failed_checks = [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    if not result.success or failed_steps or failed_checks:
        print(
            f"error: pipeline run {result.run_id} failed (steps: {failed_steps or 'none'}; checks: {failed_checks or 'none'}). "
            f"See the log above, or `DAGSTER_HOME={home} dagster dev -m orchestration.definitions`.",
            file=sys.stderr,
        )
        for line in failure_lines(result):
            print(line, file=sys.stderr)
        return 1
    layout = Layout(root)
    print(f"Pipeline run {result.run_id} succeeded.\nReport:  {layout.evaluation_markdown}\nMetrics: {layout.metrics}")
    if layout.metrics.is_file():  # the same tables as `hymirec metrics`
        from hymirec.cli import metrics_summary

        print(f"\n{metrics_summary(layout.metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
