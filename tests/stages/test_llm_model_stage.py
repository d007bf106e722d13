"""Stage llm_model: which settings key a variant's checkpoint."""

from __future__ import annotations

from hymirec.config import HyMiRecConfig, Variant
from hymirec.stages.llm_model import variant_fingerprint


def test_a_variant_keeps_its_checkpoint_when_other_variants_are_added_or_dropped() -> None:
    config = HyMiRecConfig()
    fewer = config.model_copy(update={"llm": config.llm.model_copy(update={"variants": (Variant.HYMIREC,)})})
    assert variant_fingerprint(config, Variant.HYMIREC) == variant_fingerprint(fewer, Variant.HYMIREC)
    assert variant_fingerprint(config, Variant.HYMIREC) != variant_fingerprint(config, Variant.K1)
    longer = config.model_copy(update={"llm": config.llm.model_copy(update={"max_epochs": 99})})
    assert variant_fingerprint(config, Variant.HYMIREC) != variant_fingerprint(longer, Variant.HYMIREC)
