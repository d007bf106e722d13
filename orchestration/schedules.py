"""Scheduled retraining: re-materialise the whole graph; DVC skips the stages whose inputs are unchanged."""

from __future__ import annotations

import dagster as dg

from orchestration.jobs import pipeline_job

retrain_schedule = dg.ScheduleDefinition(
    name="retrain_schedule",
    job=pipeline_job,
    cron_schedule="0 3 * * 1",  # Mondays 03:00
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,  # on as soon as `dagster dev` (its daemon) runs
    description="Weekly retraining run of pipeline_job.",
)
