"""Everything Dagster loads: ``dagster dev -m orchestration.definitions``.

The assets come from ``dvc.yaml`` (one per stage), so adding a stage there adds an asset here.
``build_definitions`` builds the same set for another project root, config file or MLflow store
(``orchestration.run`` and the tests use it).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.assets import build_stage_assets
from orchestration.checks import ASSET_CHECKS
from orchestration.dvc_project import read_stages
from orchestration.jobs import pipeline_job
from orchestration.resources import DvcProject, MlflowTracking, ProjectMlflow, RawLogInbox, default_project_root
from orchestration.schedules import retrain_schedule
from orchestration.sensors import new_raw_logs_sensor


def build_definitions(
    root: str | Path | None = None,
    *,
    config_path: str | None = None,
    mlflow: MlflowTracking | None = None,
    raw_log_inbox: RawLogInbox | None = None,
) -> dg.Definitions:
    """Assets for the stages of ``<root>/dvc.yaml``, the checks on those of them that exist, jobs, automation."""
    root = Path(root).resolve() if root is not None else default_project_root()
    assets = build_stage_assets(read_stages(root))
    asset_keys = {key for asset in assets for key in asset.keys}
    checks = [check for check in ASSET_CHECKS if all(key.asset_key in asset_keys for key in check.check_keys)]
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[pipeline_job],
        schedules=[retrain_schedule],
        sensors=[new_raw_logs_sensor],
        resources={
            "dvc_project": DvcProject(root=str(root), config_path=config_path),
            "mlflow": mlflow or ProjectMlflow(project_root=str(root)),
            "raw_log_inbox": raw_log_inbox or RawLogInbox(),
        },
    )


defs = build_definitions()
