"""retrain_schedule re-materialises the whole graph through pipeline_job."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orchestration.definitions import defs
from orchestration.schedules import retrain_schedule


def test_schedule_targets_pipeline_job() -> None:
    assert retrain_schedule.job_name == "pipeline_job"
    assert defs.resolve_schedule_def("retrain_schedule").job_name == "pipeline_job"
    assert retrain_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_schedule_fires_weekly_with_a_run_request() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 30, 3, tzinfo=dt.timezone.utc))
    (request,) = retrain_schedule.evaluate_tick(context).run_requests
    assert isinstance(request, dg.RunRequest)
    assert retrain_schedule.cron_schedule == "0 3 * * 1"
