"""Step throughput of srpo_mini against TRL's `GRPOTrainer`, same model and settings, CPU.

One RL step = sample B prompts x G completions, verify them, compute group advantages
and take one optimizer step on the clipped token-level loss. Both frameworks get:

    model            the tiny base (srpo_mini.base.ensure_tiny_base), two copies of the
                     same weights, float32 on the CPU (--model random: a random-init one)
    prompts          the tiny world's math training problems, `compact` template
    B, G, T          prompts per step, group size, max new tokens; temperature 1.0,
                     top-p 1.0, top-k off
    loss             token-level aggregation (TRL loss_type "dapo"), clip eps 0.2 / 0.28
                     (TRL epsilon / epsilon_high), beta 0 (no reference model), mu 1
                     (TRL num_iterations), std-scaled group advantages with eps 1e-4
                     (TRL scale_rewards "group")
    update           AdamW lr 1e-4 (2 warmup steps, then constant), grad-norm clip 1.0,
                     micro-batches of --micro-batch-size completions (TRL
                     per_device_train_batch_size, with gradient accumulation up to B*G)
    reward           the math verifier: srpo_mini's trainer calls it through
                     `rewards.compute_rewards`, TRL through the TRL-signature
                     `srpo_mini.integrations.trl.math_accuracy_reward`
    threads          torch.set_num_threads(--threads) for both

How the runs alternate: a single `GRPOTrainer.train()` runs; a callback times each TRL step
(`on_step_begin` -> `on_step_end`: generate, score, loss, backward, optimizer step) and,
at its end, runs one srpo_mini step (`trainer.Run.step()`). So the steps go TRL, srpo_mini,
TRL, srpo_mini, ... in one process, both policies training; the first --warmup pairs are
dropped. Reported: the median seconds per step of each, the ratio of the medians and the
median of the per-pair ratios (robust to the load of a shared machine drifting), and
each framework's generate / verify / rest breakdown (TRL's from timing its model's
`generate` and the reward function; the rest is log-probs, loss, backward, AdamW).

    python benchmarks/bench_trl_throughput.py                   # the reported figures
    python benchmarks/bench_trl_throughput.py --quick           # seconds; what the test runs
    python benchmarks/bench_trl_throughput.py --output benchmarks/results/trl_throughput.md

Needs TRL (`pip install trl`); it is not a dependency of srpo_mini.

Differences between the two runs that the settings cannot remove:
- srpo_mini scores a truncated completion 0 without verifying it (rewards.truncation
  = zero); TRL verifies every completion as written.
- TRL computes the token entropy in every training forward pass (a metric); srpo_mini
  only when logging.entropy is on (off here, as by default).
- TRL turns gradient checkpointing on by default; it is off here, as in srpo_mini.
- Prompts are drawn in a different order (srpo_mini's pool vs TRL's shuffled sampler),
  so the two policies see different batches; the median over steps evens this out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from srpo_mini.config import apply_overrides, get_preset  # noqa: E402
from srpo_mini.machine import describe_machine  # noqa: E402
from srpo_mini.model import build_tiny_model, load_model  # noqa: E402
from srpo_mini.trainer import Run  # noqa: E402


@dataclass
class Settings:
    """The settings shared by both frameworks."""

    prompts: int = 8               # B, prompts per step
    group_size: int = 8            # G
    max_new_tokens: int = 80       # T
    temperature: float = 1.0
    micro_batch_size: int = 32     # completions per forward/backward pass
    lr: float = 1e-4
    warmup_steps: int = 2
    clip_eps_low: float = 0.2
    clip_eps_high: float = 0.28
    threads: int = 1
    train_limit: int = 64          # math training problems in the pool
    seed: int = 0


QUICK = {"prompts": 2, "group_size": 4, "max_new_tokens": 16, "micro_batch_size": 4,
         "train_limit": 8}
QUICK_MODEL = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
               "intermediate_size": 64}


# --- the two runs ---------------------------------------------------------------------------
def srpo_run(model_path: str, s: Settings, output_dir: Path) -> Run:
    """srpo_mini's `Run` on the tiny world's math problems with the shared settings."""
    overrides = [
        f"run.output_dir={output_dir}", "run.name=bench", f"run.seed={s.seed}",
        f"run.threads={s.threads}", "run.device=cpu", "run.dtype=float32",
        f"model.name_or_path={model_path}", "model.template=compact",
        f"data.train_limit={s.train_limit}", "data.eval_limit=1",
        f"sampling.group_size={s.group_size}", f"sampling.prompts_per_step={s.prompts}",
        f"sampling.max_new_tokens={s.max_new_tokens}", f"sampling.temperature={s.temperature}",
        "sampling.top_p=1.0", "sampling.top_k=0", "sampling.generation_batch_size=null",
        "loss.aggregation=token", f"loss.clip_eps_low={s.clip_eps_low}",
        f"loss.clip_eps_high={s.clip_eps_high}", "loss.beta=0.0",
        "loss.advantage_scale=std", "loss.adv_eps=1e-4",
        f"optim.lr={s.lr}", f"optim.warmup_steps={s.warmup_steps}", "optim.mu=1",
        "optim.weight_decay=0.0", "optim.max_grad_norm=1.0",
        f"optim.micro_batch_size={s.micro_batch_size}",
        "resampling.strategy=srpo", "logging.progress=false", "logging.entropy=false",
        "stages=[{name: math, domains: [math], switch: steps, steps: 1000000}]",
    ]
    config = apply_overrides(get_preset("tiny"), overrides)
    return Run(config, progress=False)


def timed_generate(model, stop_ids: list[int], log: list[dict]):
    """Wrap `model.generate` to record its seconds and completion tokens per call."""
    generate = model.generate

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        output = generate(*args, **kwargs)
        seconds = time.perf_counter() - started
        prompt_length = kwargs["input_ids"].shape[1] if "input_ids" in kwargs \
            else args[0].shape[1]
        completions = output[:, prompt_length:]
        is_stop = torch.isin(completions, torch.tensor(stop_ids))
        stop_at = torch.where(is_stop.any(dim=1), is_stop.int().argmax(dim=1) + 1,
                              completions.shape[1])           # tokens through the first EOS
        log.append({"seconds": seconds, "tokens": int(stop_at.sum()),
                    "rows": completions.shape[0]})
        return output

    model.generate = wrapper
    return model


def timed_reward(reward_func, log: list[dict]):
    """A TRL reward function that records its seconds and mean reward per call."""
    def reward(prompts, completions, **columns):
        started = time.perf_counter()
        values = reward_func(prompts, completions, **columns)
        scored = [v for v in values if v is not None]
        log.append({"seconds": time.perf_counter() - started,
                    "reward": sum(scored) / max(len(scored), 1)})
        return values

    reward.__name__ = getattr(reward_func, "__name__", "reward")
    return reward


def trl_trainer(model_path: str, problems, s: Settings, output_dir: Path, max_steps: int,
                generate_log: list, reward_log: list):
    """TRL's `GRPOTrainer` with the same settings, on the same problems and weights."""
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from srpo_mini.integrations.trl import make_trl_dataset, math_accuracy_reward
    from srpo_mini.sampler import stop_token_ids

    rows = s.prompts * s.group_size
    if rows % s.micro_batch_size:
        raise ValueError(f"B*G = {rows} must be a multiple of --micro-batch-size")
    model, tokenizer = load_model(model_path, device="cpu", dtype=torch.float32)
    timed_generate(model, stop_token_ids(model, tokenizer), generate_log)
    args = GRPOConfig(
        output_dir=str(output_dir), seed=s.seed, use_cpu=True, bf16=False,
        per_device_train_batch_size=s.micro_batch_size,
        gradient_accumulation_steps=rows // s.micro_batch_size,   # one generation per step
        num_generations=s.group_size, max_completion_length=s.max_new_tokens,
        temperature=s.temperature, top_p=1.0, top_k=0,
        loss_type="dapo", epsilon=s.clip_eps_low, epsilon_high=s.clip_eps_high, beta=0.0,
        scale_rewards="group", num_iterations=1,
        learning_rate=s.lr, lr_scheduler_type="constant_with_warmup",
        warmup_steps=s.warmup_steps, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999,
        max_grad_norm=1.0, gradient_checkpointing=False,   # TRL's default is on; srpo_mini's off
        max_steps=max_steps, save_strategy="no", logging_steps=1,
        report_to=[], disable_tqdm=True, log_level="warning", dataloader_num_workers=0)
    dataset = make_trl_dataset(problems, template="compact")
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=args,
                          train_dataset=dataset,
                          reward_funcs=[timed_reward(math_accuracy_reward, reward_log)])
    trainer.remove_callback(PrinterCallback)   # no metrics dict printed at every step
    return trainer


def alternating_callback(run: Run, s: Settings, trl_steps: list, srpo_steps: list,
                         generate_log: list, reward_log: list):
    """A TrainerCallback timing each TRL step, then running and timing one srpo_mini step."""
    from transformers import TrainerCallback

    class Alternate(TrainerCallback):
        def __init__(self):
            self.begin = self.resumed = self.overhead = None
            self.marks = (0, 0)   # generate / reward calls logged before this step

        def on_step_begin(self, args, state, control, **kwargs):
            torch.set_num_threads(s.threads)
            self.marks = (len(generate_log), len(reward_log))
            self.begin = time.perf_counter()
            # TRL's own loop between steps (logging, data loader), srpo_mini's step excluded.
            self.overhead = self.begin - self.resumed if self.resumed is not None else None

        def on_step_end(self, args, state, control, **kwargs):
            # 1. the TRL step that just ended
            seconds = time.perf_counter() - self.begin
            generated, rewarded = generate_log[self.marks[0]:], reward_log[self.marks[1]:]
            generate = sum(g["seconds"] for g in generated)
            verify = sum(r["seconds"] for r in rewarded)
            tokens = sum(g["tokens"] for g in generated)
            completions = sum(g["rows"] for g in generated)
            trl_steps.append({
                "seconds": seconds, "generate": generate, "verify": verify,
                "rest": seconds - generate - verify, "loop_overhead": self.overhead,
                "tokens": tokens, "completion_length": tokens / max(completions, 1),
                "reward": rewarded[-1]["reward"] if rewarded else None,
                "threads": torch.get_num_threads()})

            # 2. one srpo_mini step
            torch.set_num_threads(s.threads)
            started = time.perf_counter()
            record = run.step()
            seconds = time.perf_counter() - started
            parts = {"generate": record["time_generate"], "verify": record["time_verify"],
                     "train": record["time_train"]}
            srpo_steps.append({
                "seconds": seconds, **parts, "rest": seconds - sum(parts.values()),
                "tokens": record["generated_tokens"],
                "completion_length": record["completion_length"],
                "reward": record["reward"], "threads": torch.get_num_threads()})
            self.resumed = time.perf_counter()
            return control

    return Alternate()


# --- measuring ------------------------------------------------------------------------------
def measure(s: Settings, *, steps: int, warmup: int, model: str = "base",
            work_dir: Path | None = None) -> dict:
    """Run `warmup + steps` alternating pairs; return per-step records and the summary."""
    torch.set_num_threads(s.threads)
    with tempfile.TemporaryDirectory(prefix="bench_trl_", dir=work_dir) as tmp:
        tmp = Path(tmp)
        if model == "base":
            from srpo_mini.base import ensure_tiny_base

            model_path = str(ensure_tiny_base(seed=s.seed, progress=False))
        else:  # a small random-init model, saved so that both load the same weights
            net, tokenizer = build_tiny_model(seed=s.seed, **QUICK_MODEL)
            model_path = str(tmp / "model")
            net.save_pretrained(model_path)
            tokenizer.save_pretrained(model_path)
        run = srpo_run(model_path, s, tmp / "srpo")
        problems = [p for p in run.train_problems if p.domain == "math"]
        trl_steps, srpo_steps, generate_log, reward_log = [], [], [], []
        trainer = trl_trainer(model_path, problems, s, tmp / "trl", warmup + steps,
                              generate_log, reward_log)
        trainer.add_callback(alternating_callback(run, s, trl_steps, srpo_steps,
                                                  generate_log, reward_log))
        load_before = os.getloadavg()
        started = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
    return {"settings": asdict(s), "model": model, "steps": steps, "warmup": warmup,
            "trl": trl_steps, "srpo": srpo_steps, "wall_seconds": wall,
            "load_before": load_before, "load_after": load_after,
            "summary": summarize(trl_steps[warmup:], srpo_steps[warmup:])}


def _median(records: list[dict], key: str) -> float | None:
    values = [r[key] for r in records if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(trl: list[dict], srpo: list[dict]) -> dict:
    """Medians per framework, ratio of medians, and the spread of per-pair ratios."""
    pairs = sorted(a["seconds"] / b["seconds"] for a, b in zip(srpo, trl))
    out = {"pairs": len(pairs),
           "ratio_of_medians": _median(srpo, "seconds") / _median(trl, "seconds"),
           "pair_ratio_median": statistics.median(pairs),
           "pair_ratio_min": pairs[0], "pair_ratio_max": pairs[-1]}
    for name, records, parts in (("trl", trl, ("generate", "verify", "rest")),
                                 ("srpo", srpo, ("generate", "verify", "train", "rest"))):
        out[name] = {key: _median(records, key) for key in
                     ("seconds", *parts, "tokens", "completion_length", "reward")}
        out[name]["tokens_per_second"] = statistics.median(
            r["tokens"] / r["seconds"] for r in records)
        out[name]["threads"] = sorted({r["threads"] for r in records})
        if name == "trl":
            out[name]["loop_overhead"] = _median(records, "loop_overhead")
    return out


# --- reporting ------------------------------------------------------------------------------
def versions() -> dict:
    import transformers

    try:
        import trl
        trl_version = trl.__version__
    except ImportError:
        trl_version = "not installed"
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "trl": trl_version}


def format_report(result: dict, command: str) -> str:
    """The results as a Markdown section."""
    s, m = result["settings"], result["summary"]
    trl, srpo = m["trl"], m["srpo"]
    v = versions()
    target = "met" if m["ratio_of_medians"] <= 0.67 else "missed"
    lines = [
        "## Step throughput: srpo_mini vs TRL GRPOTrainer (CPU)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {describe_machine()}; no GPU; shared with other jobs (load average "
        f"{result['load_before'][0]:.2f} before, {result['load_after'][0]:.2f} after the run). "
        f"torch threads: {s['threads']} for both. Python {v['python']}, torch {v['torch']}, "
        f"transformers {v['transformers']}, TRL {v['trl']}.",
        "",
        f"Settings (both): model = {result['model']}, B = {s['prompts']} prompts x G = "
        f"{s['group_size']}, max new tokens {s['max_new_tokens']}, temperature "
        f"{s['temperature']}, token-level loss (TRL `dapo`), clip eps {s['clip_eps_low']} / "
        f"{s['clip_eps_high']}, beta 0, mu 1, std-scaled group advantages, AdamW lr {s['lr']}, "
        f"micro-batch {s['micro_batch_size']} completions, math verifier reward. "
        f"{result['steps']} alternating step pairs after {result['warmup']} warm-up pair(s).",
        "",
        "| | median s / step | generate | verify | rest (log-probs, loss, backward, AdamW) "
        "| completion tokens / step | tokens / s | mean reward |",
        "|---|---|---|---|---|---|---|---|",
        f"| TRL GRPOTrainer | {trl['seconds']:.3f} | {trl['generate']:.3f} | "
        f"{trl['verify']:.3f} | {trl['rest']:.3f} | {trl['tokens']:.0f} | "
        f"{trl['tokens_per_second']:.0f} | {trl['reward']:.3f} |",
        f"| srpo_mini | {srpo['seconds']:.3f} | {srpo['generate']:.3f} | "
        f"{srpo['verify']:.3f} | {srpo['train'] + srpo['rest']:.3f} | {srpo['tokens']:.0f} | "
        f"{srpo['tokens_per_second']:.0f} | {srpo['reward']:.3f} |",
        "",
        f"srpo_mini / TRL: **{m['ratio_of_medians']:.2f}x** (ratio of the medians); per-pair "
        f"ratios median {m['pair_ratio_median']:.2f}x, range {m['pair_ratio_min']:.2f}-"
        f"{m['pair_ratio_max']:.2f}x over {m['pairs']} pairs. Target <= 0.67x: **{target}**.",
        "",
        f"srpo_mini breakdown (medians): generate {srpo['generate']:.3f} s, verify "
        f"{srpo['verify']:.3f} s, train (log-probs + loss + backward + AdamW) "
        f"{srpo['train']:.3f} s, other (pool, ledger, record) {srpo['rest']:.3f} s. "
        f"TRL's loop between steps (logging, data loader): {trl['loop_overhead'] or 0:.3f} s "
        "per step, not counted above.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="random-init tiny model, B=2 x G=4, 16 tokens, 2 steps each")
    parser.add_argument("--steps", type=int, default=None, help="measured pairs (default 12)")
    parser.add_argument("--warmup", type=int, default=None, help="dropped pairs (default 2)")
    parser.add_argument("--model", choices=("base", "random"), default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--prompts", type=int, default=None)
    parser.add_argument("--group-size", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--micro-batch-size", type=int, default=None)
    parser.add_argument("--output", type=Path, help="write the Markdown section here")
    parser.add_argument("--json", type=Path, help="write every step record here")
    args = parser.parse_args(argv)

    settings = Settings(**(QUICK if args.quick else {}))
    for field_name in ("threads", "prompts", "group_size", "max_new_tokens",
                       "micro_batch_size"):
        value = getattr(args, field_name)
        if value is not None:
            setattr(settings, field_name, value)
    steps = args.steps if args.steps is not None else (2 if args.quick else 12)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    model = args.model or ("random" if args.quick else "base")

    result = measure(settings, steps=steps, warmup=warmup, model=model)
    command = "python benchmarks/bench_trl_throughput.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    report = format_report(result, command.strip())
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
