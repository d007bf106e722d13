"""``new_raw_logs_sensor``: start ``pipeline_job`` when raw log files appear or change in the inbox folder.

The cursor is the JSON of the last seen ``{file name: [mtime_ns, size]}``. A tick requests a run when
a file is new or its mtime/size changed; the run key is a digest of the whole snapshot, so the same
files never start two runs even if the cursor is lost. Removed files only update the cursor.
"""

# No `from __future__ import annotations`: Dagster reads the decorated functions' annotations
# (context type, resource types) at definition time and rejects string annotations like 'dg.…'.

import hashlib
import json

import dagster as dg

from orchestration.jobs import pipeline_job
from orchestration.resources import DvcProject, RawLogInbox


def _changed_files(previous: dict[str, list[int]], current: dict[str, list[int]]) -> list[str]:
    return [name for name, state in current.items() if previous.get(name) != state]


@dg.sensor(
    name="new_raw_logs_sensor",
    job=pipeline_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs pipeline_job when raw log files (csv/tsv/parquet/inter/item) are added to or changed in the inbox folder.",
)
def new_raw_logs_sensor(
    context: dg.SensorEvaluationContext, dvc_project: DvcProject, raw_log_inbox: RawLogInbox
) -> dg.SensorResult:
    folder = raw_log_inbox.folder(dvc_project.root_dir())
    previous = json.loads(context.cursor) if context.cursor else {}
    current = raw_log_inbox.snapshot(dvc_project.root_dir())
    cursor = json.dumps(current, sort_keys=True)
    changed = _changed_files(previous, current)
    if not changed:
        removed = sorted(set(previous) - set(current))
        reason = f"no new or changed raw log files in {folder}" + (f" (removed: {', '.join(removed)})" if removed else "")
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    run_key = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    context.log.info(f"new or changed raw log files in {folder}: {changed}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, tags={"hymirec/trigger": "new_raw_logs", "hymirec/changed_files": ", ".join(changed)[:1000]})
        ],
        cursor=cursor,
    )
