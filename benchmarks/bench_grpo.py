"""Benchmark of the GRPO core: sampler throughput, log-prob pass and one policy update.

Measures, on a random-init model built from a config (no download):
  1. sampler: completion tokens per second of `generate_rollouts` (all rows at once, and
     in generation batches of a quarter of the rows);
  2. log-prob pass: seconds for `per_token_logps` over the rollout batch, next to a naive
     pass that asks for logits at every position and takes a full log-softmax, with the
     largest (rows, positions, vocab) tensor each one builds;
  3. update: seconds for one `optimize_policy` step (forward + backward + AdamW).
Each figure is the median of --repeats runs; the variants are timed in the same process,
interleaved, so their ratio is fair on a shared machine.

    python benchmarks/bench_grpo.py                        # tiny model, 2 threads
    python benchmarks/bench_grpo.py --quick                # seconds; what the test runs
    python benchmarks/bench_grpo.py --shape qwen2.5-0.5b --device cuda --dtype bfloat16 \\
        --prompts 64 --group-size 8 --max-new-tokens 512  # the GPU figures of the issue

--output FILE writes the results as a Markdown section (BENCHMARKS.md material).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from srpo_mini.logprobs import per_token_logps
from srpo_mini.machine import describe_machine
from srpo_mini.model import build_tokenizer, count_parameters, tiny_config
from srpo_mini.sampler import generate_rollouts
from srpo_mini.config import Config, OptimConfig
from srpo_mini.update import optimize_policy

# Model shapes built from a config with random weights (the tokenizer is the tiny one;
# ids it cannot decode are skipped in the texts, which does not affect timing).
SHAPES = {
    "tiny": {},  # srpo_mini.model.tiny_config defaults: hidden 192, 4 layers
    "quick": dict(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2,
                  intermediate_size=64),
    "qwen2.5-0.5b": dict(hidden_size=896, num_layers=24, num_heads=14, num_kv_heads=2,
                         intermediate_size=4864, max_positions=32768,
                         vocab_size=151936),
}

PROMPT_STEMS = ["What is 17 + 25?", "Solve for x: 3x + 4 = 19.", "Hi",
                "Write a program that reads n and prints the sum 1 + 2 + ... + n.",
                "Simplify \\frac{12}{18}.", "Print the squares of 1..5, one per line.",
                "How many primes are below 30?", "Reverse the string read from input()."]


def build_model(shape: str, device: str, dtype: torch.dtype):
    """A random-init Qwen2 model of the given shape and the tiny tokenizer."""
    from transformers import AutoModelForCausalLM

    tokenizer = build_tokenizer()
    overrides = dict(SHAPES[shape])
    vocab_size = overrides.pop("vocab_size", len(tokenizer))
    config = tiny_config(vocab_size, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(device).eval(), tokenizer


def prompts_for(n: int) -> list[str]:
    return [f"User: {PROMPT_STEMS[i % len(PROMPT_STEMS)]}\nAssistant:" for i in range(n)]


def sync(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


@torch.no_grad()
def naive_logps(model, rollout, micro_batch_size: int):
    """Reference pass: logits at every position, full log-softmax, then gather."""
    out = []
    T = rollout.completion_ids.shape[1]
    for start in range(0, len(rollout), micro_batch_size):
        rows = slice(start, start + micro_batch_size)
        input_ids = rollout.input_ids[rows].to(model.device)
        attention_mask = rollout.attention_mask[rows].to(model.device)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        log_probs = torch.log_softmax(logits.float(), dim=-1)[:, -T - 1:-1]
        out.append(log_probs.gather(-1, input_ids[:, -T:].unsqueeze(-1)).squeeze(-1))
    return torch.cat(out)


def run(args) -> dict:
    """Time every measurement at every thread count, interleaved; return medians."""
    dtype = getattr(torch, args.dtype)
    model, tokenizer = build_model(args.shape, args.device, dtype)
    prompts = prompts_for(args.prompts)
    rows = args.prompts * args.group_size
    chunk = max(rows // 4, 1)

    def sample(batch_size):
        return generate_rollouts(model, tokenizer, prompts, group_size=args.group_size,
                                 max_new_tokens=args.max_new_tokens, seed=0,
                                 generation_batch_size=batch_size)

    rollout = sample(None)  # also the warm-up
    tokens = int(rollout.completion_mask.sum())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    advantages = torch.randn(rows, generator=torch.Generator().manual_seed(0))
    config = Config(optim=OptimConfig(micro_batch_size=args.micro_batch_size))
    measurements = {
        "sample_all": lambda: sample(None),
        "sample_chunked": lambda: sample(chunk),
        "logps": lambda: per_token_logps(model, rollout,
                                         micro_batch_size=args.micro_batch_size),
        "logps_naive": lambda: naive_logps(model, rollout, args.micro_batch_size),
        "update": lambda: optimize_policy(model, optimizer, rollout, advantages, config),
    }
    threads = args.threads if args.device == "cpu" else [torch.get_num_threads()]
    times = {(name, n): [] for name in measurements for n in threads}
    for _ in range(args.repeats):
        for n in threads:
            torch.set_num_threads(n)
            for name, fn in measurements.items():
                times[name, n].append(timed(fn, args.device)[0])

    ours = per_token_logps(model, rollout, micro_batch_size=args.micro_batch_size)
    reference = naive_logps(model, rollout, args.micro_batch_size)
    mask = rollout.completion_mask.bool().to(ours.device)
    P, T, V = rollout.prompt_ids.shape[1], rollout.completion_ids.shape[1], model.config.vocab_size
    m = min(args.micro_batch_size, rows)
    return {
        "medians": {key: statistics.median(values) for key, values in times.items()},
        "threads": threads, "tokens": tokens, "rows": rows, "chunk": chunk,
        "P": P, "T": T, "V": V, "parameters": count_parameters(model),
        "max_difference": float((ours[mask] - reference[mask]).abs().max()),
        # largest vocab-wide tensors per micro-batch: ours (m, T+1, V) logits, the naive
        # pass (m, P+T, V) logits and as many again for the log-softmax.
        "ours_elements": m * (T + 1) * V, "naive_elements": 2 * m * (P + T) * V,
    }


def markdown(args, result, command: str) -> str:
    """The results as a Markdown section: setup, a table (one column per thread count)."""
    med, tokens, threads = result["medians"], result["tokens"], result["threads"]
    machine = args.machine or (f"{describe_machine()}; no GPU"
                               if args.device == "cpu" else torch.cuda.get_device_name())
    columns = [f"{n} thread{'s' if n > 1 else ''}" for n in threads] \
        if args.device == "cpu" else [args.device]

    def row(label, name, per_token=True):
        cells = []
        for n in threads:
            seconds = med[name, n]
            cells.append(f"{seconds:.3f} s ({tokens / seconds:,.0f} tok/s)" if per_token
                         else f"{seconds:.3f} s")
        return f"| {label} | " + " | ".join(cells) + " |"

    ratio = " | ".join(f"{med['logps_naive', n] / med['logps', n]:.2f}x" for n in threads)
    lines = [
        "## GRPO core: sampler and log-prob pass",
        "",
        f"Machine: {machine}. torch {torch.__version__}. Command: `{command}`",
        "",
        f"Model: `{args.shape}` shape, random init, {result['parameters']:,} parameters, "
        f"{args.dtype}, vocabulary {result['V']:,}. Batch: {args.prompts} prompts x "
        f"G = {args.group_size} = {result['rows']} rows, prompt width P = {result['P']}, "
        f"completion width T = {result['T']} ({tokens:,} completion tokens), "
        f"log-prob micro-batch {args.micro_batch_size}. Medians of {args.repeats} "
        f"interleaved runs; tok/s counts completion tokens.",
        "",
        "| measurement | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
        row(f"sampler, all {result['rows']} rows in one generate()", "sample_all"),
        row(f"sampler, generation_batch_size {result['chunk']}", "sample_chunked"),
        row("log-prob pass, `per_token_logps`", "logps"),
        row("naive pass (all logits, full log-softmax)", "logps_naive"),
        f"| naive / ours | {ratio} |",
        row("one policy update (fwd + bwd + AdamW)", "update"),
        "",
        f"Largest vocabulary-wide tensor per micro-batch: {result['ours_elements']:,} "
        f"elements for `per_token_logps` (logits of the T + 1 completion positions only) "
        f"against {result['naive_elements']:,} for the naive pass "
        f"({result['naive_elements'] / result['ours_elements']:.1f}x). Largest difference "
        f"between the two passes' log-probs: {result['max_difference']:.1e}.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes, one thread, one repeat: a smoke run of seconds")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1],
                        help="torch CPU thread counts to time, side by side")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--micro-batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--machine", default=None, help="machine description for the report")
    parser.add_argument("--output", default=None, help="write the Markdown section here")
    args = parser.parse_args(argv)
    if args.quick:
        args.shape, args.prompts, args.group_size = "quick", 2, 2
        args.max_new_tokens, args.micro_batch_size, args.repeats = 8, 2, 1
        args.threads = [1]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/bench_grpo.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    result = run(args)
    text = markdown(args, result, command.strip())
    print(text)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
