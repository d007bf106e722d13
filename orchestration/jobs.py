"""Jobs: the whole pipeline, every asset and asset check, in one process.

``in_process_executor`` runs the steps one after another in the run's process: DVC holds a lock on
the workspace anyway, and it saves a Python start-up per step (STACK.md pitfall 6).
"""

from __future__ import annotations

import dagster as dg

pipeline_job = dg.define_asset_job(
    name="pipeline_job",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Reproduce every dvc.yaml stage in order (unchanged stages are skipped by DVC) and run the data checks.",
)
