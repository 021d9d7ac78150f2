"""Training benchmarks on the tiny world: history resampling vs its baselines, and stages.

Experiment `resampling` (SRPO's efficiency claim at mini scale): the same base model and
hyperparameters trained with history resampling (SRPO), no filtering (vanilla GRPO) and
DAPO dynamic sampling, for several seeds. Reported per strategy: generated tokens and
optimizer steps until held-out math pass@1 first reaches the target (base + `--gain`),
the final accuracy, the mean fraction of zero-std groups, and the median ratio of tokens
to target against GRPO with its spread over seeds; plus accuracy-vs-tokens curves.

Experiment `sweep` (when history resampling pays): SRPO and GRPO at several shares of
easy prompts in the math pool (`data.easy_share`); per share, GRPO's zero-std fraction
over the second half of stage 1 and the ratio of SRPO's tokens to target to GRPO's.

Experiment `stages`: two stages (math, then math + code) vs math + code mixed from the
start vs math only, same total steps: final held-out math and code pass@1 and the
completion-length curves.

Usage:
    python benchmarks/bench_training.py resampling --seeds 0 1 2 3 4 --workers 2
    python benchmarks/bench_training.py sweep --shares 0 0.25 0.5 0.75 --seeds 0 1 2
    python benchmarks/bench_training.py stages --seeds 0 1 2 --workers 2
    python benchmarks/bench_training.py resampling --quick     # a few steps, for the tests

`--workers N` trains N runs at a time in separate processes (one thread each); the
figures reported (tokens, steps, accuracy) do not depend on it, only the wall time does.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from srpo_mini.config import apply_overrides, get_preset
from srpo_mini.data.schema import write_jsonl
from srpo_mini.data.sources import TINY_WORLD_SEED
from srpo_mini.data.synthetic import make_tiny_world
from srpo_mini.machine import describe_machine
from srpo_mini.metrics import read_metrics, run_machines
from srpo_mini.plots import moving_average
from srpo_mini.ledger import read_ledger
from srpo_mini.trainer import train

STRATEGIES = ("srpo", "none", "dapo")
STAGE_VARIANTS = {
    "two_stages": [],
    "mixed_from_start": ["stages.0.domains=[math,code]", "stages.0.mixture={math: 0.5, code: 0.5}"],
    "math_only": ["stages.1.domains=[math]", "stages.1.mixture={}"],
}


def run_once(out_dir: Path, name: str, seed: int, overrides: list[str]) -> list[dict]:
    """One training run; returns its metrics records."""
    torch.set_num_threads(1)
    config = apply_overrides(get_preset("tiny"), [
        f"run.output_dir={out_dir}", f"run.name={name}", f"run.seed={seed}",
        "logging.progress=false", "checkpoint.every_steps=0", "checkpoint.keep_last=1",
        *overrides])
    train(config, progress=False)
    return read_metrics(out_dir / name / "metrics.jsonl")


def _timed_run(job: tuple) -> tuple[list[dict], float | None]:
    out_dir, name, seed, overrides, reuse = job
    if reuse and (out_dir / name / "summary.txt").is_file():  # a finished run: read it back
        return read_metrics(out_dir / name / "metrics.jsonl"), None
    started = time.perf_counter()
    records = run_once(out_dir, name, seed, overrides)
    return records, time.perf_counter() - started


def run_all(jobs: list[tuple], workers: int, reuse: bool = False):
    """Every job's (records, seconds or None when reused), in job order; `workers` runs
    at a time. A job is (out_dir, name, seed, overrides)."""
    jobs = [(*job, reuse) for job in jobs]
    if workers <= 1:
        return [_timed_run(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_timed_run, jobs))


def math_eval_override(out_dir: Path) -> str:
    """An override that evaluates on the tiny world's held-out maths only: the stage-1
    experiments compare maths accuracy, and skipping the code tasks halves each evaluation."""
    path = out_dir / "eval_math.jsonl"
    world = make_tiny_world(seed=TINY_WORLD_SEED)
    write_jsonl([p for p in world.problems("eval") if p.domain == "math"], path)
    return f"data.eval_files=[{path.resolve()}]"


def group_shares(ledger_path: Path, domain: str = "math") -> dict[str, float]:
    """Shares of the domain's trained groups (ledger rows whose prompt id starts with
    "<domain>-", as the tiny world names them) with all rollouts correct / all wrong."""
    rows = [r for r in read_ledger(ledger_path) if r["prompt_id"].startswith(f"{domain}-")]
    rows = rows or [{}]
    return {"all_correct": sum(r.get("correct") == r.get("group_size") for r in rows) / len(rows),
            "all_wrong": sum(r.get("correct") == 0 for r in rows) / len(rows)}


def eval_curve(records: list[dict], domain: str = "math") -> list[tuple[int, int, float]]:
    """(step, cumulative generated tokens, held-out pass@1) at every evaluation."""
    key = f"eval/{domain}/pass@1"
    return [(r["step"], r.get("cumulative_generated_tokens", 0), r[key])
            for r in records if key in r]


def to_target(curve, target: float):
    """(steps, tokens) at the first evaluation reaching `target`, else None."""
    for step, tokens, accuracy in curve:
        if accuracy >= target:
            return step, tokens
    return None


def tokens_at_target(curve, target: float) -> float | None:
    """Generated tokens where the pass@1 curve first crosses `target`, linear between the
    two evaluations around the crossing (None if never): free of the evaluation interval's
    rounding that `to_target` has."""
    previous = None
    for _, tokens, accuracy in curve:
        if accuracy >= target:
            if previous is None:
                return float(tokens)
            tokens_0, accuracy_0 = previous
            return tokens_0 + (target - accuracy_0) / (accuracy - accuracy_0) * (tokens - tokens_0)
        previous = (tokens, accuracy)
    return None


def ratios_to_grpo(runs: list[dict], grpo_runs: list[dict], tokens) -> list[float]:
    """tokens(run) / tokens(GRPO's run of the same seed), for each seed where both are
    known; `tokens` gives a run's tokens to the target, or None if it never got there."""
    grpo = {run["seed"]: tokens(run) for run in grpo_runs}
    return [tokens(run) / grpo[run["seed"]] for run in runs
            if tokens(run) and grpo.get(run["seed"])]


def _tokens_to_target(run: dict) -> int | None:
    return run["to_target"][1] if run["to_target"] else None


def zero_std_mean(records: list[dict]) -> float:
    values = [r["zero_std_fraction"] for r in records if "zero_std_fraction" in r]
    return sum(values) / max(len(values), 1)


def zero_std_late(records: list[dict]) -> float:
    """Mean zero-std fraction over the second half of the first stage's steps."""
    first = [r for r in records if "zero_std_fraction" in r and r.get("stage_index") == 0]
    late = first[len(first) // 2:]
    return sum(r["zero_std_fraction"] for r in late) / max(len(late), 1)


def length_growth(records: list[dict], domain: str = "math") -> tuple[float, float]:
    """Mean completion length of the domain over the first and the last 10 steps of the
    first stage."""
    values = [r[f"completion_length/{domain}"] for r in records
              if r.get("stage_index") == 0 and f"completion_length/{domain}" in r]
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values[:10]), statistics.mean(values[-10:])


def machines_line(result: dict) -> str:
    """Where the result's runs trained, for the report and the figure's footer."""
    groups = ([e["runs"] for e in result["shares"].values()] if "shares" in result
              else [result["runs"]])
    names = sorted({r["machine"] for runs in groups for members in runs.values()
                    for r in members if r.get("machine")})
    if names:
        return "runs trained on " + " | ".join(names)
    return f"the runs do not record their machine; report made on {describe_machine()}"


def zero_std_curve(records: list[dict]) -> list[tuple[int, float]]:
    """(step, fraction of zero-std groups) at every training step."""
    return [(r["step"], r["zero_std_fraction"]) for r in records if "zero_std_fraction" in r]


def resampling_experiment(args) -> dict:
    # seeds outer, strategies inner: each seed's three runs start side by side
    jobs = [(args.out_dir / "runs", f"{strategy}-seed{seed}", seed,
             [f"resampling.strategy={strategy}", *args.overrides])
            for seed in args.seeds for strategy in STRATEGIES]
    results = {}
    for job, (records, seconds) in zip(jobs, run_all(jobs, args.workers, args.reuse)):
        strategy, seed = job[3][0].split("=")[1], job[2]
        curve = eval_curve(records)
        results.setdefault(strategy, []).append({
            "seed": seed, "curve": curve, "zero_std": zero_std_mean(records),
            "zero_std_late": zero_std_late(records), "zero_std_curve": zero_std_curve(records),
            "greedy": [r["eval/math/greedy_accuracy"] for r in records
                       if "eval/math/greedy_accuracy" in r],
            "length": length_growth(records),
            "math_groups": group_shares(job[0] / job[1] / "ledger.jsonl"),
            "final_tokens": records[-1].get("cumulative_generated_tokens", 0),
            "pools": [r["pool_size"] for r in records if "pool_size" in r],
            "seconds": seconds, "machine": run_machines(records)})
        print(f"{strategy:5s} seed {seed}: pass@1 {curve[0][2]:.3f} -> {curve[-1][2]:.3f}, "
              f"tokens {results[strategy][-1]['final_tokens']:,}", flush=True)
    base = statistics.median(run["curve"][0][2] for runs in results.values() for run in runs)
    target = base + args.gain
    for runs in results.values():
        for run in runs:
            run["to_target"] = to_target(run["curve"], target)
    return {"target": target, "base": base, "gain": args.gain, "runs": results}


def sweep_experiment(args) -> dict:
    """SRPO and GRPO at each easy share: the resampling experiment once per share."""
    shares = {}
    for share in args.shares:
        jobs = [(args.out_dir / "runs", f"{strategy}-easy{share}-seed{seed}", seed,
                 [f"resampling.strategy={strategy}", f"data.easy_share={share}",
                  *args.overrides])
                for seed in args.seeds for strategy in ("srpo", "none")]
        runs = {}
        for job, (records, _) in zip(jobs, run_all(jobs, args.workers, args.reuse)):
            runs.setdefault(job[3][0].split("=")[1], []).append(
                {"seed": job[2], "curve": eval_curve(records),
                 "zero_std_late": zero_std_late(records), "machine": run_machines(records)})
        base = statistics.median(r["curve"][0][2] for members in runs.values() for r in members)
        for members in runs.values():
            for run in members:
                run["to_target"] = to_target(run["curve"], base + args.gain)
                run["tokens_interpolated"] = tokens_at_target(run["curve"], base + args.gain)
        ratios = ratios_to_grpo(runs["srpo"], runs["none"], _tokens_to_target)
        interpolated = ratios_to_grpo(runs["srpo"], runs["none"],
                                      lambda run: run["tokens_interpolated"])
        shares[str(share)] = {"base": base, "runs": runs, "ratios": ratios,
                              "ratios_interpolated": interpolated}
        print(f"easy share {share}: ratios {ratios}", flush=True)
    return {"gain": args.gain, "shares": shares}


def sweep_report(result: dict, command: str) -> str:
    lines = ["## When history resampling pays: the easy-prompt share", "",
             f"Command: `{command}`", f"Machine: {machines_line(result)}.",
             "Target per share: the base's held-out math pass@1 "
             f"+ {result['gain']:.2f}.", "",
             "| easy share | zero-std fraction, 2nd half of stage 1, median, GRPO / SRPO | "
             "seeds reaching target, SRPO / GRPO | SRPO / GRPO tokens to target, median "
             "(range) | the same, interpolated between evaluations | steps to target, median, "
             "SRPO / GRPO | final pass@1 SRPO / GRPO, median |", "|---|---|---|---|---|---|---|"]
    for share, entry in result["shares"].items():
        runs = entry["runs"]
        late = " / ".join(f"{statistics.median(r['zero_std_late'] for r in runs[s]):.2f}"
                          for s in ("none", "srpo"))
        reached = ", ".join(f"{sum(bool(r['to_target']) for r in runs[s])}/{len(runs[s])}"
                            for s in ("srpo", "none"))
        steps = " / ".join(_median_or_dash([r["to_target"][0] for r in runs[s]
                                            if r["to_target"]]) for s in ("srpo", "none"))
        final = " / ".join(f"{statistics.median(r['curve'][-1][2] for r in runs[s]):.3f}"
                           for s in ("srpo", "none"))
        lines.append(f"| {share} | {late} | {reached} | {_median_spread(entry['ratios'])} "
                     f"| {_median_spread(entry.get('ratios_interpolated', []))} | {steps} "
                     f"| {final} |")
    return "\n".join(lines) + "\n"


def _median_or_dash(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def stages_experiment(args) -> dict:
    jobs = [(args.out_dir / "runs", f"{variant}-seed{seed}", seed, [*extra, *args.overrides])
            for variant, extra in STAGE_VARIANTS.items() if variant in args.variants
            for seed in args.seeds]
    results = {}
    for job, (records, _) in zip(jobs, run_all(jobs, args.workers, args.reuse)):
        variant, seed = job[1].rsplit("-seed", 1)[0], job[2]
        results.setdefault(variant, []).append({
            "seed": seed, "math": eval_curve(records, "math"),
            "code": eval_curve(records, "code"),
            "length": {domain: [(r["step"], r[f"completion_length/{domain}"]) for r in records
                                if f"completion_length/{domain}" in r]
                       for domain in ("math", "code")},
            "machine": run_machines(records)})
    return {"runs": results}


def _median_spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def _mean_after_start(curve) -> float:
    values = [accuracy for step, _, accuracy in curve if step > 0]
    return sum(values) / len(values) if values else float("nan")


def resampling_report(result: dict, command: str) -> str:
    runs = result["runs"]
    lines = ["## Resampling efficiency: SRPO history resampling vs GRPO vs DAPO", "",
             f"Command: `{command}`", f"Machine: {machines_line(result)}.",
             f"Target: held-out math pass@1 >= {result['target']:.3f} "
             f"(the base's {result['base']:.3f} + the gain).", "",
             "| strategy | seeds reaching target | median tokens to target | median steps to "
             "target | tokens ratio vs GRPO, median (range) | final pass@1, median | "
             "pass@1 averaged over the evaluations after step 0, median | "
             "zero-std fraction, mean | zero-std fraction, 2nd half of stage 1, median | "
             "math groups all correct / all wrong | generated tokens, median | "
             "math greedy accuracy, base -> final, median | math completion length, first / "
             "last 10 steps of stage 1, median |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for strategy, members in runs.items():
        reached = [r for r in members if r["to_target"]]
        tokens = [r["to_target"][1] for r in reached]
        steps = [r["to_target"][0] for r in reached]
        ratios = ratios_to_grpo(members, runs.get("none", []), _tokens_to_target)
        cells = [strategy, f"{len(reached)}/{len(members)}",
                 f"{statistics.median(tokens):,.0f}" if tokens else "-",
                 f"{statistics.median(steps):.0f}" if steps else "-",
                 _median_spread(ratios),
                 f"{statistics.median(r['curve'][-1][2] for r in members):.3f}",
                 f"{statistics.median(_mean_after_start(r['curve']) for r in members):.3f}",
                 f"{statistics.mean(r['zero_std'] for r in members):.3f}",
                 f"{statistics.median(r['zero_std_late'] for r in members):.3f}",
                 f"{statistics.mean(r['math_groups']['all_correct'] for r in members):.3f} / "
                 f"{statistics.mean(r['math_groups']['all_wrong'] for r in members):.3f}",
                 f"{statistics.median(r['final_tokens'] for r in members):,.0f}",
                 f"{statistics.median(r['greedy'][0] for r in members):.3f} -> "
                 f"{statistics.median(r['greedy'][-1] for r in members):.3f}",
                 f"{statistics.median(r['length'][0] for r in members):.1f} / "
                 f"{statistics.median(r['length'][1] for r in members):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def stages_report(result: dict, command: str) -> str:
    lines = ["## Two stages vs mixed from the start vs math only", "", f"Command: `{command}`",
             f"Machine: {machines_line(result)}.", "",
             "| schedule | final math pass@1 | final code pass@1 | math completion "
             "length, first / last 10 steps | code completion length, last 10 steps |",
             "|---|---|---|---|---|"]

    def length(members, domain, last):
        means = [statistics.mean(v for _, v in (r["length"][domain][-10:] if last else
                                                r["length"][domain][:10]))
                 for r in members if r["length"][domain]]
        return f"{statistics.median(means):.1f}" if means else "-"

    for variant, members in result["runs"].items():
        math = statistics.median(r["math"][-1][2] for r in members)
        code = statistics.median(r["code"][-1][2] for r in members if r["code"])
        lines.append(f"| {variant} | {math:.3f} | {code:.3f} | {length(members, 'math', False)}"
                     f" / {length(members, 'math', True)} | {length(members, 'code', True)} |")
    return "\n".join(lines) + "\n"


COLORS = {"srpo": "C0", "none": "C1", "dapo": "C2",
          "two_stages": "C0", "mixed_from_start": "C1", "math_only": "C2"}


def _plot_sweep(result: dict, experiment: str, axes) -> None:
    """Left: SRPO / GRPO tokens to target per seed and the median, against the easy share,
    with GRPO (1.0) and the issue's goal (0.67). Right: the zero-std fraction of the second
    half of stage 1, GRPO and SRPO, per seed and the median."""
    shares = [float(s) for s in result["shares"]]
    entries = list(result["shares"].values())

    def seeds_and_median(ax, values_per_share, color, label):
        for share, values in zip(shares, values_per_share):
            ax.scatter([share] * len(values), values, color=color, alpha=0.4, s=18)
        ax.plot(shares, [statistics.median(v) if v else float("nan") for v in values_per_share],
                color=color, marker="o", label=f"{label}, median")

    seeds_and_median(axes[0], [e["ratios"] for e in entries], COLORS["srpo"], "SRPO")
    axes[0].axhline(1.0, color=COLORS["none"], linestyle="--", label="GRPO")
    axes[0].axhline(0.67, color="gray", linestyle=":", label="goal 0.67")
    axes[0].set(xlabel="easy share of the math pool",
                ylabel="SRPO / GRPO generated tokens to target")
    for strategy, label in (("none", "GRPO"), ("srpo", "SRPO")):
        seeds_and_median(axes[1], [[r["zero_std_late"] for r in e["runs"][strategy]]
                                   for e in entries], COLORS[strategy], label)
    axes[1].set(xlabel="easy share of the math pool",
                ylabel="zero-std group fraction, 2nd half of stage 1")
    for ax in axes:
        ax.legend(fontsize=8)


def plot(result: dict, experiment: str, path: Path) -> None:
    """The experiment's two-panel figure, its footer naming the machine."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    (_plot_sweep if experiment == "sweep" else _plot_runs)(result, experiment, axes)
    fig.supxlabel(machines_line(result), fontsize=7, color="gray")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_runs(result: dict, experiment: str, axes) -> None:
    """Resampling: math pass@1 vs generated tokens, zero-std fraction vs step.
    Stages: math and code pass@1 vs step, math and code completion length vs step."""
    for name, members in result["runs"].items():
        for i, run in enumerate(members):
            label = name if i == 0 else None
            if experiment == "resampling":
                axes[0].plot([c[1] for c in run["curve"]], [c[2] for c in run["curve"]],
                             color=COLORS[name], alpha=0.7, marker=".", label=label)
                steps = [c[0] for c in run["zero_std_curve"]]
                axes[1].plot(steps, moving_average([c[1] for c in run["zero_std_curve"]], 10),
                             color=COLORS[name], alpha=0.7, label=label)
            else:
                for domain, style in (("math", "-"), ("code", ":")):
                    curve = run[domain]
                    axes[0].plot([c[0] for c in curve], [c[2] for c in curve], style,
                                 color=COLORS[name], alpha=0.7, marker=".",
                                 label=f"{name} {domain}" if i == 0 else None)
                for domain, style in (("math", "-"), ("code", ":")):
                    curve = run["length"][domain]
                    axes[1].plot([c[0] for c in curve], moving_average([c[1] for c in curve], 10),
                                 style, color=COLORS[name], alpha=0.7,
                                 label=f"{name} {domain}" if i == 0 else None)
    if experiment == "resampling":
        axes[0].axhline(result["target"], color="gray", linestyle="--", label="target")
        axes[0].set(xlabel="generated tokens", ylabel="held-out math pass@1")
        axes[1].set(xlabel="step", ylabel="zero-std group fraction (10-step mean)")
    else:
        axes[0].set(xlabel="step", ylabel="held-out pass@1")
        axes[1].set(xlabel="step", ylabel="completion tokens (10-step mean)")
    for ax in axes:
        ax.legend(fontsize=8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("resampling", "sweep", "stages"))
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75],
                        help="sweep: easy shares of the math pool (data.easy_share)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=tuple(STAGE_VARIANTS),
                        default=list(STAGE_VARIANTS), help="stages: the schedules to train")
    parser.add_argument("--gain", type=float, default=0.10,
                        help="target = base held-out math pass@1 + gain")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true", help="2 steps per stage, 1 seed")
    parser.add_argument("--workers", type=int, default=1,
                        help="runs trained at a time, each in its own process")
    parser.add_argument("--reuse", action="store_true",
                        help="read back runs already finished under OUT/runs instead of "
                             "training them again (to resume, or to redo the report)")
    parser.add_argument("--eval-math-only", action="store_true",
                        help="evaluate on the held-out maths only (for math-only schedules)")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run")
    args = parser.parse_intermixed_args(argv)
    args.out_dir = Path(args.out)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.seeds = args.seeds[:1]
        args.overrides = ["stages.0.steps=2", "stages.1.steps=2", "data.train_limit=8",
                          "data.eval_limit=4", "eval.n_samples=1", "eval.k_values=[1]",
                          "eval.every_steps=2", "sampling.prompts_per_step=4",
                          "sampling.group_size=4", *args.overrides]
    if args.eval_math_only:
        args.overrides = [math_eval_override(args.out_dir), *args.overrides]
    given = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/bench_training.py " + shlex.join(a for a in given
                                                                 if a != "--reuse")
    if args.experiment == "resampling":
        result = resampling_experiment(args)
        report = resampling_report(result, command)
    elif args.experiment == "sweep":
        if args.quick:
            args.shares = args.shares[:2]
        result = sweep_experiment(args)
        report = sweep_report(result, command)
    else:
        result = stages_experiment(args)
        report = stages_report(result, command)
    suffix = "_quick" if args.quick else ""
    (args.out_dir / f"training_{args.experiment}{suffix}.json").write_text(
        json.dumps(result, indent=1, default=str))
    (args.out_dir / f"training_{args.experiment}{suffix}.md").write_text(report)
    plot(result, args.experiment, args.out_dir / f"training_{args.experiment}{suffix}.png")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
