"""Which settings key a training checkpoint: how the model trains, not which companions train beside it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hymirec.config import HyMiRecConfig, Variant
from hymirec.stages.llm_model import variant_fingerprint
from hymirec.training.loop import fingerprint


def _with(config: HyMiRecConfig, section: str, **update) -> HyMiRecConfig:
    return config.model_copy(update={section: getattr(config, section).model_copy(update=update)})


def test_a_variant_keeps_its_checkpoint_when_other_variants_are_added_or_dropped() -> None:
    config = HyMiRecConfig()
    fewer = _with(config, "llm", variants=(Variant.HYMIREC,))
    assert variant_fingerprint(config, Variant.HYMIREC) == variant_fingerprint(fewer, Variant.HYMIREC)
    assert variant_fingerprint(config, Variant.HYMIREC) != variant_fingerprint(config, Variant.K1)
    assert variant_fingerprint(config, Variant.HYMIREC) != variant_fingerprint(_with(config, "llm", max_epochs=99), Variant.HYMIREC)
    # the coarse model's twin is a companion too; its settings are not
    assert variant_fingerprint(config, Variant.HYMIREC) == variant_fingerprint(_with(config, "coarse", train_exact_twin=True), Variant.HYMIREC)
    assert variant_fingerprint(config, Variant.HYMIREC) != variant_fingerprint(_with(config, "coarse", max_length=7), Variant.HYMIREC)


@pytest.mark.parametrize(
    ("section", "companions"),
    [
        ("sasrec", {"train_text_twin": False, "full_history_length": 2314}),
        ("coarse", {"train_exact_twin": True}),
        ("comirec", {"enabled": False}),
    ],
)
def test_a_baseline_keeps_its_checkpoint_when_its_companions_change(section: str, companions: dict) -> None:
    """Stopping a run to drop sasrec_text must resume sasrec's training, not start it again."""
    config = HyMiRecConfig()
    settings: BaseModel = getattr(config, section)
    assert set(companions) == settings.companion_fields
    key = fingerprint(config.seed, settings, config.evaluation, "model")
    assert fingerprint(config.seed, settings.model_copy(update=companions), config.evaluation, "model") == key
    assert fingerprint(config.seed, settings.model_copy(update={"learning_rate": 0.5}), config.evaluation, "model") != key
    assert fingerprint(config.seed + 1, settings, config.evaluation, "model") != key
