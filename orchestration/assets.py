"""One Dagster asset per ``dvc.yaml`` stage, generated from the file.

Materialising an asset runs ``dvc repro --single-item <stage>`` (DVC skips an unchanged stage and
keeps ``dvc.lock`` true whichever tool ran it), then turns the stage's metrics JSON into metadata:
a few stage-specific views (a model × metric table with 4 decimals, a plot's path, the report's path),
and every other number under its flattened key (``sequence_length.mean``). Numbers a view shows are
not repeated as flat keys: the evaluation report shows its test split as one table and links the report,
instead of ~120 keys of 17 digits each.
"""

# No `from __future__ import annotations`: Dagster reads the decorated functions' annotations
# (context type, resource types) at definition time and rejects string annotations like 'dg.…'.

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from hymirec.evaluation.report import compression_table, metrics_table
from hymirec.paths import CURVES_FIGURE, Layout
from hymirec.training.tracking import flatten
from orchestration.dvc_project import DvcStage
from orchestration.resources import DvcProject, MlflowTracking

GROUP = "hymirec"


def _metadata_value(value: Any) -> Any:
    if isinstance(value, int):  # bool included
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else dg.MetadataValue.text(str(value))
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.text(value if isinstance(value, str) else json.dumps(value))


Shown = list[tuple[str, ...]]  # paths into the metrics JSON whose numbers a view shows (no flat keys for them)


def _raw_logs_metadata(metrics: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], Shown]:
    return {"dagster/row_count": int(metrics["rows"])}, []


def _item_embeddings_metadata(metrics: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], Shown]:
    return {"dagster/row_count": int(metrics["items"]), "embeddings": dg.MetadataValue.path(str(layout.item_embeddings))}, []


def _codebook_metadata(metrics: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], Shown]:
    metadata: dict[str, Any] = {"recon_cosine_plot": dg.MetadataValue.path(str(layout.codebook_figure))}
    compared = metrics.get("at_equal_bytes")
    if isinstance(compared, Mapping) and compared:
        lines = ["| method | bytes/item | recon cosine mean | p5 |", "|---|---:|---:|---:|"]
        for name, row in compared.items():
            lines.append(f"| {name} | {row['bytes_per_item']} | {row['recon_cosine_mean']:.4f} | {row['recon_cosine_p5']:.4f} |")
        metadata["comparison_at_equal_bytes"] = dg.MetadataValue.md("\n".join(lines))
    curve = metrics.get("curve")
    if isinstance(curve, Mapping) and curve:
        lines = ["| layers | bytes/item | recon cosine mean | p5 |", "|---:|---:|---:|---:|"]
        for row in curve.values():
            lines.append(f"| {row['num_layers']} | {row['bytes_per_item']} | {row['recon_cosine_mean']:.4f} | {row['recon_cosine_p5']:.4f} |")
        metadata["recon_cosine_by_layers"] = dg.MetadataValue.md("\n".join(lines))
    return metadata, []


def _training_metadata(curves_dir: Callable[[Layout], Any]) -> Callable[[Mapping[str, Any], Layout], tuple[dict[str, Any], Shown]]:
    """Training stages: the validation curve plot and each model's final validation metrics (one table)."""

    def metadata(metrics: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], Shown]:
        valid = {name: row["valid"] for name, row in metrics.items() if isinstance(row, Mapping) and isinstance(row.get("valid"), Mapping)}
        view: dict[str, Any] = {"training_curves": dg.MetadataValue.path(str(curves_dir(layout) / CURVES_FIGURE))}
        if not valid:
            return view, []
        view["valid_metrics"] = dg.MetadataValue.md(metrics_table(valid))
        return view, [(name, "valid") for name in valid]

    return metadata


def _llm_model_metadata(metrics: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], Shown]:
    """The training view, plus HyMiRec's interests for a few sample users when the stage wrote them."""
    metadata, shown = _training_metadata(lambda layout: layout.llm_curves)(metrics, layout)
    if layout.llm_interests.is_file():
        metadata["interests"] = dg.MetadataValue.md(layout.llm_interests.read_text(encoding="utf-8"))
    return metadata, shown


def _evaluation_report_metadata(metrics: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], Shown]:
    """The test split as one model × metric table and the path of the report, which holds the rest.

    Validation numbers are in the report (and the trained models' in their training stage's ``valid_metrics``).
    """
    metadata: dict[str, Any] = {"report": dg.MetadataValue.path(str(layout.evaluation_markdown))}
    test = metrics.get("test")
    if isinstance(test, Mapping) and test:
        metadata["test_metrics"] = dg.MetadataValue.md(metrics_table(test))
    compression = metrics.get("compression")
    if isinstance(compression, Mapping) and compression:
        metadata["compression"] = dg.MetadataValue.md(compression_table(compression))
    return metadata, [("test",), ("valid",), ("compression",)]


# Views beyond the flattened numbers, for the stages that have one. Stages not listed get the numbers only.
STAGE_METADATA: dict[str, Callable[[Mapping[str, Any], Layout], tuple[dict[str, Any], Shown]]] = {
    "raw_logs": _raw_logs_metadata,
    "item_embeddings": _item_embeddings_metadata,
    "codebook": _codebook_metadata,
    "sasrec_model": _training_metadata(lambda layout: layout.baselines_curves),
    "coarse_model": _training_metadata(lambda layout: layout.coarse_curves),
    "llm_model": _llm_model_metadata,
    "evaluation_report": _evaluation_report_metadata,
}


def stage_metadata(stage: str, metrics: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """Asset metadata for a stage's metrics JSON."""
    if not isinstance(metrics, Mapping):  # DVC also accepts a bare number or list; show it as is
        return {"metrics": _metadata_value(metrics)}
    view, shown = STAGE_METADATA[stage](metrics, layout) if stage in STAGE_METADATA else ({}, [])
    rest = _without(metrics, shown)
    return {**{key: _metadata_value(value) for key, value in flatten(rest).items()}, **view}


def _without(tree: Mapping[str, Any], paths: Shown) -> dict[str, Any]:
    """A copy of ``tree`` without the subtrees at ``paths`` (a path not in it is ignored)."""
    kept = copy.deepcopy(dict(tree))
    for path in paths:
        parent: Any = kept
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return kept


def _describe(stage: DvcStage) -> str:
    def paths(items: Sequence[str]) -> str:
        return ", ".join(f"`{item}`" for item in items) or "—"

    return (
        f"DVC stage `{stage.name}`, materialised with `dvc repro --single-item {stage.target}`.\n\n"
        f"Command: `{stage.cmd}`\n\nReads: {paths(stage.deps)}\n\nWrites: {paths(stage.outs)}\n\n"
        f"Metrics: {paths(stage.metrics)}"
    )


def stage_asset(stage: DvcStage) -> dg.AssetsDefinition:
    """The asset that reproduces ``stage`` through DVC and reports its metrics."""

    @dg.asset(
        name=stage.name,
        deps=list(stage.upstream),
        group_name=GROUP,
        kinds={"dvc"},
        description=_describe(stage),
        metadata={"dvc/stage": stage.target, "dvc/cmd": stage.cmd},
    )
    def _stage(context: dg.AssetExecutionContext, dvc_project: DvcProject, mlflow: MlflowTracking) -> dg.MaterializeResult:
        result = dvc_project.repro(stage, log=context.log, env=mlflow.subprocess_env())
        context.log.info(f"{stage.name}: {'reproduced' if result.reproduced else 'unchanged, skipped by DVC'}")
        root = dvc_project.root_dir()
        metadata: dict[str, Any] = {
            "dvc/reproduced": result.reproduced,
            "dvc/seconds": round(result.seconds, 2),
            "mlflow/tracking_uri": mlflow.tracking_uri(),
        }
        for relative in stage.metrics:
            path = root / relative
            try:
                metrics = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise dg.Failure(description=f"stage {stage.name} succeeded but its metrics {path} are unreadable: {error}")
            key = "metrics_path" if len(stage.metrics) == 1 else f"metrics_path/{relative}"
            metadata[key] = dg.MetadataValue.path(str(path))
            metadata.update(stage_metadata(stage.name, metrics, Layout(root)))
        return dg.MaterializeResult(metadata=metadata)

    return _stage


def build_stage_assets(stages: Sequence[DvcStage]) -> list[dg.AssetsDefinition]:
    return [stage_asset(stage) for stage in stages]

