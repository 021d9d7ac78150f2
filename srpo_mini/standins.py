"""Local stand-ins for what the hub gives the `gpu_0.5b` preset, to run its path offline.

The preset names Qwen/Qwen2.5-0.5B-Instruct and six hub datasets. Without the network,
the same code path runs on files of the same kind:
- the model: a randomly initialised Qwen2 model from Qwen2.5-0.5B's published config
  (`QWEN25_05B`: vocabulary 151936, width 896, 24 layers, 14 query and 2 KV heads, tied
  embeddings), optionally fewer layers (same vocabulary and width) for a fast check;
- the tokenizer: byte-level BPE trained in-process on the run's own text, with
  Qwen's special tokens at Qwen's ids (<|endoftext|> 151643 as pad, <|im_start|> 151644,
  <|im_end|> 151645 as EOS) and a Qwen-style chat template (`QWEN_CHAT_TEMPLATE`);
- the data: local files in the hub datasets' own column layouts, read by the same
  adapters (`offline_config` swaps each `HubDataset.path` for a file).

The weights are random, so the completions are noise: this checks shapes, dtypes,
templates, stopping, memory and time, never accuracy.

Differences from the real checkpoint: the tokenizer's vocabulary is a few thousand
merges learnt from the given text (Qwen's has 151,643 regular tokens), so token counts
per prompt differ from the real model's; the chat template leaves out Qwen's tool-call
branches; the model's generation defaults copy the published `generation_config.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
# Qwen2.5's ids of its special tokens (the same in every Qwen2.5 model).
SPECIAL_IDS = {ENDOFTEXT: 151643, IM_START: 151644, IM_END: 151645}

# Qwen/Qwen2.5-0.5B-Instruct config.json, the fields that shape the model.
QWEN25_05B = dict(
    vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
    num_attention_heads=14, num_key_value_heads=2, hidden_act="silu",
    max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
    tie_word_embeddings=True, use_sliding_window=False, sliding_window=32768,
    max_window_layers=21, attention_dropout=0.0, initializer_range=0.02,
    bos_token_id=151643, eos_token_id=151645, use_cache=True)
# Its generation_config.json: sampling defaults the sampler must ignore (sampler.py).
QWEN25_05B_GENERATION = dict(bos_token_id=151643, pad_token_id=151643,
                             eos_token_id=[151645, 151643], do_sample=True,
                             temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.1)

# Qwen2.5-Instruct's template without the tool-call branches: a system turn (Qwen's
# default one when the messages bring none), the turns, then the assistant's header.
QWEN_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role != 'system' or not loop.first %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


def qwen25_05b_config(num_layers: int | None = None):
    """`Qwen2Config` of Qwen2.5-0.5B-Instruct; `num_layers` keeps vocabulary and width and
    changes only the depth (None = the published 24)."""
    from transformers import Qwen2Config

    values = dict(QWEN25_05B)
    if num_layers is not None:
        values["num_hidden_layers"] = num_layers
        values["max_window_layers"] = min(values["max_window_layers"], num_layers)
    return Qwen2Config(**values)


def build_qwen_style_tokenizer(texts, *, vocab_size: int = 4000):
    """A byte-level BPE tokenizer learnt from `texts`, with Qwen's specials and template.

    Args:
        texts: strings to learn merges from (the prompts the run will render, so they
            tokenize to realistic lengths).
        vocab_size: regular tokens (bytes + merges).
    Returns:
        `PreTrainedTokenizerFast`: EOS <|im_end|>, PAD <|endoftext|>, left padding, the
        three specials at Qwen's ids, `chat_template` set.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(list(texts), trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    # The specials go into the vocabulary at Qwen's ids (far past the merges), then are
    # declared special so that they are never split and are skipped when decoding.
    data = json.loads(core.to_str())
    for token, token_id in SPECIAL_IDS.items():
        data["model"]["vocab"][token] = token_id
        data["added_tokens"].append({"id": token_id, "content": token, "single_word": False,
                                     "lstrip": False, "rstrip": False, "normalized": False,
                                     "special": True})
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(data)), eos_token=IM_END,
        pad_token=ENDOFTEXT, padding_side="left", clean_up_tokenization_spaces=False,
        additional_special_tokens=[IM_START, IM_END])
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    tokenizer.model_max_length = QWEN25_05B["max_position_embeddings"]
    return tokenizer


def build_qwen25_05b(num_layers: int | None = None, *, dtype=torch.bfloat16, seed: int = 0):
    """A randomly initialised Qwen2.5-0.5B-shaped causal LM (see `qwen25_05b_config`)."""
    from transformers import AutoModelForCausalLM, GenerationConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(qwen25_05b_config(num_layers), dtype=dtype)
    model.generation_config = GenerationConfig(**QWEN25_05B_GENERATION)
    return model


def write_standin_model(out_dir, texts, *, num_layers: int | None = None,
                        dtype=torch.bfloat16, seed: int = 0,
                        stop_probability: float | None = None) -> Path:
    """Save a random-init Qwen2.5-0.5B-shaped model and a Qwen-style tokenizer to `out_dir`
    (a `save_pretrained` directory that `model.name_or_path` can name).

    texts: for the tokenizer's merges; stop_probability: see `bias_towards_stop` (None =
    leave the random model as it is: it then almost never stops).
    """
    out_dir = Path(out_dir)
    model = build_qwen25_05b(num_layers, dtype=dtype, seed=seed)
    if stop_probability is not None:
        bias_towards_stop(model, stop_probability)
    model.save_pretrained(out_dir)
    build_qwen_style_tokenizer(texts).save_pretrained(out_dir)
    return out_dir


# The preset's hub datasets (id, split) -> files of the same column layout in this
# repository (tests/fixtures) and beside it (../shared/data/real: the real GSM8K test set).
STANDIN_FILES = {
    ("openai/gsm8k", "train"): "../shared/data/real/gsm8k_test.jsonl",
    ("DigitalLearningGmbH/MATH-lighteval", "train"): "tests/fixtures/math/test.jsonl",
    ("google-research-datasets/mbpp", "train"): "tests/fixtures/mbpp/test.jsonl",
    ("openai/gsm8k", "test"): "tests/fixtures/gsm8k/test.jsonl",
    ("HuggingFaceH4/MATH-500", "test"): "tests/fixtures/math500/test.jsonl",
    ("google-research-datasets/mbpp", "test"): "tests/fixtures/mbpp_sanitized/test.jsonl"}


def standin_files(root) -> dict:
    """`STANDIN_FILES` as paths under the repository root `root`."""
    return {key: Path(root) / path for key, path in STANDIN_FILES.items()}


def offline_config(config, model_dir, files: dict) -> None:
    """Point a config's model and hub datasets at local stand-ins, in place.

    Args:
        config: a `Config` (e.g. the `gpu_0.5b` preset).
        model_dir: the directory for `model.name_or_path`.
        files: {(hub dataset id, split): local file in that dataset's column layout};
            every hub dataset of the config must have an entry. Adapters and splits are
            kept, so the adapters read the files as they would read the hub's rows.
    """
    config.model.name_or_path = str(model_dir)
    for part in (config.data.train_hub, config.data.eval_hub):
        for hub in part:
            key = (hub.path, hub.split)
            if key not in files:
                raise KeyError(f"no local file for hub dataset {hub.path} ({hub.split})")
            hub.path = str(files[key])


def bias_towards_stop(model, stop_probability: float = 0.25) -> None:
    """Make a random-init model stop after about 1 / `stop_probability` tokens, in place.

    A random model almost never samples a stop token (2 ids of 151,936), so every
    completion runs to max_new_tokens, every group's rewards tie and every advantage is 0.
    Here the last layer's value bias gets a large constant vector: attention weights sum
    to 1, so the bias passes through attention unchanged and every position's final hidden
    state points along one direction c. The stop tokens' (tied) embeddings are then set
    along c, scaled so that their logits stand log(odds) above the others'.

    Args:
        model: a Qwen2-style causal LM with tied embeddings and a value bias.
        stop_probability: the wanted chance that the next token is a stop token.
    """
    config = model.config
    attention = model.model.layers[-1].self_attn
    head_dim = config.hidden_size // config.num_attention_heads
    groups = config.num_attention_heads // config.num_key_value_heads
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        value_bias = torch.randn(config.num_key_value_heads * head_dim)
        # The direction that the bias adds to every position: o_proj of the bias, each KV
        # head's value repeated for the query heads that share it (GQA).
        repeated = value_bias.view(-1, 1, head_dim).expand(-1, groups, -1).reshape(-1)
        direction = attention.o_proj.weight.float() @ repeated  # (hidden,)
        # Scale it to 30x the typical hidden-state norm so it dominates after RMSNorm.
        scale = 30 * config.hidden_size ** 0.5 / direction.norm()
        attention.v_proj.bias.copy_((value_bias * scale).to(attention.v_proj.bias.dtype))
        unit = direction / direction.norm()
        embeddings = model.get_input_embeddings().weight
        # After RMSNorm the hidden state is about sqrt(hidden) * unit, so a token's logit is
        # sqrt(hidden) * (unit . embedding): N(0, (sqrt(hidden) * std)^2) for the others.
        others = embeddings.float() @ unit * config.hidden_size ** 0.5  # (V,) their logits
        stop_ids = [SPECIAL_IDS[IM_END], SPECIAL_IDS[ENDOFTEXT]]
        rest = torch.logsumexp(others, dim=0)
        odds = stop_probability / (1 - stop_probability) / len(stop_ids)
        logit = rest + torch.log(torch.tensor(odds))
        for token_id in stop_ids:
            embeddings[token_id] = (unit * logit / config.hidden_size ** 0.5).to(embeddings.dtype)
