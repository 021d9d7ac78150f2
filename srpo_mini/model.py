"""Loading causal LMs, and building the offline tiny model and its tokenizer.

Any Hugging Face causal LM loads through `load_model` / `load_tokenizer` by hub name or
local directory: float32 on CPU, bfloat16 on GPU, a pad token guaranteed and left padding
set (generation appends on the right, so prompts must be flush against it).

The offline tiny world needs no download: `build_tokenizer` makes a byte-level tokenizer
in-process (every byte is a token, plus whole tokens for the template tags and a few
frequent code and LaTeX pieces, so sequences stay short), and `build_tiny_model` makes a
small Qwen2-architecture model from a config with random weights. `srpo-mini make-base`
(see `srpo_mini.base`) then gives it a short cold start so RL has something to sharpen.
Both save with `save_pretrained` and load back with `AutoTokenizer` /
`AutoModelForCausalLM.from_pretrained`.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from .tags import TAGS

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
# Multi-character pieces that the tiny world's completions use constantly; one token each
# keeps completions short without training a BPE (which would tie the vocabulary to data).
EXTRA_PIECES = ("\\boxed{", "```python\n", "```", "def ", "return ", "print(", "input()",
                "int(", "    ", "\\frac{")


def build_tokenizer():
    """A deterministic byte-level tokenizer built in-process (no download).

    Returns a `PreTrainedTokenizerFast` with 256 byte tokens, the template tags and
    `EXTRA_PIECES` as whole tokens, EOS and PAD specials, and left padding.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_to_char = pre_tokenizers.ByteLevel.alphabet()
    vocab = {char: i for i, char in enumerate(sorted(byte_to_char))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], ignore_merges=False))
    # use_regex=False: no GPT-2 word split needed when there are no merges.
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS_TOKEN,
                                        pad_token=PAD_TOKEN, padding_side="left",
                                        clean_up_tokenization_spaces=False)
    tokenizer.add_tokens(list(TAGS) + list(EXTRA_PIECES))
    tokenizer.model_max_length = 2048
    return tokenizer


def tiny_config(vocab_size: int, *, hidden_size: int = 192, num_layers: int = 4,
                num_heads: int = 6, num_kv_heads: int = 2, intermediate_size: int = 512,
                max_positions: int = 512, eos_token_id: int | None = None,
                pad_token_id: int | None = None):
    """A small `Qwen2Config` (grouped-query attention, RoPE, SwiGLU, RMSNorm)."""
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size, max_position_embeddings=max_positions,
        tie_word_embeddings=True, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
        bos_token_id=None, use_cache=True,
    )


def build_tiny_model(tokenizer=None, *, seed: int = 0, **config_overrides):
    """A randomly initialised tiny Qwen2 causal LM (float32) and its tokenizer.

    Args:
        tokenizer: defaults to `build_tokenizer()`.
        seed: torch seed for the initial weights (same seed, same weights).
        **config_overrides: passed to `tiny_config` (hidden_size, num_layers, ...).
    Returns:
        (model, tokenizer)
    """
    from transformers import AutoModelForCausalLM

    tokenizer = tokenizer or build_tokenizer()
    config = tiny_config(len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **config_overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device | str) -> torch.dtype:
    """bfloat16 on GPU, float32 on CPU (CPU bf16 matmuls are slow and lossy)."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def check_dtype(device: torch.device | str, dtype: torch.dtype) -> None:
    """Raise ValueError, naming the device and the alternatives, when `device` cannot
    compute in `dtype`; called before any weights load.

    bf16 needs a GPU of compute capability 8.0 or more (Ampere); CPUs run it (emulated,
    slowly, where they lack bf16 instructions); float16 and float32 run everywhere.
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"run.device={device} but CUDA is not available here; use "
                             "run.device=cpu (or auto)")
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            major, minor = torch.cuda.get_device_capability(device)
            raise ValueError(
                f"run.dtype=bfloat16 is not supported on {device.type} "
                f"({torch.cuda.get_device_name(device)}, compute capability {major}.{minor}; "
                "bf16 needs 8.0 or more): use run.dtype=float16 (risks overflow in the "
                "log-probs) or run.dtype=float32 (twice the memory)")


def _resolve_source(name_or_path: str | Path) -> str:
    """A local directory as a path string, or a hub id; a missing local path fails here.

    Something that can only be a path (starts with ".", "/" or "~", or has more than one
    "/" or a backslash) and does not exist raises `FileNotFoundError` instead of being
    sent to the hub as a model name.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return str(path)
    if isinstance(name_or_path, Path) or text.startswith((".", "/", "~")) \
            or text.count("/") > 1 or "\\" in text:
        raise FileNotFoundError(f"model directory not found: {path}")
    return text


def _from_hub(loader, source: str, **kwargs):
    """`loader.from_pretrained(source)`, with a clear error when `source` is neither a
    local directory nor a model the hub can provide (offline, or no such model)."""
    try:
        return loader.from_pretrained(source, **kwargs)
    except OSError as err:
        if Path(source).exists():
            raise
        raise OSError(f"{source!r} is not a local directory, and loading it from the "
                      f"Hugging Face hub failed: {err}") from err


def load_tokenizer(name_or_path: str | Path):
    """Any HF tokenizer, with a pad token guaranteed and left padding for generation."""
    from transformers import AutoTokenizer

    tokenizer = _from_hub(AutoTokenizer, _resolve_source(name_or_path))
    if tokenizer.pad_token is None:
        # Reusing EOS as PAD is safe here: the completion mask is built from the first
        # EOS, not from pad ids (see sampler.py).
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_model(name_or_path: str | Path, *, device: torch.device | str | None = None,
               dtype: torch.dtype | None = None, gradient_checkpointing: bool = False):
    """Any HF causal LM by hub name or local directory, ready for RL.

    Args:
        name_or_path: hub id (needs the network) or a local `save_pretrained` directory;
            a path that does not exist raises `FileNotFoundError`.
        device: defaults to `default_device()`.
        dtype: defaults to `default_dtype(device)` (bf16 on GPU, fp32 on CPU).
        gradient_checkpointing: trade compute for activation memory.
    Returns:
        (model, tokenizer), the model on `device`.
    """
    from transformers import AutoModelForCausalLM

    source = _resolve_source(name_or_path)
    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or default_dtype(device)
    check_dtype(device, dtype)
    tokenizer = load_tokenizer(source)
    model = _from_hub(AutoModelForCausalLM, source, dtype=dtype)
    model.to(device)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model, tokenizer


# Forward-pass plumbing shared by the sampler and the log-prob scorer, so that both run
# the model the way generate() does (same positions, same cache handling).


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions as generate() counts them: from each row's first real token, (n, L)."""
    return (attention_mask.long().cumsum(dim=1) - 1).masked_fill(attention_mask == 0, 0)


def last_logits_kwargs(model, count: int) -> dict:
    """`{"logits_to_keep": count}` when the model's forward takes it (only the last
    `count` positions' logits are computed), else {} (all positions)."""
    return {"logits_to_keep": count} \
        if "logits_to_keep" in inspect.signature(model.forward).parameters else {}


def cache_keyword(model) -> str:
    """The KV-cache argument's name in the model's forward (generate() takes it too):
    `cache` (transformers >= 5) or `past_key_values` (earlier)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"


def output_cache(output):
    """The KV cache of a model or generate() output (None if the model returned none)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


def prefill(model, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """One forward pass over left-padded prompts that keeps their KV cache and computes
    only the last position's logits.

    Args:
        input_ids, attention_mask: (U, P).
    Returns:
        the model output: `.logits` (U, 1, V) where the model takes `logits_to_keep`
        (else (U, P, V)), and its cache (`output_cache`).
    """
    return model(input_ids=input_ids, attention_mask=attention_mask,
                 position_ids=position_ids(attention_mask), use_cache=True,
                 **last_logits_kwargs(model, 1))


def copy_cache_to_rows(output, rows: torch.Tensor):
    """The KV cache of a `prefill` over U prompts, copied to the n rows that continue them.

    Args:
        output: the prefill's output.
        rows: (n,) which prompt each row continues.
    Returns:
        the cache, now (n, ...), or None when the model returned no cache or its cache
        cannot select rows (the caller then runs without a shared prefill).
    """
    cache = output_cache(output)
    if cache is None or not hasattr(cache, "batch_select_indices"):
        return None
    cache.batch_select_indices(rows)  # (U, ...) -> (n, ...), in place
    return cache


def count_parameters(model) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
