"""HyMiRec's LLM model: a decoder reads [coarse tokens] + [recent items] + [K interest queries].

DESIGN.md §2. Everything enters the decoder as vectors (``inputs_embeds``):

- M context tokens summarising the long history: the coarse model's last states (``CoarseModel``),
  or, for the ``hymirec_no_coarse`` ablation, the mean codebook vector of M contiguous chunks of the
  history (``PooledHistory``), or nothing (``hymirec_recent_only``);
- the R most recent items, each its ``ItemTower`` vector (projected exact LM embedding + id vector);
- K learned interest queries.

The K query states go through a head to K unit interest vectors; items are unit ``ItemTower``
vectors in the same space. Score: s(u, i) = max_k cos(u_k, i). Training is DMIL
(``hymirec.losses.dmil_loss``): the next W items are clustered (cosine k-means on their exact LM
embeddings, so groups are semantic and stable over training), matched to interests, and each interest
learns its group by InfoNCE with a learnable, clamped temperature.

Padding is moved to the front of each row, so every row ends with its K queries; the decoder's rotary
positions are relative, so the shift changes nothing for the real tokens. The context model is frozen
(trained by stage ``coarse_model``) and stays in eval mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hymirec.config import BackboneConfig, CoarseConfig, LLMConfig, Variant
from hymirec.io import read_json, write_atomically, write_json
from hymirec.losses import cosine_kmeans, dmil_loss
from hymirec.models.base import evaluating, left_pad
from hymirec.models.coarse import CoarseModel
from hymirec.models.item_tower import ItemTower
from hymirec.pretrained import build_backbone

CONTEXT, RECENT, QUERY = 0, 1, 2  # segment ids


@dataclass(frozen=True)
class VariantSpec:
    """What a variant changes; everything else (budget, sizes) is shared."""

    context: str  # "coarse" | "pooled" | "none"
    history: str  # "codebook" | "exact": which vectors the long history is read as
    num_interests: int
    backbone: BackboneConfig


def variant_spec(config: LLMConfig, variant: Variant) -> VariantSpec:
    context = {Variant.NO_COARSE: "pooled", Variant.RECENT_ONLY: "none"}.get(variant, "coarse")
    history = "exact" if variant is Variant.EXACT_HISTORY else "codebook"
    num_interests = 1 if variant is Variant.K1 else config.num_interests
    backbone = config.smollm2_backbone if variant is Variant.SMOLLM2 else config.backbone
    return VariantSpec(context, history, num_interests, backbone)


def input_embedding_rms(backbone: nn.Module) -> float:
    """RMS of a pretrained decoder's token embeddings; 1 for a decoder trained from scratch."""
    if not any(not parameter.requires_grad for parameter in backbone.parameters()):
        return 1.0
    weights = backbone.get_input_embeddings().weight
    return float(weights.detach().float().pow(2).mean().sqrt())


class PooledHistory(nn.Module):
    """The long history without a model: the mean vector of each of M contiguous chunks (ablation)."""

    def __init__(self, num_items: int, embedding_dim: int, max_length: int, num_tokens: int) -> None:
        super().__init__()
        self.register_buffer("history_vectors", torch.zeros(num_items + 1, embedding_dim))
        self.max_length, self.num_tokens = max_length, num_tokens

    @property
    def token_size(self) -> int:
        return self.history_vectors.shape[1]

    @torch.no_grad()
    def context_tokens(self, histories: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = left_pad(histories, self.max_length)  # [B L]
        chunk = torch.arange(self.max_length) * self.num_tokens // self.max_length  # position -> chunk [L]
        members = F.one_hot(chunk, self.num_tokens).float()[None] * (tokens > 0)[..., None].float()  # [B L M]
        sums = torch.einsum("blm,ble->bme", members, self.history_vectors[tokens])
        counts = members.sum(dim=1)  # [B M]
        return sums / counts.clamp(min=1)[..., None], counts > 0


@dataclass(frozen=True)
class LLMBatch:
    histories: list[np.ndarray]  # item_idx inputs, oldest first
    targets: np.ndarray  # [B W] the next W item_idx, -1 where the sequence ends


class HyMiRecModel(nn.Module):
    def __init__(
        self, config: LLMConfig, variant: Variant, coarse: CoarseConfig, num_items: int, embedding_dim: int, cache_dir: Path
    ) -> None:
        super().__init__()
        self.config, self.variant, self.coarse_config = config, variant, coarse
        self.num_items, self.embedding_dim = num_items, embedding_dim
        self.spec = variant_spec(config, variant)
        if self.spec.context == "coarse":
            self.context = CoarseModel(coarse, num_items, embedding_dim)
        elif self.spec.context == "pooled":
            self.context = PooledHistory(num_items, embedding_dim, coarse.max_length, coarse.num_tokens)
        else:
            self.context = None
        if self.context is not None:
            self.context.requires_grad_(False)
        self.item_tower = ItemTower(num_items, embedding_dim, config.interest_size, config.item_id_embeddings)
        self.backbone, width = build_backbone(self.spec.backbone, cache_dir)
        self.item_input = nn.Linear(config.interest_size, width)
        self.context_input = nn.Linear(self.context.token_size, width) if self.context is not None else None
        self.segment_embedding = nn.Embedding(3, width)
        nn.init.zeros_(self.segment_embedding.weight)  # learned; must not drown the items at the start
        self.queries = nn.Parameter(torch.randn(self.spec.num_interests, width))
        # every input token is layer-normalised, then scaled to the decoder's own token-embedding RMS:
        # a pretrained decoder expects its inputs at that scale, and no segment dominates by its size
        self.input_norm = nn.LayerNorm(width)
        self.register_buffer("input_scale", torch.tensor(input_embedding_rms(self.backbone)))
        self.head = nn.Linear(width, config.interest_size)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(config.temperature_init)))

    def train(self, mode: bool = True) -> HyMiRecModel:
        super().train(mode)
        if self.context is not None:
            self.context.eval()  # frozen: no dropout in the context tokens
        return self

    def item_vectors(self) -> torch.Tensor:
        """[I d] unit vectors of every catalog item."""
        return F.normalize(self.item_tower(), dim=-1)

    def interests(self, histories: list[np.ndarray], items: torch.Tensor | None = None) -> torch.Tensor:
        """[B K d] unit interest vectors of each user; ``items`` are ``item_vectors()`` if already computed."""
        items = self.item_vectors() if items is None else items
        width = self.queries.shape[1]
        parts, masks = [], []
        if self.context is not None:
            context, context_mask = self.context.context_tokens(histories)
            parts.append(self.context_input(context) + self.segment_embedding.weight[CONTEXT])
            masks.append(context_mask)
        recent = left_pad(histories, self.config.recent_items)  # [B R] tokens, 0 = padding
        padded_items = F.pad(items, (0, 0, 1, 0))  # row 0 = padding
        parts.append(self.item_input(padded_items[recent]) + self.segment_embedding.weight[RECENT])
        masks.append(recent > 0)
        batch = len(histories)
        parts.append((self.queries + self.segment_embedding.weight[QUERY]).expand(batch, -1, width))
        masks.append(torch.ones(batch, len(self.queries), dtype=torch.bool))
        sequence, mask = torch.cat(parts, dim=1), torch.cat(masks, dim=1)  # [B T H], [B T]
        # padding to the front (stable: real tokens keep their order), so each row ends with the queries
        order = torch.sort(mask.long(), dim=1, stable=True).indices
        sequence = sequence.gather(1, order[..., None].expand(-1, -1, width))
        mask = mask.gather(1, order)
        sequence = self.input_norm(sequence) * self.input_scale
        states = self.backbone(inputs_embeds=sequence, attention_mask=mask.long()).last_hidden_state
        return F.normalize(self.head(states[:, -len(self.queries) :]), dim=-1)

    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp().clamp(self.config.temperature_min, self.config.temperature_max)

    def loss(self, batch: LLMBatch) -> torch.Tensor:
        """DMIL over the batch's next-W targets, with in-batch and uniformly sampled negatives."""
        items = self.item_vectors()
        interests = self.interests(batch.histories, items)
        target_ids = torch.from_numpy(batch.targets)
        valid = target_ids >= 0
        groups = cosine_kmeans(
            self.item_tower.text_vectors[target_ids.clamp(min=0)], valid, len(self.queries), self.config.cluster_iterations
        )
        negative_ids = torch.randint(self.num_items, (self.config.sampled_negatives,))
        return dmil_loss(
            interests, items[target_ids.clamp(min=0)], target_ids, groups, items[negative_ids], negative_ids,
            self.temperature(), self.config.duplicate_cosine,
        )

    @torch.no_grad()
    def score_items(self, histories: list[np.ndarray]) -> np.ndarray:
        """s(u, i) = max_k cos(u_k, i) for every catalog item: [B I]."""
        with evaluating(self):
            items = self.item_vectors()
            scores = torch.einsum("bkd,id->bki", self.interests(histories, items), items).amax(dim=1)
        return scores.numpy()

    @torch.no_grad()
    def user_interests(self, histories: list[np.ndarray]) -> np.ndarray:
        """[B K d] interests for serving with faiss (``hymirec.retrieval``)."""
        with evaluating(self):
            return self.interests(histories).numpy()

    def frozen_pretrained_keys(self) -> set[str]:
        """State-dict keys of frozen pretrained decoder weights: rebuilt from the cache, never saved."""
        return {f"backbone.{name}" for name, parameter in self.backbone.named_parameters() if not parameter.requires_grad}


def build_hymirec(
    config: LLMConfig,
    variant: Variant,
    coarse: CoarseConfig,
    item_embeddings: np.ndarray,
    history_vectors: np.ndarray,
    cache_dir: Path,
    coarse_state: dict[str, torch.Tensor] | None,
) -> HyMiRecModel:
    """A fresh model for ``variant``: item tower on the exact embeddings, context on ``history_vectors``.

    ``coarse_state`` is the trained coarse model's state dict (variants with a coarse context).
    """
    num_items, dim = item_embeddings.shape
    model = HyMiRecModel(config, variant, coarse, num_items, dim, cache_dir)
    model.item_tower.set_text_vectors(item_embeddings)
    if isinstance(model.context, CoarseModel):
        if coarse_state is None:
            raise ValueError(f"variant {variant.value} reads coarse tokens: a trained coarse model is required")
        model.context.load_state_dict(coarse_state)
    elif isinstance(model.context, PooledHistory):
        with torch.no_grad():
            model.context.history_vectors[1:] = torch.from_numpy(np.asarray(history_vectors, dtype=np.float32))
    return model


def save_hymirec(model: HyMiRecModel, directory: Path) -> None:
    """``model.pt`` (state dict without the frozen pretrained decoder) + ``config.json``."""
    skipped = model.frozen_pretrained_keys()
    state = {key: value for key, value in model.state_dict().items() if key not in skipped}
    write_atomically(directory / "model.pt", lambda temp: torch.save(state, temp))
    write_json(
        {
            "variant": model.variant.value,
            "num_items": model.num_items,
            "embedding_dim": model.embedding_dim,
            "llm": model.config.model_dump(mode="json"),
            "coarse": model.coarse_config.model_dump(mode="json"),
        },
        directory / "config.json",
    )


def load_hymirec(directory: Path, cache_dir: Path) -> HyMiRecModel:
    """Rebuild a saved model in eval mode; a pretrained decoder comes from ``cache_dir``."""
    saved = read_json(directory / "config.json")
    model = HyMiRecModel(
        LLMConfig.model_validate(saved["llm"]), Variant(saved["variant"]), CoarseConfig.model_validate(saved["coarse"]),
        saved["num_items"], saved["embedding_dim"], cache_dir,
    )
    missing, unexpected = model.load_state_dict(torch.load(directory / "model.pt", weights_only=True), strict=False)
    if unexpected or set(missing) != model.frozen_pretrained_keys():
        raise ValueError(f"{directory}/model.pt does not match its config: missing {missing}, unexpected {unexpected}")
    return model.eval()


def training_positions(sequences: list[np.ndarray], samples_per_user: int, seed: int) -> list[tuple[np.ndarray, int]]:
    """(sequence, cut) training samples: the input is sequence[:cut], the targets follow it.

    Each user contributes its last cut (the whole training history predicting its last item: the
    situation at serving time) and up to ``samples_per_user`` - 1 distinct earlier cuts drawn once
    with ``seed``, so every epoch sees the same samples in a new order (resumable, reproducible).
    """
    rng = np.random.default_rng(seed)
    samples = []
    for sequence in sequences:
        last = len(sequence) - 1
        earlier = np.arange(1, last)
        drawn = rng.choice(earlier, size=min(samples_per_user - 1, len(earlier)), replace=False) if len(earlier) else []
        samples.extend((sequence, int(cut)) for cut in sorted(drawn))
        samples.append((sequence, last))
    return samples


def llm_batch(samples: list[tuple[np.ndarray, int]], window: int) -> LLMBatch:
    """Inputs sequence[:cut]; targets the next ``window`` items, padded with -1."""
    targets = np.full((len(samples), window), -1, dtype=np.int64)
    for row, (sequence, cut) in enumerate(samples):
        following = sequence[cut : cut + window]
        targets[row, : len(following)] = following
    return LLMBatch(histories=[sequence[:cut] for sequence, cut in samples], targets=targets)
