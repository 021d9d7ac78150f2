"""The `gpu_0.5b` preset's shape on one device: throughput, peak memory, a whole step.

On a randomly initialised model of Qwen2.5-0.5B's shape (srpo_mini.standins; 24 layers
unless --layers) in the preset's dtype, with the preset's batch unless told otherwise:

  1. generation   B*G completions of exactly T new tokens (the random model does not stop),
                  generation_batch_size rows per generate() call: completion tokens/s;
  2. log-probs    the no-gradient log-prob pass over that batch, micro-batched: tokens/s;
  3. update       one policy update (optimize_policy: forward, backward, AdamW step);
  4. memory       the peak of each phase (CUDA: max_memory_allocated; CPU: weights and
                  AdamW state plus the peak of torch's allocations, torch.profiler) against
                  `srpo-mini train --plan`'s estimate for the same sizes;
  5. whole steps  `--steps` steps of the real loop (trainer.Run: chat template, verifiers,
                  soft-overlong reward, stages, checkpoints) on the local stand-ins of the
                  preset's datasets (tests/fixtures, ../shared/data/real), per-step time and
                  the process's peak (CUDA allocated, or CPU resident set);
  and, after the measurements, the share of weights that one AdamW step at the preset's
  learning rate changes (bf16 weights round small updates away).

    python benchmarks/bench_gpu.py                       # the preset on cuda (about 10 min)
    python benchmarks/bench_gpu.py --device cpu --dtype float32 --batch 2 --group-size 2 \\
        --max-new-tokens 16 --generation-batch-size 4 --micro-batch-size 4 --steps 2
    python benchmarks/bench_gpu.py --quick               # seconds-scale plumbing check

--output FILE writes the results as Markdown (BENCHMARKS.md material).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srpo_mini.config import (Config, OptimConfig, SamplingConfig, get_preset,  # noqa: E402
                              validate)
from srpo_mini.logprobs import per_token_logps  # noqa: E402
from srpo_mini.machine import describe_machine  # noqa: E402
from srpo_mini.plan import GIB, ModelShape, plan_run  # noqa: E402
from srpo_mini.prompts import R1_ZERO_PREAMBLE, render_prompt  # noqa: E402
from srpo_mini.sampler import generate_rollouts  # noqa: E402
from srpo_mini.standins import (build_qwen25_05b, build_qwen_style_tokenizer,  # noqa: E402
                                offline_config, standin_files, write_standin_model)
from srpo_mini.update import optimize_policy  # noqa: E402

DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}


def parse_args(argv):
    preset = get_preset("gpu_0.5b")
    s = preset.sampling
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=preset.run.dtype, choices=sorted(DTYPES))
    parser.add_argument("--layers", type=int, default=None, help="default: 24, as published")
    parser.add_argument("--batch", type=int, default=s.prompts_per_step, help="B prompts")
    parser.add_argument("--group-size", type=int, default=s.group_size, help="G")
    parser.add_argument("--max-new-tokens", type=int, default=s.max_new_tokens, help="T")
    parser.add_argument("--generation-batch-size", type=int, default=s.generation_batch_size)
    parser.add_argument("--micro-batch-size", type=int, default=preset.optim.micro_batch_size)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--steps", type=int, default=2, help="whole steps of the loop; 0: none")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="1 layer, B=1, G=2, T=4, fp32, cpu")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.device, args.dtype, args.layers, args.batch, args.group_size = "cpu", "float32", 1, 1, 2
        args.max_new_tokens, args.generation_batch_size, args.micro_batch_size = 4, 2, 2
        args.steps = 2
    return args


def prompts_for(count: int) -> list[str]:
    """`count` GSM8K questions of the real test set (chat-rendered later)."""
    from srpo_mini.data.adapters import load_hub_dataset

    files = standin_files(ROOT)
    problems = load_hub_dataset(files[("openai/gsm8k", "train")], adapter="gsm8k",
                                split="train", limit=count)
    return problems


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def phase(device, resident_bytes: int, fn):
    """(seconds, peak bytes, result) of `fn()`; the peak as module docstring item 4."""
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        result = fn()
        sync(device)
        return time.perf_counter() - started, torch.cuda.max_memory_allocated(device), result
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        current += event.nbytes()
        peak = max(peak, current)
    return seconds, resident_bytes + peak, result


def tensor_bytes(model, optimizer) -> int:
    tensors = {id(p): p for p in model.parameters()}
    tensors.update({id(v): v for state in optimizer.state.values() for v in state.values()
                    if torch.is_tensor(v)})
    return sum(t.nbytes for t in tensors.values())


def micro_benchmarks(args, device, dtype, config) -> dict:
    """Phases 1-4 and the changed-weights share, on one random-init model."""
    problems = prompts_for(args.batch)
    tokenizer = build_qwen_style_tokenizer([R1_ZERO_PREAMBLE] + [p.prompt for p in problems])
    prompts = [render_prompt(p, "chat", tokenizer) for p in problems]
    prompt_tokens = max(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    started = time.perf_counter()
    model = build_qwen25_05b(args.layers, dtype=dtype).to(device)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    model.train()
    build_seconds = time.perf_counter() - started
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.lr)
    # AdamW's moments exist from the first step on: allocate them (a step of zero
    # gradients changes nothing), so each phase below is measured as in a running job.
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    # The random model never stops, so every row generates exactly T tokens; no EOS.
    gen_seconds, gen_peak, rollout = phase(device, tensor_bytes(model, optimizer), lambda: (
        generate_rollouts(model, tokenizer, prompts, group_size=args.group_size,
                          max_new_tokens=args.max_new_tokens, seed=0,
                          generation_batch_size=args.generation_batch_size)))
    completion_tokens = int(rollout.completion_mask.sum())

    def logps():
        with torch.no_grad():
            return per_token_logps(model, rollout, micro_batch_size=args.micro_batch_size)

    logp_seconds, logp_peak, _ = phase(device, tensor_bytes(model, optimizer), logps)
    advantages = torch.randn(len(rollout), generator=torch.Generator().manual_seed(0))
    update_config = Config(optim=OptimConfig(micro_batch_size=args.micro_batch_size),
                           sampling=SamplingConfig(max_new_tokens=args.max_new_tokens))
    update_seconds, update_peak, history = phase(
        device, tensor_bytes(model, optimizer),
        lambda: optimize_policy(model, optimizer, rollout, advantages, update_config))
    # After the measurements: what one step at the preset's learning rate changes.
    # (A sample: the first million values of each tensor, to spare a copy of the weights.)
    parameters = list(model.parameters())
    before = [p.detach().flatten()[:1_000_000].clone() for p in parameters]
    for group in optimizer.param_groups:
        group["lr"] = get_preset("gpu_0.5b").optim.lr
    optimize_policy(model, optimizer, rollout, advantages, update_config)
    changed = sum(int((p.detach().flatten()[:len(b)] != b).sum())
                  for p, b in zip(parameters, before))
    total = sum(b.numel() for b in before)
    config.sampling.max_new_tokens = args.max_new_tokens
    plan = plan_run(config, ModelShape.from_hf_config(model.config), prompt_tokens=prompt_tokens,
                    dtype=args.dtype)
    return {"build_seconds": build_seconds, "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "gen_seconds": gen_seconds,
            "gen_peak": gen_peak, "logp_seconds": logp_seconds, "logp_peak": logp_peak,
            "update_seconds": update_seconds,
            "update_peak": update_peak, "loss": history[-1]["loss"],
            "changed_share": changed / total, "plan": plan,
            "parameters": sum(p.numel() for p in parameters)}


def whole_steps(args, device, workdir: Path, config) -> dict:
    """Phase 5: `args.steps` steps of trainer.Run on the stand-ins; returns times, peak."""
    from srpo_mini.metrics import read_metrics
    from srpo_mini.trainer import Run

    files = standin_files(ROOT)
    texts = [R1_ZERO_PREAMBLE] + [path.read_text(encoding="utf-8") for path in files.values()]
    started = time.perf_counter()
    model_dir = write_standin_model(workdir / "model", texts, num_layers=args.layers,
                                    dtype=DTYPES[args.dtype])
    write_seconds = time.perf_counter() - started
    offline_config(config, model_dir, files)
    config.run.output_dir, config.run.device = str(workdir / "runs"), str(device)
    if args.threads is not None:
        config.run.threads = args.threads
    config.data.eval_limit = 2
    config.stages[0].steps = max(1, args.steps // 2)
    config.stages[1].steps = max(1, args.steps - config.stages[0].steps)
    config.eval.every_steps = 0
    config.checkpoint.every_steps = 0            # a checkpoint at the switch and the end
    config.logging.progress = False
    validate(config)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    run = Run(config)
    setup_seconds = time.perf_counter() - started
    run.train()                      # evaluates before and after, saves at the end
    steps = [r for r in read_metrics(run.run_dir / "metrics.jsonl") if "reward" in r]
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"write_seconds": write_seconds, "setup_seconds": setup_seconds, "steps": steps,
            "peak": peak}


def report(args, device, micro: dict, whole: dict | None) -> str:
    plan = micro["plan"]
    name = describe_machine(device) + (f"; {torch.get_num_threads()} torch threads"
                                       if device.type == "cpu" else "")
    lines = [
        "### bench_gpu.py",
        "",
        f"Device: {name}; torch {torch.__version__}. Model: Qwen2.5-0.5B shape, "
        f"{plan.shape.num_layers} layers, {micro['parameters']:,} parameters, random init, "
        f"{args.dtype}. B = {args.batch}, G = {args.group_size}, T = {args.max_new_tokens}, "
        f"{args.generation_batch_size} rows per generate(), micro-batches of "
        f"{args.micro_batch_size}, gradient checkpointing "
        f"{'on' if args.gradient_checkpointing else 'off'}; prompts of up to "
        f"{micro['prompt_tokens']} tokens (stand-in tokenizer). Command: "
        f"`python benchmarks/bench_gpu.py {' '.join(sys.argv[1:])}`",
        "",
        "| phase | seconds | tokens/s | peak GiB | plan GiB |",
        "|---|---|---|---|---|",
        f"| generation ({micro['completion_tokens']:,} completion tokens) | "
        f"{micro['gen_seconds']:.2f} | {micro['completion_tokens'] / micro['gen_seconds']:,.0f} | "
        f"{micro['gen_peak'] / GIB:.2f} | {plan.generation_peak / GIB:.2f} |",
        f"| log-prob pass (no gradient) | {micro['logp_seconds']:.2f} | "
        f"{micro['completion_tokens'] / micro['logp_seconds']:,.0f} | "
        f"{micro['logp_peak'] / GIB:.2f} | - |",
        f"| policy update (forward, backward, AdamW) | {micro['update_seconds']:.2f} | "
        f"{micro['completion_tokens'] / micro['update_seconds']:,.0f} | "
        f"{micro['update_peak'] / GIB:.2f} | {plan.update_peak / GIB:.2f} |",
        "",
        f"Peaks include the weights and AdamW's moments. One more update at the preset's learning rate "
        f"({get_preset('gpu_0.5b').optim.lr:g}) changed {100 * micro['changed_share']:.2f}% "
        f"of the {args.dtype} weights (the first million values of each tensor).",
    ]
    if whole is not None:
        lines += ["", f"Whole steps of the loop (trainer.Run on the stand-ins; stand-in model "
                      f"written in {whole['write_seconds']:.1f} s, Run set up in "
                      f"{whole['setup_seconds']:.1f} s; evaluation before and after, "
                      f"checkpoints at the stage switch and the end; peak "
                      f"{'allocated' if device.type == 'cuda' else 'resident set'} "
                      f"{whole['peak'] / GIB:.2f} GiB):", "",
                  "| step | stage | wall s | generate s | verify s | train s | completion length "
                  "| reward |", "|---|---|---|---|---|---|---|---|"]
        for r in whole["steps"]:
            lines.append(f"| {r['step']} | {r['stage']} | {r['time_step']:.1f} | "
                         f"{r['time_generate']:.1f} | {r['time_verify']:.1f} | "
                         f"{r['time_train']:.1f} | {r['completion_length']:.1f} | "
                         f"{r['reward']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    from srpo_mini.model import check_dtype

    check_dtype(device, dtype)
    config = get_preset("gpu_0.5b")
    config.run.dtype = args.dtype
    s = config.sampling
    s.prompts_per_step, s.group_size, s.max_new_tokens = args.batch, args.group_size, \
        args.max_new_tokens
    s.generation_batch_size = args.generation_batch_size
    config.optim.micro_batch_size = args.micro_batch_size
    config.model.gradient_checkpointing = args.gradient_checkpointing
    config.rewards.overlong_buffer = min(config.rewards.overlong_buffer, args.max_new_tokens - 1)
    micro = micro_benchmarks(args, device, dtype, config)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    whole = None
    if args.steps > 0:
        with tempfile.TemporaryDirectory() as workdir:
            whole = whole_steps(args, device, Path(workdir), config)
    text = report(args, device, micro, whole)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
