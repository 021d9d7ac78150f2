"""The offline tiny base model: a small Qwen2 given a short, deliberately noisy cold start.

RL with verifiable rewards sharpens what a model can already sometimes do; it cannot
start from zero reward. SRPO starts from Qwen2.5-32B; the tiny world starts from a
~1M-parameter Qwen2 (`srpo_mini.model.build_tiny_model`, byte-level tokenizer) that a
cold-start SFT brings to partial competence on the tiny world's train side
(`srpo_mini.data.synthetic`), in the prompt format RL will use:

    prompt      render_prompt(problem, "compact")       "User: Compute 3+4*5.\\nAssistant:"
    completion  format_completion(reasoning, answer) + EOS
                " <think> 4*5=20, 3+20=23 </think> <answer> \\boxed{23} </answer><|endoftext|>"

The loss is the mean next-token cross-entropy over completion tokens (prompt and padding
masked), Muon for the transformer blocks' matrices and AdamW for the rest, with linear
warmup and cosine decay, for `steps` batches whose domain and level are drawn by fixed
weights.

The noise rule (why the base is unsure rather than incapable). Each SFT example,
independently with probability `slip_rate` (default 0.45), has its final answer replaced by
one of its plausible slips, chosen uniformly: off by one (+1 or -1), or the sign flipped
where the level has negative numbers; for a fraction, its numerator off by one; for a
program, its constant off by one. The <think> reasoning always stays correct. The model
therefore learns to compute and then, at the answer, to copy the result with a
`slip_rate` chance of a slip: sampled at temperature 1 it is wrong about that often even
where its reasoning is right, while its greedy decode mostly copies correctly (every answer
has two or three slips, so the correct copy, at 0.55, stays more likely than any one slip,
at most 0.225). RL's group-relative advantage rewards exactly the copies, so a short RL
run can close much of the gap between sampled pass@1 and greedy accuracy, on held-out
problems too, since the slip is the same habit on every problem.

`make_base` builds the model into a directory (`save_pretrained` of model and tokenizer,
plus `base_info.json`: version, seed, settings, parameter count, SFT time, held-out
accuracy per domain and level). `ensure_tiny_base` returns a cached build, keyed by
`BASE_VERSION` and the seed, building it first when missing.

Differences from the paper: SRPO needs no cold start (R1-Zero-style RL from a strong base
model); the noisy SFT only stands in for a pretrained model's uncertain competence.
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
from .prompts import format_completion, render_prompt

BASE_VERSION = "tiny-base-v3"  # bump when the data, the noise rule or the recipe changes
INFO_FILE = "base_info.json"


@dataclass
class BaseConfig:
    """Model size, SFT recipe and noise of the tiny base (defaults: the tuned recipe)."""

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
    slip_rate: float = 0.45
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


def noisy_completion(worked: Worked, rng: random.Random, slip_rate: float) -> tuple[str, bool]:
    """The SFT completion of a worked example under the noise rule; (text, slipped).

    With probability `slip_rate` (and when the example has slips) the answer is one of its
    slips, chosen uniformly; the reasoning is kept as is. EOS is not included.
    """
    slipped = bool(worked.slips) and rng.random() < slip_rate
    answer = rng.choice(worked.slips) if slipped else worked.answer
    return format_completion(worked.reasoning, answer), slipped


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

    Muon (Jordan et al. 2024) orthogonalizes each matrix's momentum update; on this tiny
    model it reaches the same SFT loss in about half the steps of AdamW, which is what
    keeps `make-base` within its time budget. Embeddings (tied with the output layer),
    norms and biases stay with AdamW, as Muon prescribes. With
    `adjust_lr_fn="match_rms_adamw"` (Liu et al. 2025, "Muon is Scalable for LLM
    Training") both use the same learning rate. Without `torch.optim.Muon` (torch < 2.9)
    or with `config.optimizer == "adamw"`, AdamW takes every parameter.
    """
    matrices, others = [], []
    for name, param in model.named_parameters():
        in_blocks = ".layers." in name
        (matrices if in_blocks and param.ndim == 2 else others).append(param)
    use_muon = config.optimizer == "muon" and hasattr(torch.optim, "Muon")
    adamw = torch.optim.AdamW(others if use_muon else matrices + others, lr=config.lr,
                              betas=(0.9, 0.98), weight_decay=config.weight_decay)
    if not use_muon:
        return [adamw]
    muon = torch.optim.Muon(matrices, lr=config.lr, weight_decay=config.weight_decay,
                            adjust_lr_fn="match_rms_adamw")
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
    """Train `model` in place on noisy worked solutions; return SFT statistics.

    Each step draws one (domain, level) by the config's weights, then `batch_size`
    examples of it (one domain per batch keeps padding small), applies the noise rule, and
    takes one optimizer step (Muon + AdamW) on the completion tokens' cross-entropy.
    Returns: {"steps", "seconds", "final_loss" (mean of the last 20 steps), "slipped"
    (fraction of examples given a slip), "tokens" (completion tokens trained on)}.
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
    losses, slipped, tokens = [], 0, 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, desc="cold-start SFT", unit="step")
    started = time.perf_counter()
    for step in range(config.steps):
        domain, level = rng.choices(keys, weights=weights)[0]
        pairs = []
        for worked in rng.choices(pools[(domain, level)], k=config.batch_size):
            text, was_slipped = noisy_completion(worked, rng, config.slip_rate)
            pairs.append((ids(render_prompt(worked.problem, "compact")), ids(text + eos)))
            slipped += was_slipped
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
            "slipped": slipped / (config.steps * config.batch_size), "tokens": tokens}


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


def ensure_tiny_base(seed: int = 0, *, cache_dir: str | Path | None = None,
                     force: bool = False, config: BaseConfig | None = None,
                     progress: bool = True) -> Path:
    """The cached tiny base for `seed`, built first if missing (or if `force`).

    The cache entry is `<cache_dir>/tiny_base-<BASE_VERSION>-seed<seed>` (cache_dir
    defaults to `default_cache_dir()`); it counts as built when its `base_info.json`
    exists. A build goes to a temporary sibling directory renamed into place at the end,
    so an interrupted build never leaves a half-written entry, and of two concurrent
    builds the second simply reuses the first.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache_dir / base_dir_name(seed)
    if (target / INFO_FILE).exists() and not force:
        return target
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


def cli_make_base(args) -> int:
    """`srpo-mini make-base`: build (or, in the cache, reuse) the tiny base and report it."""
    started = time.perf_counter()
    if args.out is None:
        cached = (default_cache_dir() / base_dir_name(args.seed) / INFO_FILE).exists()
        path = ensure_tiny_base(seed=args.seed, force=args.force)
        if cached and not args.force:
            info = json.loads((path / INFO_FILE).read_text())
            print(f"reusing {path} (built in {info.get('total_seconds', 0):.0f} s; "
                  "--force rebuilds)")
            if "accuracy" in info:
                from .evaluate import format_report

                print(format_report(info["accuracy"]))
            return 0
    else:
        path = make_base(args.out, seed=args.seed)
    info = json.loads((path / INFO_FILE).read_text())
    print(f"tiny base: {path}\n  {info['parameters']:,} parameters, SFT "
          f"{info['sft']['seconds']:.1f} s ({info['sft']['steps']} steps), total "
          f"{time.perf_counter() - started:.1f} s")
    return 0
