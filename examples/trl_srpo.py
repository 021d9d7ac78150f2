"""SRPO through TRL's GRPOTrainer: the tiny model and world on a CPU, or a real model on GPUs.

TRL does the GRPO part (sampling, advantages, the clipped token-level loss, multi-GPU);
`srpo_mini.integrations.trl` adds the verifier rewards, history resampling and the two
stages (math, then math + code). See docs/trl.md.

    python examples/trl_srpo.py            # the cold-started tiny base (built once, cached)
    python examples/trl_srpo.py --quick    # a random-init tiny model, a few steps (smoke test)

Several GPUs: the same script under accelerate; one process per GPU, every process runs
the same pool and schedule (the history is gathered after each step). B prompts x G
completions per step are split over the processes, so B * G must divide by their number:

    accelerate launch --num_processes 8 examples/trl_srpo.py \\
        --model Qwen/Qwen2.5-7B --template r1_zero --bf16 \\
        --prompts-per-step 64 --group-size 8 --max-new-tokens 4096 \\
        --lr 1e-6 --stage1-steps 200 --max-steps 1000 --output-dir runs/srpo-7b

    (add --config_file with DeepSpeed ZeRO-3 or FSDP for models that do not fit one GPU;
    TRL ships configs in trl/accelerate_configs/. GRPOConfig's vLLM options, e.g.
    use_vllm=True, vllm_mode="colocate", are passed through --grpo key=value.)

Resume: the same command with --resume (the latest checkpoint of --output-dir), or
--resume runs/srpo-7b/checkpoint-400.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import sys
from pathlib import Path

import torch
from transformers import PrinterCallback
from trl import GRPOConfig

from srpo_mini.data.synthetic import make_tiny_world
from srpo_mini.integrations.trl import (SRPO_GRPO_SETTINGS, SRPOCallback, SRPOGRPOTrainer,
                                        code_accuracy_reward, make_trl_dataset,
                                        math_accuracy_reward)
from srpo_mini.ledger import read_ledger
from srpo_mini.schedule import default_stages


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="random-init tiny model, 2 + 2 problems per level, 6 steps")
    parser.add_argument("--model", help="local directory or hub id (default: the tiny base)")
    parser.add_argument("--template", default="compact", help="r1_zero | compact | chat")
    parser.add_argument("--output-dir", default="runs/trl_srpo")
    parser.add_argument("--prompts-per-step", type=int, default=8, help="B")
    parser.add_argument("--group-size", type=int, default=8, help="G")
    parser.add_argument("--max-new-tokens", type=int, default=80)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--stage1-steps", type=int, default=10, help="math-only steps")
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--math-per-level", type=int, default=16, help="tiny world size")
    parser.add_argument("--code-per-level", type=int, default=16)
    parser.add_argument("--save-steps", type=int, default=10)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", nargs="?", const=True, default=None,
                        help="resume from the latest checkpoint, or from the one named")
    parser.add_argument("--grpo", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra GRPOConfig fields, e.g. use_vllm=True")
    args = parser.parse_args(argv)
    if args.quick:
        args.prompts_per_step, args.group_size, args.max_new_tokens = 2, 4, 16
        args.stage1_steps, args.max_steps, args.save_steps = 3, 6, 3
        args.math_per_level = args.code_per_level = 2
    return args


def parse_value(key_value: str):
    """"use_vllm=True" -> ("use_vllm", True); a value that is no Python literal stays text."""
    key, value = key_value.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def load_policy(args):
    """(model, tokenizer): random-init tiny (--quick), the named model, or the tiny base."""
    from srpo_mini.model import build_tiny_model, load_model

    if args.quick:
        return build_tiny_model(seed=args.seed, hidden_size=32, num_layers=1, num_heads=2,
                                num_kv_heads=1, intermediate_size=64)
    if args.model is None:
        from srpo_mini.base import ensure_tiny_base

        args.model = ensure_tiny_base(seed=args.seed)
    return load_model(args.model, device="cpu",
                      dtype=torch.bfloat16 if args.bf16 else torch.float32)


def main(argv=None) -> int:
    args = parse_args(argv)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))     # set by accelerate launch
    rollouts = args.prompts_per_step * args.group_size
    if rollouts % world_size:
        raise SystemExit(f"B * G = {rollouts} must divide by the {world_size} processes")

    # 1. data: the tiny world's train side, prompts rendered with the template
    world = make_tiny_world(seed=args.seed, math_train_per_level=args.math_per_level,
                            code_train_per_level=args.code_per_level)
    model, tokenizer = load_policy(args)
    dataset = make_trl_dataset(world.problems("train"), args.template, tokenizer)

    # 2. SRPO: history resampling and the two stages; the accuracy rewards are tracked
    #    (stage 2 lasts until --max-steps)
    stages = default_stages(args.stage1_steps, max(1, args.max_steps - args.stage1_steps))
    srpo = SRPOCallback(stages, resampler="srpo", seed=args.seed)
    reward_funcs = [srpo.track(math_accuracy_reward), srpo.track(code_accuracy_reward)]

    # 3. TRL: SRPO's loss settings (SRPO_GRPO_SETTINGS) and the run's sizes
    extra = dict(parse_value(kv) for kv in args.grpo)
    config = GRPOConfig(**{**SRPO_GRPO_SETTINGS, **dict(
        output_dir=args.output_dir, per_device_train_batch_size=rollouts // world_size,
        num_generations=args.group_size, max_completion_length=args.max_new_tokens,
        learning_rate=args.lr, warmup_steps=2, max_steps=args.max_steps,
        save_strategy="steps", save_steps=args.save_steps, logging_steps=1, report_to=[],
        seed=args.seed, bf16=args.bf16, use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True, log_level="warning"), **extra})
    trainer = SRPOGRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=reward_funcs,
                              args=config, train_dataset=dataset, srpo=srpo)
    trainer.remove_callback(PrinterCallback)       # the report below replaces the log dicts
    trainer.train(resume_from_checkpoint=args.resume)

    # 4. what happened: rewards per step, the history's epochs, the stage switch
    if trainer.accelerator.is_main_process:
        report(trainer, srpo, Path(args.output_dir))
    return 0


def report(trainer, srpo, output_dir: Path) -> None:
    print(f"{'step':>4}  {'stage':<9}  {'reward':>6}  {'math acc':>8}  {'code acc':>8}")
    stage_at = {s["step"]: s["to"] for s in srpo.schedule.switches}
    stage = srpo.schedule.stages[0].name
    for row in trainer.state.log_history:
        if "reward" not in row:
            continue
        cells = [row.get(f"rewards/{name}_accuracy_reward/mean") for name in ("math", "code")]
        cells = [f"{'-':>8}" if c is None or math.isnan(c) else f"{c:8.3f}" for c in cells]
        print(f"{row['step']:>4}  {stage:<9}  {row['reward']:6.3f}  {cells[0]}  {cells[1]}")
        stage = stage_at.get(row["step"], stage)
    print("history resampling, per epoch:")
    for stats in srpo.resampler.epoch_stats:
        print(f"  epoch {stats.epoch} ({stats.stage}): {stats.pool_size} prompts in the pool, "
              f"{stats.dropped_easy} newly dropped as all correct, {stats.dropped_total} left "
              f"out in all; kept {stats.kept_mixed} mixed, {stats.kept_all_wrong} all wrong, "
              f"{stats.kept_unseen} unseen")
    switches = ", ".join(f"{s['from']} -> {s['to']} at step {s['step']}"
                         for s in srpo.schedule.switches) or "none"
    print(f"stage switches: {switches}")
    rows = read_ledger(output_dir / "srpo_ledger.jsonl")
    solved = sum(r["correct"] == r["group_size"] for r in rows)
    print(f"ledger: {len(rows)} groups recorded, {solved} all correct "
          f"({output_dir / 'srpo_ledger.jsonl'})")


if __name__ == "__main__":
    sys.exit(main())
