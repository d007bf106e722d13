"""Where each stage reads and writes, relative to the project root.

This is the single Python copy of the paths that ``dvc.yaml`` declares as stage ``deps``/``outs``;
``tests/test_dvc_yaml.py`` fails if the two ever disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STAGES: tuple[str, ...] = (
    "resolved_config",
    "raw_logs",
    "validated_sequences",
    "item_embeddings",
    "codebook",
    "coarse_model",
    "llm_model",
    "sasrec_model",
    "evaluation_report",
)

CURVES_FIGURE = "training_curves.png"  # valid NDCG@10 per epoch, in each training stage's reports folder


@dataclass(frozen=True)
class Layout:
    """Paths of one workspace (a checkout of this repository)."""

    root: Path

    # resolved_config
    @property
    def experiment_choice(self) -> Path:
        """params.yaml: ``config:`` names the config file this workspace runs (what ``dvc exp run`` varies)."""
        return self.root / "params.yaml"

    @property
    def resolved_config(self) -> Path:
        """The chosen config with its ``extends:`` chain merged and every default spelled out: what the
        stages read, and whose sections DVC tracks as their params."""
        return self.root / "build" / "config.yaml"

    # raw_logs
    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def raw_interactions(self) -> Path:
        return self.raw_dir / "interactions.parquet"

    @property
    def raw_items(self) -> Path:
        return self.raw_dir / "items.parquet"

    # validated_sequences
    @property
    def sequences_dir(self) -> Path:
        return self.root / "data" / "sequences"

    @property
    def sequences(self) -> Path:
        """One row per user: integer ids, full chronological item list and timestamps."""
        return self.sequences_dir / "sequences.parquet"

    @property
    def item_map(self) -> Path:
        return self.sequences_dir / "items.parquet"

    @property
    def user_map(self) -> Path:
        return self.sequences_dir / "users.parquet"

    # item_embeddings
    @property
    def embeddings_dir(self) -> Path:
        return self.root / "data" / "embeddings"

    @property
    def item_embeddings(self) -> Path:
        """float32 [items, dim], one unit-norm row per catalog item, row i = item_idx i."""
        return self.embeddings_dir / "items.npy"

    @property
    def embedding_items(self) -> Path:
        """The id map of ``item_embeddings``: item_idx, item_id and the text that was encoded."""
        return self.embeddings_dir / "items.parquet"

    # codebook
    @property
    def codebook_dir(self) -> Path:
        """Centroids, codebook.json (config and scales), codes.npy (and scales.npy) in item_idx order."""
        return self.root / "models" / "codebook"

    @property
    def codebook_figures_dir(self) -> Path:
        return self.reports_dir / "codebook"

    @property
    def codebook_figure(self) -> Path:
        """Mean reconstruction cosine against the number of layers, beside the baselines."""
        return self.codebook_figures_dir / "recon_cosine_by_layers.png"

    # sasrec_model
    @property
    def baselines_dir(self) -> Path:
        """One model folder per trained baseline: sasrec/, sasrec_text/, comirec/."""
        return self.root / "models" / "baselines"

    @property
    def baselines_curves(self) -> Path:
        return self.reports_dir / "sasrec_model"

    # coarse_model
    @property
    def coarse_dir(self) -> Path:
        """One model folder per history input: codebook/ (reconstructions) and exact/ (the twin)."""
        return self.root / "models" / "coarse"

    @property
    def coarse_curves(self) -> Path:
        return self.reports_dir / "coarse_model"

    # llm_model
    @property
    def llm_dir(self) -> Path:
        """One model folder per variant (models/llm/<variant>/)."""
        return self.root / "models" / "llm"

    @property
    def llm_curves(self) -> Path:
        return self.reports_dir / "llm_model"

    @property
    def llm_interests(self) -> Path:
        """HyMiRec's interests for a few sample users (markdown; the llm_model asset shows it)."""
        return self.llm_curves / "interests.md"

    @property
    def pretrained_cache(self) -> Path:
        """Converted pretrained checkpoints (SmolLM2 from its GGUF file): a cache, not a DVC output."""
        return self.root / "models" / "pretrained"

    # evaluation_report
    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def metrics(self) -> Path:
        return self.reports_dir / "metrics.json"

    @property
    def evaluation_markdown(self) -> Path:
        return self.reports_dir / "evaluation.md"

    @property
    def history_length_breakdown(self) -> Path:
        return self.reports_dir / "history_length.json"

    @property
    def figures_dir(self) -> Path:
        return self.reports_dir / "figures"

    @property
    def rankings_dir(self) -> Path:
        return self.reports_dir / "rankings"

    @property
    def data_docs_dir(self) -> Path:
        return self.reports_dir / "data_docs"

    def checkpoint(self, stage: str, fingerprint: str) -> Path:
        """Training state of an unfinished stage run, so an interrupted run resumes (not a DVC output).

        ``fingerprint`` identifies the training settings: a run with other settings never resumes
        from this state.
        """
        return self.root / "checkpoints" / f"{stage}-{fingerprint}.pt"

    def stage_metrics(self, stage: str) -> Path:
        """The metrics JSON a stage writes for ``dvc metrics show`` and Dagster metadata."""
        if stage == "evaluation_report":
            return self.metrics
        return self.reports_dir / f"{stage}.json"
