"""Stage assets: metadata from metrics JSON, and materialising tiny DVC pipelines through Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from hymirec.paths import Layout
from orchestration.assets import build_stage_assets, stage_metadata
from orchestration.dvc_project import read_stages
from orchestration.resources import DvcProject, OfflineMlflow

pytestmark = pytest.mark.usefixtures("collect_garbage")

EVALUATION_METRICS = {
    "valid": {"sasrec": {"recall@10": 0.3, "ndcg@10": 0.17, "mrr": 0.12}},
    "test": {
        "popularity": {"recall@10": 0.05, "ndcg@10": 0.025, "mrr": 0.02},
        "sasrec": {"recall@10": 0.28, "ndcg@10": 0.15625, "mrr": 0.11, "by_length": {"short": 0.1}},
    },
}


def test_raw_logs_metadata_has_row_count_and_numbers(tmp_path: Path) -> None:
    metrics = {"rows": 1000, "users": 6, "items": 37, "timestamp_min": 956703932, "timestamp_max": 1046454590}
    metadata = stage_metadata("raw_logs", metrics, Layout(tmp_path))
    assert metadata["dagster/row_count"] == 1000
    assert metadata["users"] == 6 and metadata["timestamp_max"] == 1046454590


def test_nested_metrics_are_flattened_with_dots(tmp_path: Path) -> None:
    metrics = {"users": 6, "sequence_length": {"min": 5, "median": 7.5, "mean": 8.25, "max": 13}}
    metadata = stage_metadata("validated_sequences", metrics, Layout(tmp_path))
    assert metadata == {"users": 6, "sequence_length.min": 5, "sequence_length.median": 7.5, "sequence_length.mean": 8.25, "sequence_length.max": 13}


def test_evaluation_report_metadata_is_one_table_of_4_digits_and_the_report_path(tmp_path: Path) -> None:
    metadata = stage_metadata("evaluation_report", EVALUATION_METRICS, Layout(tmp_path))
    assert metadata["report"] == dg.MetadataValue.path(str(tmp_path / "reports" / "evaluation.md"))
    table = metadata["test_metrics"].value
    assert table.splitlines() == [
        "| model | recall@10 | ndcg@10 | mrr |",
        "|---|---:|---:|---:|",
        "| popularity | 0.0500 | 0.0250 | 0.0200 |",
        "| sasrec | 0.2800 | 0.1562 | 0.1100 |",
    ]
    # no flat copies of the numbers (there were ~60 keys of 17 digits); the validation split is in the report
    assert set(metadata) == {"report", "test_metrics"}


def test_evaluation_report_metadata_shows_the_cost_of_compression_as_a_table(tmp_path: Path) -> None:
    compression = {"test": {"hymirec": {"exact_ndcg@10": 0.2, "codebook_ndcg@10": 0.19, "relative_change": -0.05}}}
    metadata = stage_metadata("evaluation_report", {**EVALUATION_METRICS, "compression": compression}, Layout(tmp_path))
    assert metadata["compression"].value.splitlines()[2] == "| test | hymirec | 0.2000 | 0.1900 | -5.00% |"
    assert not [key for key in metadata if key.startswith("compression.")]


def test_training_metadata_shows_validation_metrics_once_and_keeps_the_other_numbers(tmp_path: Path) -> None:
    metrics = {"sasrec": {"best_epoch": 4, "train_seconds": 44.5, "valid": {"ndcg@10": 0.13523824009295227, "mrr": 0.1172935525380458}}}
    metadata = stage_metadata("sasrec_model", metrics, Layout(tmp_path))
    assert metadata["valid_metrics"].value.splitlines()[2] == "| sasrec | 0.1352 | 0.1173 |"
    assert metadata["sasrec.best_epoch"] == 4 and metadata["sasrec.train_seconds"] == 44.5
    assert not [key for key in metadata if ".valid." in key]


def test_llm_model_metadata_shows_hymirecs_interests_when_the_stage_wrote_them(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    metrics = {"hymirec": {"best_epoch": 1, "valid": {"ndcg@10": 0.02}}}
    assert "interests" not in stage_metadata("llm_model", metrics, layout)
    layout.llm_interests.parent.mkdir(parents=True)
    layout.llm_interests.write_text("### user 1 (270 items)\n\n| interest | recommendations produced | nearest items (* seen) |\n")
    metadata = stage_metadata("llm_model", metrics, layout)
    assert metadata["interests"] == dg.MetadataValue.md(layout.llm_interests.read_text())
    assert "valid_metrics" in metadata and "training_curves" in metadata


def test_materialise_runs_stages_through_dvc_and_attaches_metrics(two_stage_project: Path, tmp_path: Path) -> None:
    mlflow = OfflineMlflow(db_path=str(tmp_path / "mlflow.db"))
    resources = {"dvc_project": DvcProject(root=str(two_stage_project)), "mlflow": mlflow}
    assets = build_stage_assets(read_stages(two_stage_project))

    result = dg.materialize(assets, resources=resources)
    assert result.success
    produce = result.asset_materializations_for_node("produce")[0].metadata
    assert produce["rows"] == dg.IntMetadataValue(3)
    assert produce["sizes.mean"] == dg.FloatMetadataValue(2.5)
    assert produce["label"] == dg.TextMetadataValue("ok")
    assert produce["dvc/reproduced"] == dg.BoolMetadataValue(True)
    assert produce["mlflow/tracking_uri"].value == mlflow.tracking_uri()
    assert (two_stage_project / "out" / "data.txt").read_text() == mlflow.tracking_uri()  # the stage got the URI
    assert (two_stage_project / "result.txt").read_text() == mlflow.tracking_uri().upper()  # consume ran after produce
    consume = result.asset_materializations_for_node("consume")[0].metadata
    assert consume["valid.ndcg@10"] == dg.FloatMetadataValue(0.25)


def test_failing_stage_fails_the_asset_with_its_output(failing_project: Path, tmp_path: Path) -> None:
    resources = {"dvc_project": DvcProject(root=str(failing_project)), "mlflow": OfflineMlflow(db_path=str(tmp_path / "m.db"))}
    result = dg.materialize(build_stage_assets(read_stages(failing_project)), resources=resources, raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    user_failure = failure.step_failure_data.user_failure_data
    assert "doomed-stage-output" in user_failure.description
    assert "exited with 3" in user_failure.description
    assert user_failure.metadata["command"].value == "dvc repro --single-item doomed"
