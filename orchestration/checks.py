"""Blocking asset checks: the Great Expectations suites of ``data_checks`` re-run on the stage outputs,
and the item embeddings' shape and norms.

A failed suite fails the check, which (being blocking) stops every downstream asset; the stage's
previous good outputs stay in place because stages write atomically. ``data_checks`` (and with it
Great Expectations, several seconds to import) is imported inside the check bodies, so loading the
definitions in ``dagster dev`` or a sensor tick does not pay for it.
"""

# No `from __future__ import annotations`: Dagster reads the decorated functions' annotations
# (context type, resource types) at definition time and rejects string annotations like 'dg.…'.

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from hymirec.training.tracking import flatten
from orchestration.resources import DvcProject

_DESCRIPTION_LIMIT = 2000


def _summary_metadata(summary: Any) -> dict[str, Any]:
    if not isinstance(summary, Mapping):
        return {"summary": dg.MetadataValue.text(str(summary))}
    metadata: dict[str, Any] = {}
    for key, value in flatten(summary).items():
        metadata[key] = value if isinstance(value, (int, float)) else dg.MetadataValue.text(str(value))
    return metadata


def _run_suite(suite: str, files: list[Path], validate: Callable[[], Any]) -> dg.AssetCheckResult:
    """Run one suite; a ``DataValidationError`` or an unreadable output becomes a failed check."""
    from data_checks.errors import DataValidationError

    metadata: dict[str, Any] = {f"file/{path.name}": dg.MetadataValue.path(str(path)) for path in files}
    metadata["suite"] = suite
    try:
        summary = validate()
    except DataValidationError as error:
        message = str(error)
        metadata["error"] = dg.MetadataValue.md(f"```\n{message}\n```")
        failures = getattr(error, "failures", ())  # structured RuleFailure records, when the error has them
        if failures:
            metadata["broken_rules"] = ", ".join(str(getattr(failure, "rule", failure)) for failure in failures)
            metadata["failures"] = dg.MetadataValue.json(
                [{key: str(getattr(failure, key, "")) for key in ("file", "rule", "detail", "unexpected_count")} for failure in failures]
            )
        return dg.AssetCheckResult(passed=False, description=message[:_DESCRIPTION_LIMIT], metadata=metadata)
    except FileNotFoundError as error:
        return dg.AssetCheckResult(passed=False, description=f"{suite}: stage output missing: {error}", metadata=metadata)
    return dg.AssetCheckResult(passed=True, description=f"{suite}: all expectations met", metadata={**metadata, **_summary_metadata(summary)})


@dg.asset_check(asset="raw_logs", blocking=True, description="Great Expectations raw-logs suite on data/raw/*.parquet.")
def check_raw_logs_expectations(dvc_project: DvcProject) -> dg.AssetCheckResult:
    layout = dvc_project.layout()

    def validate() -> Any:
        from data_checks.raw_logs import RawLogRules, validate_raw_log_files

        config = dvc_project.load_config()
        return validate_raw_log_files(layout.raw_interactions, layout.raw_items, RawLogRules.of(config.data), docs_dir=layout.data_docs_dir)

    return _run_suite("raw_logs", [layout.raw_interactions, layout.raw_items], validate)


@dg.asset_check(
    asset="validated_sequences", blocking=True, description="Great Expectations sequences suite on data/sequences/."
)
def check_sequences_expectations(dvc_project: DvcProject) -> dg.AssetCheckResult:
    import pyarrow.parquet as pq

    layout = dvc_project.layout()

    def validate() -> Any:
        from data_checks.sequences import validate_sequence_file

        config = dvc_project.load_config()
        return validate_sequence_file(
            layout.sequences,
            num_items=pq.read_metadata(layout.item_map).num_rows,
            min_user_interactions=config.sequences.min_user_interactions,
            docs_dir=layout.data_docs_dir,
        )

    return _run_suite("sequences", [layout.sequences, layout.item_map], validate)


# stored item vectors: |‖e‖ − 1| above this fails the check (float32 rows are normalised to ~1e-7)
UNIT_NORM_TOLERANCE = 1e-3


@dg.asset_check(
    asset="item_embeddings",
    blocking=True,
    description="data/embeddings/items.npy holds one finite, unit-norm row per catalog item (data/sequences/items.parquet).",
)
def check_item_embeddings_unit_norm(dvc_project: DvcProject) -> dg.AssetCheckResult:
    import numpy as np
    import pandas as pd

    layout = dvc_project.layout()
    files = [layout.item_embeddings, layout.item_map]
    metadata: dict[str, Any] = {f"file/{path.name}": dg.MetadataValue.path(str(path)) for path in files}
    try:
        embeddings = np.load(layout.item_embeddings)
        catalog_items = len(pd.read_parquet(layout.item_map))
    except (OSError, ValueError) as error:
        return dg.AssetCheckResult(passed=False, description=f"item_embeddings: cannot read the stage output: {error}", metadata=metadata)
    if embeddings.ndim != 2:
        return dg.AssetCheckResult(passed=False, description=f"item_embeddings: expected a 2-d array, got shape {embeddings.shape}", metadata=metadata)
    finite = np.isfinite(embeddings).all(axis=1)
    norm_error = np.abs(np.linalg.norm(np.where(finite[:, None], embeddings, 0.0), axis=1) - 1.0)
    off_norm = finite & (norm_error > UNIT_NORM_TOLERANCE)
    metadata.update(
        {
            "rows": int(embeddings.shape[0]),
            "catalog_items": catalog_items,
            "dim": int(embeddings.shape[1]),
            "non_finite_rows": int((~finite).sum()),
            "off_unit_norm_rows": int(off_norm.sum()),
            "max_norm_error": float(norm_error[finite].max()) if finite.any() else dg.MetadataValue.null(),
            "norm_tolerance": UNIT_NORM_TOLERANCE,
        }
    )
    problems = []
    if embeddings.shape[0] != catalog_items:
        problems.append(f"{embeddings.shape[0]} rows for {catalog_items} catalog items")
    if not finite.all():
        problems.append(f"{int((~finite).sum())} rows with NaN/inf (first item_idx {int(np.flatnonzero(~finite)[0])})")
    if off_norm.any():
        problems.append(
            f"{int(off_norm.sum())} rows with |norm − 1| > {UNIT_NORM_TOLERANCE} (first item_idx {int(np.flatnonzero(off_norm)[0])}, "
            f"max error {float(norm_error[finite].max()):.3g})"
        )
    if problems:
        return dg.AssetCheckResult(passed=False, description="item_embeddings: " + "; ".join(problems), metadata=metadata)
    return dg.AssetCheckResult(passed=True, description=f"item_embeddings: {catalog_items} finite unit-norm rows", metadata=metadata)


ASSET_CHECKS: tuple[dg.AssetChecksDefinition, ...] = (
    check_raw_logs_expectations,
    check_sequences_expectations,
    check_item_embeddings_unit_norm,
)
