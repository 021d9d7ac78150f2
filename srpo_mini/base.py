"""The offline tiny base model: a small Qwen2 given a short cold start that mixes direct
answers with worked ones.

RL with verifiable rewards sharpens what a model can already sometimes do; it cannot
start from zero reward. SRPO starts from Qwen2.5-32B; the tiny world starts from a
~1M-parameter Qwen2 (`srpo_mini.model.build_tiny_model`, byte-level tokenizer) that a
cold-start SFT brings to partial competence on the tiny world's train side
(`srpo_mini.data.synthetic`), in the prompt format RL will use:

    prompt     render_prompt(problem, "compact")     "User: Compute 7+15+9.\nAssistant:"
    worked     " <think> 7+15=22, 22+9=31 </think> <answer> \boxed{31} </answer>" + EOS
    direct     " <think>  </think> <answer> \boxed{31} </answer>" + EOS

Each math example is worked out with probability `worked_share` (default 0.3) and answered
directly otherwise, whatever its level; code examples always carry their short plan. No
wrong answer is written into the data. The model therefore learns both habits and picks
one per sample; a direct answer to a sum of three or more numbers is mostly wrong because
the model cannot add them in one token, a worked one mostly right. That is the room RL
has: to learn that working it out pays, so that length and accuracy rise together (the
R1-Zero effect in miniature).

The loss is the mean next-token cross-entropy over completion tokens (prompt and padding
masked), Muon (`srpo_mini.muon`) for the transformer blocks' matrices and AdamW for the
rest, with linear warmup and cosine decay, for `steps` batches whose domain and level are
drawn by fixed weights.

`make_base` builds the model into a directory (`save_pretrained` of model and tokenizer,
plus `base_info.json`: version, seed, settings, parameter count, SFT time, held-out
accuracy per domain and level). `ensure_tiny_base` returns the cached build, else the one
shipped in the package (`srpo_mini/weights/`), else builds it.

Differences from the paper: SRPO needs no cold start (R1-Zero-style RL from a strong base
model); the mixed SFT only stands in for a pretrained model's short-answer habit.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .data.synthetic import CODE_LEVELS, MATH_LEVELS, Worked, generate, make_tiny_world
from .model import build_tiny_model, count_parameters
from .muon import Muon
from .prompts import format_completion, render_prompt

BASE_VERSION = "tiny-base-v4"  # bump when the data, the cold-start mix or the recipe changes
INFO_FILE = "base_info.json"
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"  # package data: prebuilt bases


@dataclass
class BaseConfig:
    """Model size, SFT recipe and cold-start mix of the tiny base."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 512
    steps: int = 1400
    batch_size: int = 16
    optimizer: str = "muon"  # "muon" (hidden matrices) + AdamW, or "adamw" for all
    lr: float = 3e-3
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    weight_decay: float = 0.0
    worked_share: float = 0.3  # math examples worked out; the rest answered directly
    # Share of SFT batches per (domain, level); harder levels get more examples.
    math_weights: dict = field(default_factory=lambda: {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0})
    code_weights: dict = field(default_factory=lambda: {1: 0.5, 2: 0.5, 3: 0.5})
    pool_per_level: int = 4000  # SFT examples drawn (with repeats) per level
    eval_samples: int = 4  # held-out pass@1 of the finished base: samples per problem
    max_new_tokens: int = 96


def default_cache_dir() -> Path:
    """$SRPO_MINI_CACHE, else ~/.cache/srpo_mini."""
    return Path(os.environ.get("SRPO_MINI_CACHE") or Path.home() / ".cache" / "srpo_mini")


def base_dir_name(seed: int) -> str:
    """The cache entry of one build: `tiny_base-<BASE_VERSION>-seed<seed>`."""
    return f"tiny_base-{BASE_VERSION}-seed{seed}"


def sft_pool(seed: int, config: BaseConfig) -> dict[tuple[str, int], list[Worked]]:
    """Worked examples per (domain, level), all from the train side of the split."""
    pools = {}
    for domain, levels in (("math", MATH_LEVELS), ("code", CODE_LEVELS)):
        for level in levels:
            pools[(domain, level)] = generate(domain, level, config.pool_per_level, seed=seed,
                                              split="train", unique=False, stream="sft")
    return pools


def cold_start_completion(worked: Worked, rng: random.Random,
                          worked_share: float) -> tuple[str, bool]:
    """The SFT completion of an example, worked out or direct; (text, worked out).

    Math examples keep their reasoning with probability `worked_share` and get an empty
    <think> otherwise; code examples always keep their plan. The answer is always the
    gold one. EOS is not included.
    """
    worked_out = worked.problem.domain != "math" or rng.random() < worked_share
    return format_completion(worked.reasoning if worked_out else "", worked.answer), worked_out


def encode_sft_batch(tokenizer, prompts: list[str], completions: list[str]) -> dict:
    """Right-padded input_ids, attention_mask and labels (-100 on prompt and padding).

    Args:
        prompts, completions: B texts each; completions must end with the EOS text.
    Returns:
        dict of (B, L) long tensors: input_ids, attention_mask, labels.
    """
    pairs = [(tokenizer(p, add_special_tokens=False).input_ids,
              tokenizer(c, add_special_tokens=False).input_ids)
             for p, c in zip(prompts, completions)]
    return _pad_pairs(pairs, tokenizer.pad_token_id)


def _pad_pairs(pairs: list[tuple[list[int], list[int]]], pad_id: int) -> dict:
    """(prompt ids, completion ids) pairs -> right-padded (B, L) tensors, prompt unlabelled."""
    L = max(len(p) + len(c) for p, c in pairs)
    input_ids = torch.full((len(pairs), L), pad_id, dtype=torch.long)  # (B, L)
    attention_mask = torch.zeros((len(pairs), L), dtype=torch.long)
    labels = torch.full((len(pairs), L), -100, dtype=torch.long)
    for row, (prompt_ids, completion_ids) in enumerate(pairs):
        n_prompt, n = len(prompt_ids), len(prompt_ids) + len(completion_ids)
        input_ids[row, :n] = torch.tensor(prompt_ids + completion_ids)
        attention_mask[row, :n] = 1
        labels[row, n_prompt:n] = torch.tensor(completion_ids)  # only the completion is learned
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def make_optimizers(model, config: BaseConfig) -> list:
    """Muon for the transformer blocks' weight matrices, AdamW for everything else.

    Muon (Jordan et al. 2024; `srpo_mini.muon`) orthogonalizes each matrix's momentum
    update; on this tiny model it reaches the same SFT loss in about half the steps of
    AdamW, which is what keeps `make-base` within its time budget. Embeddings (tied with
    the output layer), norms and biases stay with AdamW, as Muon prescribes; Muon's update
    is scaled to AdamW's RMS (Liu et al. 2025), so both use the same learning rate. With
    `config.optimizer == "adamw"`, AdamW takes every parameter.
    """
    matrices, others = [], []
    for name, param in model.named_parameters():
        in_blocks = ".layers." in name
        (matrices if in_blocks and param.ndim == 2 else others).append(param)
    use_muon = config.optimizer == "muon"
    adamw = torch.optim.AdamW(others if use_muon else matrices + others, lr=config.lr,
                              betas=(0.9, 0.98), weight_decay=config.weight_decay)
    if not use_muon:
        return [adamw]
    # bf16 Newton-Schulz only where bf16 matmuls are native: on a CPU without them
    # (AVX2 only) they are emulated and the whole SFT step runs about 7x slower.
    on_gpu = matrices[0].device.type == "cuda"
    muon = Muon(matrices, lr=config.lr, weight_decay=config.weight_decay,
                ortho_dtype=torch.bfloat16 if on_gpu else torch.float32)
    return [muon, adamw]


def _lr_at(step: int, config: BaseConfig) -> float:
    """Linear warmup, then cosine decay to lr * min_lr_ratio."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine)


def cold_start_sft(model, tokenizer, *, seed: int = 0, config: BaseConfig | None = None,
                   progress: bool = True) -> dict:
    """Train `model` in place on worked and direct solutions; return SFT statistics.

    Each step draws one (domain, level) by the config's weights, then `batch_size`
    examples of it (one domain per batch keeps padding small), each worked out or direct
    (`cold_start_completion`), and takes one optimizer step (Muon + AdamW) on the
    completion tokens' cross-entropy. Returns: {"steps", "seconds", "final_loss" (mean of
    the last 20 steps), "worked_math" (share of math examples worked out), "tokens"
    (completion tokens trained on)}.
    """
    config = config or BaseConfig()
    rng = random.Random(f"{seed}/sft-order")
    pools = sft_pool(seed, config)
    keys = [("math", level) for level in config.math_weights] + \
           [("code", level) for level in config.code_weights]
    weights = [config.math_weights[level] for level in config.math_weights] + \
              [config.code_weights[level] for level in config.code_weights]
    eos = tokenizer.eos_token
    cache: dict[str, list[int]] = {}  # text -> ids; pools repeat problems and answers

    def ids(text: str) -> list[int]:
        if text not in cache:
            cache[text] = tokenizer(text, add_special_tokens=False).input_ids
        return cache[text]

    optimizers = make_optimizers(model, config)
    model.train()
    losses, tokens = [], 0
    math_examples = worked_math = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, desc="cold-start SFT", unit="step")
    started = time.perf_counter()
    for step in range(config.steps):
        domain, level = rng.choices(keys, weights=weights)[0]
        pairs = []
        for worked in rng.choices(pools[(domain, level)], k=config.batch_size):
            text, worked_out = cold_start_completion(worked, rng, config.worked_share)
            pairs.append((ids(render_prompt(worked.problem, "compact")), ids(text + eos)))
            if domain == "math":
                math_examples += 1
                worked_math += worked_out
        encoded = _pad_pairs(pairs, tokenizer.pad_token_id)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, config)
        loss = model(**encoded).loss  # mean over completion tokens (labels != -100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        tokens += int((encoded["labels"] != -100).sum())
        if bar is not None:
            bar.update(1)
            if step % 25 == 0:
                bar.set_postfix(loss=f"{sum(losses[-25:]) / len(losses[-25:]):.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    return {"steps": config.steps, "seconds": time.perf_counter() - started,
            "final_loss": sum(losses[-20:]) / len(losses[-20:]),
            "worked_math": worked_math / max(1, math_examples), "tokens": tokens}


def _accuracy_summary(result: dict) -> dict:
    """The rates of an evaluation result, without per-problem rows."""
    return {"summary": result["summary"], "levels": result["levels"],
            "settings": result["settings"]}


def make_base(out_dir: str | Path, seed: int = 0, *, config: BaseConfig | None = None,
              evaluate_base: bool = True, progress: bool = True) -> Path:
    """Build the tiny base model into `out_dir`: init, cold-start SFT, held-out evaluation.

    Args:
        out_dir: directory to write (created; existing files are overwritten).
        seed: seeds the weights, the SFT data and order, and the evaluation samples; the
            same seed gives the same weights on the same machine and thread count.
        config: model size and SFT recipe (default `BaseConfig()`).
        evaluate_base: measure held-out greedy accuracy and pass@1 (temperature 1.0) on the
            tiny world's eval split, print them per domain and level, and record them.
        progress: tqdm bars.
    Returns:
        The directory, loadable with `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained`.
    """
    from .evaluate import evaluate, format_report

    config = config or BaseConfig()
    out_dir = Path(out_dir)
    started = time.perf_counter()
    model, tokenizer = build_tiny_model(
        seed=seed, hidden_size=config.hidden_size, num_layers=config.num_layers,
        num_heads=config.num_heads, num_kv_heads=config.num_kv_heads,
        intermediate_size=config.intermediate_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sft = cold_start_sft(model, tokenizer, seed=seed, config=config, progress=progress)
    info = {"version": BASE_VERSION, "seed": seed, "parameters": count_parameters(model),
            "config": asdict(config), "sft": sft, "torch_threads": torch.get_num_threads()}
    if evaluate_base:
        problems = make_tiny_world(seed=seed).problems("eval")
        result = evaluate(model, tokenizer, problems, template="compact",
                          n_samples=config.eval_samples, k_values=[1, config.eval_samples],
                          temperature=1.0, max_new_tokens=config.max_new_tokens,
                          greedy=True, seed=seed, progress=progress)
        info["accuracy"] = _accuracy_summary(result)
        info["eval_seconds"] = sum(result["seconds"].values())
        print(format_report(result))
    info["total_seconds"] = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n")
    return out_dir


def shipped_base(seed: int = 0) -> Path | None:
    """The base shipped inside the package for `seed`, if there is one of `BASE_VERSION`.

    `srpo-mini make-base --out srpo_mini/weights/<base_dir_name(0)>` writes it; a base
    whose recorded version or recipe differs from this module's is not used (and a test
    fails on it), so the package never serves weights that its recipe did not build.
    """
    path = SHIPPED_DIR / base_dir_name(seed)
    if not (path / INFO_FILE).exists():
        return None
    info = json.loads((path / INFO_FILE).read_text())
    same_recipe = info.get("config") == json.loads(json.dumps(asdict(BaseConfig())))
    return path if info.get("version") == BASE_VERSION and same_recipe else None


def ensure_tiny_base(seed: int = 0, *, cache_dir: str | Path | None = None,
                     force: bool = False, config: BaseConfig | None = None,
                     progress: bool = True) -> Path:
    """The tiny base for `seed`: from the cache, else shipped, else built into the cache.

    The cache entry is `<cache_dir>/tiny_base-<BASE_VERSION>-seed<seed>` (cache_dir
    defaults to `default_cache_dir()`); it counts as built when its `base_info.json`
    exists, and a build there (`make-base --force`) takes precedence over the shipped
    one. A custom `config` never uses the shipped base. A build goes to a temporary
    sibling directory renamed into place at the end, so an interrupted build never leaves
    a half-written entry, and of two concurrent builds the second simply reuses the first.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache_dir / base_dir_name(seed)
    if (target / INFO_FILE).exists() and not force:
        return target
    shipped = shipped_base(seed)
    if shipped is not None and not force and config in (None, BaseConfig()):
        return shipped
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    try:
        make_base(staging, seed=seed, config=config, progress=progress)
        if target.exists() and force:
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: keep its build
            if not (target / INFO_FILE).exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
