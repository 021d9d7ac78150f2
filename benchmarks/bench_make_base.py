"""Benchmark of `srpo-mini make-base`: wall time, determinism and the base's accuracy.

Runs the command `--runs` times (default 3) with the same seed, each in a fresh process and
a fresh output directory, and reports:
  - the wall time of each run and their median (the whole command: imports, data, SFT,
    held-out evaluation, save), and the SFT and evaluation seconds it records;
  - whether every run wrote bit-identical weights (sha256 of model.safetensors);
  - the parameter count and the held-out accuracy per domain and level of the first run
    (greedy, pass@1 and pass@4 at temperature 1.0), with the sampling/greedy gap.

    python benchmarks/bench_make_base.py                  # 3 full runs, about 5 minutes
    python benchmarks/bench_make_base.py --quick          # seconds; what the test runs

--quick builds a very small model for a few steps (timings meaningless, plumbing checked).
--output FILE writes the results as a Markdown section (BENCHMARKS.md material).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from srpo_mini.machine import describe_machine

QUICK_SCRIPT = """
import sys
from srpo_mini.base import BaseConfig, make_base
config = BaseConfig(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                    intermediate_size=64, steps=4, batch_size=4, warmup_steps=1,
                    pool_per_level=8, eval_samples=4, max_new_tokens=8)
make_base(sys.argv[1], seed=int(sys.argv[2]), config=config, progress=False)
"""


def run_once(out_dir: Path, seed: int, quick: bool) -> float:
    """Wall seconds of one make-base in a fresh process."""
    if quick:
        command = [sys.executable, "-c", QUICK_SCRIPT, str(out_dir), str(seed)]
    else:
        command = [sys.executable, "-m", "srpo_mini.cli", "make-base", "--out", str(out_dir),
                   "--seed", str(seed)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   env={**os.environ, "TQDM_DISABLE": "1"})
    return time.perf_counter() - started


def weights_digest(out_dir: Path) -> str:
    return hashlib.sha256((out_dir / "model.safetensors").read_bytes()).hexdigest()


def accuracy_rows(info: dict) -> list[str]:
    """Markdown rows: domain, level, n, greedy, pass@1, pass@4, greedy - pass@1."""
    rows = []
    accuracy = info["accuracy"]
    for domain in ("math", "code"):
        levels = accuracy["levels"].get(domain, {})
        for level, stats in sorted(levels.items()) + [("all", accuracy["summary"][domain])]:
            greedy, pass1 = stats["greedy_accuracy"], stats["pass@1"]
            pass4 = stats.get("pass@4", float("nan"))
            rows.append(f"| {domain} | {level} | {stats['n_problems']} | {greedy:.3f} | "
                        f"{pass1:.3f} | {pass4:.3f} | {greedy - pass1:+.3f} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny config, 1 run")
    parser.add_argument("--output", default=None, help="write a Markdown section here")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs

    with tempfile.TemporaryDirectory(prefix="bench_make_base_") as tmp:
        dirs = [Path(tmp) / f"run{i}" for i in range(runs)]
        walls = []
        for i, out_dir in enumerate(dirs):
            walls.append(run_once(out_dir, args.seed, args.quick))
            print(f"run {i + 1}/{runs}: {walls[-1]:.1f} s", flush=True)
        infos = [json.loads((d / "base_info.json").read_text()) for d in dirs]
        digests = {weights_digest(d) for d in dirs}

    info = infos[0]
    median_wall = statistics.median(walls)
    lines = [
        "## Tiny base model: `srpo-mini make-base`",
        "",
        f"Machine: {describe_machine()}; no GPU ({platform.python_implementation()} "
        f"{platform.python_version()}, torch threads {info['torch_threads']}). Command: "
        f"`python benchmarks/bench_make_base.py{' --quick' if args.quick else ''} "
        f"--runs {runs}` ({runs} fresh processes of `srpo-mini make-base --out DIR --seed "
        f"{args.seed}`).",
        "",
        "| runs | wall s (median) | wall s (each) | SFT s (median) | eval s (median) | "
        "parameters | SFT steps | identical weights |",
        "|---|---|---|---|---|---|---|---|",
        f"| {runs} | {median_wall:.1f} | {', '.join(f'{w:.1f}' for w in walls)} | "
        f"{statistics.median(i['sft']['seconds'] for i in infos):.1f} | "
        f"{statistics.median(i.get('eval_seconds', 0.0) for i in infos):.1f} | "
        f"{info['parameters']:,} | {info['sft']['steps']} | "
        f"{'yes' if len(digests) == 1 else 'NO'} |",
        "",
        f"Held-out accuracy of the base (tiny-world eval split, "
        f"{info['accuracy']['settings']['n_samples']} samples per problem at temperature "
        f"{info['accuracy']['settings']['temperature']}, plus one greedy decode):",
        "",
        "| domain | level | problems | greedy | pass@1 | pass@4 | greedy - pass@1 |",
        "|---|---|---|---|---|---|---|",
        *accuracy_rows(info),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
