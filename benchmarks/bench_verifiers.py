"""Verifier throughput in one table: math and code, called as the reward step calls them.

The workloads come from the two verifier benchmarks (imported, not copied):

    math  mixed case set          bench_math_verifier.ROWS: labelled (gold, answer) pairs
                                  from every answer category, as boxed completions
    math  tiny-world batches      bench_math_verifier.tiny_world_batches: 8 prompts x 8
                                  completions per batch, right answers and slips
    code  call x1 / call x8 /     bench_code_verifier.workloads: small programs, one or
          stdin x1 / assert x1    eight call-based tests, a stdin test, a HumanEval check

Each workload goes through the batch API that `srpo_mini.verifiers.check_completions`
(and so the trainer's reward step) uses, `verify_math_batch` / `verify_code_batch` with
--workers processes. Every round times each workload once, in rotating order, so a shared
machine's load falls on all of them alike; the table gives medians over rounds: checks per
second, tests per second, wall milliseconds per check, and the seconds a reward batch of
64 completions of that kind would take. Every verdict is checked against its label.

    python benchmarks/bench_verifiers.py --output benchmarks/results/verifiers.md
    python benchmarks/bench_verifiers.py --quick       # seconds; what the test runs

Accuracy against Math-Verify and the sandbox's cost against bare interpreter spawns are
in the two benchmarks themselves (bench_math_verifier.py, bench_code_verifier.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # run from a checkout; sibling benchmarks

import bench_code_verifier  # noqa: E402
import bench_math_verifier  # noqa: E402

from srpo_mini.machine import describe_machine  # noqa: E402
from srpo_mini.verifiers.code import verify_code_batch  # noqa: E402
from srpo_mini.verifiers.math import verify_math_batch  # noqa: E402

STEP_BATCH = 64  # completions per reward step in the tiny preset (B = 8 x G = 8)


def math_workloads(quick: bool, copies: int, batches: int) -> dict:
    """name -> (completions, golds, labels) for the math verifier."""
    rows = bench_math_verifier.ROWS[::3] if quick else bench_math_verifier.ROWS
    mixed = ([bench_math_verifier.completion_of(answer) for _, _, answer, _ in rows],
             [gold for _, gold, _, _ in rows], [equal for *_, equal in rows])
    tiny = [[], [], []]
    for completions, golds, labels in bench_math_verifier.tiny_world_batches(batches):
        for column, values in zip(tiny, (completions, golds, labels)):
            column.extend(values)
    return {"mixed case set": tuple(column * copies for column in mixed),
            "tiny-world reward batches": tuple(tiny)}


def code_workloads(programs: int) -> dict:
    """name -> (programs, tests, tests per program) for the code verifier; all pass."""
    return bench_code_verifier.workloads(programs)


def measure(args) -> dict:
    """Per workload: checks per run, tests per check, and (seconds, verdicts right) per round."""
    jobs = {}
    for name, (completions, golds, labels) in math_workloads(
            args.quick, args.copies, args.batches).items():
        jobs[("math", name)] = (
            len(completions), 1,
            lambda c=completions, g=golds, l=labels: sum(
                r.correct == label for r, label in
                zip(verify_math_batch(c, g, workers=args.workers), l)))
    for name, (programs, tests, per) in code_workloads(args.programs).items():
        jobs[("code", name)] = (
            len(programs), per,
            lambda p=programs, t=tests: sum(
                r.passed for r in verify_code_batch(p, t, extract=False,
                                                    workers=args.workers)))
    for _, _, job in jobs.values():   # warm-up: worker pools, imports
        job()
    rounds = {key: [] for key in jobs}
    for round_ in range(args.rounds):
        order = list(jobs)
        order = order[round_ % len(order):] + order[:round_ % len(order)]
        for key in order:
            job = jobs[key][2]
            started = time.perf_counter()
            right = job()
            rounds[key].append((time.perf_counter() - started, right))
    return {key: {"checks": jobs[key][0], "tests_per_check": jobs[key][1],
                  "rounds": rounds[key]} for key in jobs}


def markdown(results: dict, args, command: str, load: tuple) -> str:
    lines = [
        "## Verifier throughput: math and code", "",
        f"Command: `{command}`", "",
        f"Machine: {describe_machine()}; no GPU; shared with other jobs (load average "
        f"{load[0]:.2f} before, {load[1]:.2f} after). {args.workers} verifier worker "
        f"processes. Python {platform.python_version()}. Medians of {args.rounds} "
        "interleaved rounds, after one warm-up round.", "",
        f"| domain | workload | checks per run | verdicts right | checks/s | tests/s "
        f"| ms per check | s per {STEP_BATCH}-completion batch |",
        "|---|---|---|---|---|---|---|---|"]
    for (domain, name), r in results.items():
        seconds = statistics.median(s for s, _ in r["rounds"])
        right = min(ok for _, ok in r["rounds"])
        rate = r["checks"] / seconds
        lines.append(
            f"| {domain} | {name} | {r['checks']} | {right}/{r['checks']} | {rate:,.1f} | "
            f"{rate * r['tests_per_check']:,.1f} | {1000 / rate:.2f} | "
            f"{STEP_BATCH / rate:.3f} |")
    lines += ["", "A check is one completion against its gold answer (math) or one program "
              "against all its tests in one sandboxed run (code); ms per check is wall "
              f"time with {args.workers} checks in flight.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a third of the math cases, 1 batch, 8 programs, 1 round")
    parser.add_argument("--copies", type=int, default=3, help="math case set repeats per run")
    parser.add_argument("--batches", type=int, default=8,
                        help="tiny-world math reward batches (64 each) per run")
    parser.add_argument("--programs", type=int, default=48, help="programs per code workload")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="verifier processes")
    parser.add_argument("--output", type=Path, help="write the Markdown section here")
    args = parser.parse_args(argv)
    if args.quick:
        args.copies, args.batches, args.programs, args.rounds = 1, 1, 8, 1
    before = os.getloadavg()[0]
    results = measure(args)
    command = "python benchmarks/bench_verifiers.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    text = markdown(results, args, command.strip(), (before, os.getloadavg()[0]))
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
