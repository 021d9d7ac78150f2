"""Cold-start SFT step time with torch.optim.Muon (bf16 Newton-Schulz) and srpo_mini.muon.Muon
(float32 on the CPU), side by side on the same model, data and thread count.

On CPUs without native bf16 matrix multiply (AVX2 only) torch's bf16 iteration is
emulated; this measures what that costs the tiny base's SFT step. The two optimizers
alternate in rounds of `--steps` SFT steps each, from the same initial weights; the
report gives the median seconds per step of each and their ratio, and the CPU capability
torch sees (`torch.backends.cpu.get_cpu_capability()`).

Usage:
    python benchmarks/bench_muon.py --rounds 3 --steps 10 --output benchmarks/results/muon.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from srpo_mini import base
from srpo_mini.machine import describe_machine
from srpo_mini.model import build_tiny_model


def torch_muon(params, lr, weight_decay, ortho_dtype):
    """torch.optim.Muon with the same learning-rate rule (its bf16 iteration)."""
    return torch.optim.Muon(params, lr=lr, weight_decay=weight_decay,
                            adjust_lr_fn="match_rms_adamw")


def seconds_per_step(optimizer_class, steps: int) -> float:
    model, tokenizer = build_tiny_model(seed=0, hidden_size=128, num_layers=4, num_heads=4,
                                        num_kv_heads=2, intermediate_size=512)
    config = replace(base.BaseConfig(), steps=steps, warmup_steps=1, pool_per_level=200)
    original = base.Muon
    base.Muon = optimizer_class
    try:
        started = time.perf_counter()
        base.cold_start_sft(model, tokenizer, seed=0, config=config, progress=False)
        return (time.perf_counter() - started) / steps
    finally:
        base.Muon = original


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="SFT steps per measurement")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--output", default=None, help="write the Markdown report here")
    args = parser.parse_args(argv)
    if not hasattr(torch.optim, "Muon"):
        parser.error("torch.optim.Muon is needed for the comparison (torch >= 2.9)")
    torch.set_num_threads(args.threads)
    times = {"torch.optim.Muon (bf16)": [], "srpo_mini.muon.Muon (float32)": []}
    classes = {"torch.optim.Muon (bf16)": torch_muon,
               "srpo_mini.muon.Muon (float32)": base.Muon}
    for _ in range(args.rounds):
        for name, optimizer_class in classes.items():
            times[name].append(seconds_per_step(optimizer_class, args.steps))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours, theirs = medians["srpo_mini.muon.Muon (float32)"], medians["torch.optim.Muon (bf16)"]
    lines = ["## Muon on the CPU: bf16 against float32 orthogonalization", "",
             f"Command: `python benchmarks/bench_muon.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
             f"Machine: {describe_machine()}; {args.threads} torch threads.", "",
             "| optimizer | s per SFT step, median | each round |", "|---|---|---|"]
    for name, values in times.items():
        lines.append(f"| {name} | {medians[name]:.3f} | "
                     f"{', '.join(f'{v:.3f}' for v in values)} |")
    lines += ["", f"float32 is {theirs / ours:.1f}x faster per step."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        Path(args.output).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
