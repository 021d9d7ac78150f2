"""Benchmark of the code verifier: sandboxed test executions per second on N cores.

Side by side in one run, over the same thread pool of `--workers` launchers:
  1. baseline: bare interpreter spawns, `python3 -c pass` (the interpreter running this
     script, not a shell shim), and `python3 -S -c pass` (no site import) for reference;
  2. the verifier on small tiny-world-style programs (every one passes):
       call x1    one call-based test per program: one sandboxed run = one test execution,
                  the figure to hold against the spawn rate (target >= 0.7 of it);
       call x8    eight call-based tests per program (all in one program process);
       stdin x1   one stdin-based test per program;
       assert x1  a HumanEval-style check(candidate) with three asserts (checker process).
Each round times every variant once, in rotating order; the table reports medians over
rounds, and ratios are taken within each round before the median, so a shared, noisy
machine moves both sides of a ratio together. CPU ms per run is the user + system time
of the spawned process trees (the runner's own threads excluded).

    python benchmarks/bench_code_verifier.py                 # 64 programs x 5 rounds
    python benchmarks/bench_code_verifier.py --quick         # seconds; what the test runs

--output FILE writes the results as a Markdown section (BENCHMARKS.md material).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from srpo_mini.machine import describe_machine
from srpo_mini.verifiers.code import verify_code
from srpo_mini.verifiers.sandbox import detect_isolation


def workloads(n: int) -> dict:
    """name -> (programs, tests, tests per program); program i multiplies by i + 2."""
    def call(i: int, cases: int):
        program = f"def scale(x):\n    return x * {i + 2}\n"
        return program, {"fn_name": "scale", "cases": [
            {"args": [x], "expected": x * (i + 2)} for x in range(cases)]}

    def stdin(i: int):
        program = f"n = int(input())\nprint(n * {i + 2})\n"
        return program, {"cases": [{"input": f"{i}\n", "output": f"{i * (i + 2)}\n"}]}

    def assert_(i: int):
        program = f"def scale(x):\n    return x * {i + 2}\n"
        check = "def check(candidate):\n" + "".join(
            f"    assert candidate({x}) == {x * (i + 2)}\n" for x in range(3))
        return program, {"assert": check, "entry_point": "scale"}

    made = {"call x1": ([call(i, 1) for i in range(n)], 1),
            "call x8": ([call(i, 8) for i in range(n)], 8),
            "stdin x1": ([stdin(i) for i in range(n)], 1),
            "assert x1": ([assert_(i) for i in range(n)], 1)}
    return {name: ([p for p, _ in pairs], [t for _, t in pairs], per)
            for name, (pairs, per) in made.items()}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_pool(task, items, workers: int) -> tuple[float, float, list]:
    """(seconds, child CPU seconds, results) of task over items on `workers` threads."""
    cpu, start = children_cpu(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(task, items))
    return time.perf_counter() - start, children_cpu() - cpu, results


def spawn(argv):
    return lambda _: subprocess.run(argv, check=True).returncode


def verify(item):
    program, tests = item
    return verify_code(program, tests, extract=False)


def measure(n: int, rounds: int, workers: int) -> dict:
    """Rates per round: {variant: [(runs/s, CPU ms per run)]} and per-round ratios."""
    loads = workloads(n)
    variants = {"python3 -c pass": spawn([sys.executable, "-c", "pass"]),
                "python3 -S -c pass": spawn([sys.executable, "-S", "-c", "pass"])}
    variants.update({name: verify for name in loads})
    rows = {name: [] for name in variants}
    for round_ in range(rounds):
        order = list(variants)
        order = order[round_ % len(order):] + order[:round_ % len(order)]
        for name in order:
            items = (list(zip(loads[name][0], loads[name][1])) if name in loads
                     else list(range(n)))
            seconds, cpu, results = timed_pool(variants[name], items, workers)
            if name in loads:
                failed = [r.reason for r in results if not r.passed]
                assert not failed, f"{name}: a correct program failed: {failed[:3]}"
            rows[name].append((n / seconds, 1000 * cpu / n))
    return rows


def table(rows: dict, per_test: dict) -> list[str]:
    bare, bare_s = rows["python3 -c pass"], rows["python3 -S -c pass"]
    lines = ["| variant | runs/s | tests/s | CPU ms per run | vs `python3 -c pass` "
             "| vs `python3 -S -c pass` |", "|---|---|---|---|---|---|"]
    for name, values in rows.items():
        rate = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        ratio = statistics.median(v[0] / b[0] for v, b in zip(values, bare))
        ratio_s = statistics.median(v[0] / b[0] for v, b in zip(values, bare_s))
        tests = f"{rate * per_test.get(name, 1):.1f}" if name in per_test else "-"
        lines.append(f"| {name} | {rate:.1f} | {tests} | {cpu:.1f} | {ratio:.2f}x "
                     f"| {ratio_s:.2f}x |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=64, help="programs per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--workers", type=int, default=2, help="parallel launchers")
    parser.add_argument("--quick", action="store_true", help="8 programs, 1 round")
    parser.add_argument("--output", default=None, help="write a Markdown section here")
    args = parser.parse_args(argv)
    if args.quick:
        args.programs, args.rounds = 8, 1
    level = detect_isolation()
    rows = measure(args.programs, args.rounds, args.workers)
    per_test = {name: per for name, (_, _, per) in workloads(1).items()}
    lines = table(rows, per_test)
    headline = statistics.median(v[0] / b[0] for v, b in zip(rows["call x1"],
                                                             rows["python3 -c pass"]))
    command = "python benchmarks/bench_code_verifier.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    section = [
        "## Code verifier: sandboxed test executions per second", "",
        f"Machine: {describe_machine()}; no GPU; {args.workers} launchers; load average "
        f"{os.getloadavg()[0]:.1f} at the start. Python {platform.python_version()}. "
        f"Isolation level: `{level}`. Command: `{command.strip()}`", "",
        f"{args.programs} programs per variant, medians of {args.rounds} interleaved rounds; "
        "ratios are per round, then the median.", "", *lines, "",
        f"Headline: one call-based test per program runs at {headline:.2f}x the rate of bare "
        f"`python3 -c pass` spawns (target: at least 0.7x).", ""]
    print("\n".join(section))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write("\n".join(section))
    return 0


if __name__ == "__main__":
    sys.exit(main())
