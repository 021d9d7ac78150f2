"""Benchmark of the math verifier against Hugging Face Math-Verify: accuracy and speed.

Part 1, a labelled case set (gold, boxed answer, equal?) of unambiguous pairs from every
answer category, including the pitfalls of tolerance-based graders (1/2^99 vs 1/2^98,
e^-20 vs e^-21, 10^20 vs 10^20 + 1), given to both verifiers as the same completions:

  1. accuracy on the equal cases and on the unequal cases, per category, with every case
     either verifier gets wrong listed;
  2. throughput in checks per second on 2 cores, for two workloads: the mixed case set
     (repeated --copies times) and tiny-world reward batches (64 completions per step,
     as in training).

Part 2 (`--real`), the gold answers of the real benchmark files in ../shared/data/real
that the verifier reads as math: each gold against itself in four written forms (a boxed
completion, the bare answer, a final `$...$`, "Therefore, the answer is ..."), and against
perturbed copies as boxed completions (a number changed, a sign flipped, a set element
removed): accuracy per form and checks per second over all of them.

Ours: `verify_math_batch(..., workers=2)` (the calling process extracts answers and
settles plain numbers; 2 worker processes parse the rest). Math-Verify: its own `parse`
+ `verify` in a pool of 2 processes (its signal-based timeout needs each check in a main
thread); the gold is given to it as the answer our gold reading states, in `$...$`. The
two are timed interleaved in one process; figures are medians of --repeats runs.

    python benchmarks/bench_math_verifier.py --output benchmarks/results/math_verifier.md
    python benchmarks/bench_math_verifier.py --real --repeats 3 --output FILE
    python benchmarks/bench_math_verifier.py --quick      # seconds; what the test runs

Math-Verify is needed only here (`pip install "math-verify[antlr4_13_2]"`). The quick
mode measures our side alone; without Math-Verify installed, so does every mode, and it
says so.
"""

from __future__ import annotations

import argparse
import os
import multiprocessing
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy  # noqa: E402

from srpo_mini.machine import describe_machine  # noqa: E402
from srpo_mini.verifiers.math import check_golds, verify_math_batch  # noqa: E402
from srpo_mini.verifiers.math_extract import gold_answer, unwrap_answer  # noqa: E402
from srpo_mini.verifiers.math_parse import _split_top_level  # noqa: E402

try:
    import math_verify
except ImportError:  # the comparison side is optional
    math_verify = None

EQ, NE = True, False

# category: [(gold, answer, equal?)]; every label is the mathematical truth, and both
# verifiers see the same completion "... The final answer is \boxed{answer}."
CASES = {
    "pitfalls": [
        (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}", NE), (r"1-\frac{1}{e}", r"1+\frac{1}{e}", NE),
        ("4", r"4\sqrt{2}", NE), (r"10^{-7}", r"2 \times 10^{-7}", NE),
        (r"\frac{1}{2^{20}}", r"\frac{1}{2^{21}}", NE), ("e^{-20}", "e^{-21}", NE),
        ("10^{20}", "10^{20}+1", NE), ("123456789012345678", "123456789012345679", NE),
        ("0.0000001", "0.0000002", NE), (r"\frac{1}{1000000}", r"\frac{1}{1000001}", NE),
        ("2^{-30}", "0", NE), (r"\frac{1}{3^{15}}", r"\frac{1}{3^{16}}", NE),
        (r"\frac{1}{2^{99}}", "2^{-99}", EQ), (r"1-\frac{1}{e}", "1-e^{-1}", EQ),
        (r"4\sqrt{2}", r"\sqrt{32}", EQ),
    ],
    "integers": [
        ("42", "42", EQ), ("1000", "1,000", EQ), ("-7", "-7", EQ), ("12", "12.0", EQ),
        ("1000000", "10^6", EQ), ("0", "0.0", EQ), ("1024", "2^{10}", EQ), ("120", "5!", EQ),
        ("42", "24", NE), ("-7", "7", NE), ("12", "12.5", NE), ("1000", "100", NE),
        ("1000000", "10^7", NE), ("120", "4!", NE),
    ],
    "fractions and decimals": [
        (r"\frac{3}{4}", "0.75", EQ), (r"\frac{3}{4}", "3/4", EQ), (r"\frac12", r"\frac{1}{2}", EQ),
        (r"\frac{6}{8}", r"\frac{3}{4}", EQ), (r"-\frac{1}{2}", "-0.5", EQ),
        (r"\dfrac{5}{2}", "2.5", EQ), (r"\frac{7}{3}", r"2\frac{1}{3}", EQ),
        (r"0.\overline{3}", r"\frac{1}{3}", EQ),
        (r"\frac{3}{4}", r"\frac{4}{3}", NE), ("0.75", "0.57", NE),
        (r"\frac{1}{2}", r"-\frac{1}{2}", NE), (r"\frac{2}{3}", "0.6", NE),
        (r"\frac{5}{7}", r"\frac{7}{5}", NE),
    ],
    "roots": [
        (r"2\sqrt{2}", r"\sqrt{8}", EQ), (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", EQ),
        (r"\sqrt[3]{8}", "2", EQ), (r"3\sqrt{3}", r"\sqrt{27}", EQ),
        (r"\sqrt{12}", r"2\sqrt{3}", EQ), (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}", EQ),
        (r"\sqrt{2}", r"\sqrt{3}", NE), (r"2\sqrt{2}", r"\sqrt{6}", NE),
        (r"\sqrt[3]{2}", r"\sqrt{2}", NE), (r"\frac{\sqrt{3}}{2}", r"\frac{\sqrt{2}}{2}", NE),
    ],
    "pi and e": [
        (r"2\pi", r"2 \pi", EQ), (r"\frac{\pi}{2}", r"\pi/2", EQ),
        (r"\frac{\pi}{3}", r"\frac{1}{3}\pi", EQ), ("e^2", r"e \cdot e", EQ),
        (r"\pi r^2", r"r^2\pi", EQ),
        (r"\pi", "e", NE), (r"2\pi", r"\pi", NE), (r"\pi+1", r"\pi-1", NE),
        (r"\frac{\pi}{2}", r"\frac{\pi}{3}", NE), ("e^2", "2e", NE),
    ],
    "powers and scientific": [
        ("x^2", r"x \cdot x", EQ), ("(-2)^3", "-8", EQ), ("10^{-3}", "0.001", EQ),
        ("2^{2024}", r"2 \cdot 2^{2023}", EQ), ("3^{40}", "12157665459056928801", EQ),
        ("1500", r"1.5 \times 10^{3}", EQ), ("0.00012", r"1.2 \times 10^{-4}", EQ),
        (r"6.02 \times 10^{23}", r"6.02 \cdot 10^{23}", EQ),
        ("2^{2024}", "2^{2023}", NE), ("3^{100}", "3^{99}", NE), ("x^2", "x^3", NE),
        ("(-2)^3", "8", NE), (r"1.5 \times 10^{3}", r"1.5 \times 10^{4}", NE),
    ],
    "symbolic": [
        ("(x+1)^2", "x^2+2x+1", EQ), ("x^2-1", "(x-1)(x+1)", EQ),
        (r"\frac{x^2-1}{x-1}", "x+1", EQ), (r"2\sin x\cos x", r"\sin 2x", EQ),
        (r"\sin^2 x+\cos^2 x", "1", EQ), (r"\frac{n(n+1)}{2}", r"\frac{n^2+n}{2}", EQ),
        ("a^2-b^2", "(a+b)(a-b)", EQ), ("e^{x+y}", "e^x e^y", EQ),
        (r"\frac{1}{x}+\frac{1}{y}", r"\frac{x+y}{xy}", EQ), (r"\log_2 8", "3", EQ),
        (r"\ln(e^3)", "3", EQ), (r"\tan x", r"\frac{\sin x}{\cos x}", EQ),
        ("2x+3y", "3y+2x", EQ),
        ("(x+1)^2", "x^2+1", NE), (r"\sin(2x)", r"2\sin x", NE), ("x^2-1", "(x-1)^2", NE),
        (r"\frac{n(n+1)}{2}", r"\frac{n(n-1)}{2}", NE), ("2x", "2y", NE),
        ("e^{x}", "e^{-x}", NE), (r"\frac{1}{x+1}", r"\frac{1}{x}+1", NE),
    ],
    "equations": [
        ("x=5", "5", EQ), ("5", "x=5", EQ), ("y=2x+1", "y=1+2x", EQ),
        ("x^2+y^2=1", "y^2+x^2=1", EQ),
        ("x=5", "x=6", NE), ("y=2x+1", "y=2x-1", NE), ("x^2+y^2=1", "x^2+y^2=4", NE),
    ],
    "intervals and inequalities": [
        (r"(3,\infty)", r"(3, \infty)", EQ), ("[1,2]", "[1, 2]", EQ),
        (r"(-\infty,0)\cup(0,\infty)", r"(0,\infty)\cup(-\infty,0)", EQ),
        (r"[0,\frac{1}{2}]", "[0,0.5]", EQ), ("[1,3]", r"[1,2]\cup[2,3]", EQ),
        ("x>3", r"(3,\infty)", EQ), (r"x \le 2", r"(-\infty, 2]", EQ),
        ("[1,2]", "(1,2)", NE), ("(1,2]", "[1,2)", NE), (r"(3,\infty)", r"[3,\infty)", NE),
        (r"[0,1]\cup[2,3]", r"[0,1]\cup[2,4]", NE), (r"(-\infty,2)", r"(2,\infty)", NE),
        ("x>3", "x<3", NE), (r"x\ge 3", r"(3,\infty)", NE),
    ],
    "tuples and sets": [
        (r"\{1,2\}", r"\{2,1\}", EQ), ("(1,2)", "(1, 2)", EQ), ("(1,-2)", "(1, -2)", EQ),
        (r"\{1,2,3\}", r"\{3,2,1\}", EQ), ("1,2", "2,1", EQ),
        (r"(\frac{1}{2}, 3)", "(0.5, 3)", EQ),
        ("(1,2)", "(2,1)", NE), (r"\{1,2\}", r"\{1,3\}", NE), ("(1,2,3)", "(1,2)", NE),
        (r"\{1,2\}", r"\{1,2,3\}", NE), ("(1, -2)", "(-1, 2)", NE),
    ],
    "matrices": [
        (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{bmatrix}1&2\\3&4\end{bmatrix}", EQ),
        (r"\begin{pmatrix}1/2\\1\end{pmatrix}", r"\begin{pmatrix}0.5\\1\end{pmatrix}", EQ),
        (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix}1&3\\2&4\end{pmatrix}", NE),
        (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix}2\\1\end{pmatrix}", NE),
    ],
    "units, text, choices": [
        ("5", r"5 \text{ cm}", EQ), ("12", r"\$12", EQ), (r"30^\circ", "30", EQ),
        (r"\text{Monday}", r"\text{Monday}", EQ), (r"75\%", r"75\%", EQ), ("B", r"\text{(B)}", EQ),
        ("C", "C", EQ),
        ("B", "C", NE), (r"\text{Monday}", r"\text{Tuesday}", NE), ("5", r"6 \text{ cm}", NE),
        (r"30^\circ", r"60^\circ", NE), (r"75\%", r"76\%", NE),
    ],
    "complex numbers": [
        ("3+4i", "4i+3", EQ), (r"e^{i\pi}", "-1", EQ), ("3+4i", "3-4i", NE), ("i", "-i", NE),
    ],
}

ROWS = [(category, gold, answer, equal) for category, rows in CASES.items()
        for gold, answer, equal in rows]


def completion_of(answer: str) -> str:
    return f"<think> working </think> <answer> The final answer is \\boxed{{{answer}}}. </answer>"


def tiny_world_batches(n_batches: int, group_size: int = 8) -> list[tuple[list, list, list]]:
    """Reward batches as in training: 8 prompts x 8 completions, a mix of right answers in
    every accepted form and plausible slips, from the offline tiny world. Each batch is
    (completions, golds, labels); the labels come from the generator (form: equal, slip:
    unequal), not from this benchmark."""
    from srpo_mini.data.synthetic import MATH_LEVELS, generate
    from srpo_mini.prompts import format_completion

    worked = [w for level in MATH_LEVELS for w in generate("math", level, 8 * n_batches, seed=3)]
    batches = []
    for b in range(n_batches):
        completions, golds, labels = [], [], []
        for w in worked[b * 8:(b + 1) * 8]:
            options = [(f"\\boxed{{{f}}}", True) for f in w.forms] + [(s, False)
                                                                        for s in w.slips]
            for g in range(group_size):
                answer, label = options[g % len(options)]
                completions.append(format_completion("steps", answer))
                golds.append(w.problem.answer)
                labels.append(label)
        batches.append((completions, golds, labels))
    return batches


# --- real benchmark files ------------------------------------------------------------

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"


def stated_answer(gold: str) -> str:
    """The answer a gold label states, without delimiters: what the written forms carry."""
    return unwrap_answer(gold_answer(gold))


def written_forms(gold: str) -> list[tuple[str, str, bool]]:
    """(form name, text, extract?) of one gold: boxed, bare, $...$, "The answer is"."""
    answer = stated_answer(gold)
    forms = [("boxed", f"So the final result is \\boxed{{{answer}}}.", True),
             ("bare", answer, False)]
    if "$" not in answer and "\n" not in answer:
        forms += [("inline math", f"We find ${answer}$", True),
                  ("answer is", f"Therefore, the answer is {answer}", True)]
    return forms


# A whole number or decimal that is not an exponent, a root index or part of a name.
_NUMBER = re.compile(r"(?<![\w\\{_^.\[])\d+(?:\.\d+)?(?![\d.]|\s*\^)")


def perturbed_copies(gold: str) -> list[tuple[str, str]]:
    """(kind, copy) pairs that must not equal the gold: the last number changed (past any
    decimal tolerance), and the last list element removed or, for a single value, the sign
    flipped."""
    answer = stated_answer(gold)
    copies = []
    # after the last `=` or `\approx`: worked steps end in the answer (the policy reads
    # the last side of `a = b = c` and of `a \approx b \approx c`)
    approx = answer.rfind("\\approx")
    tail = max(answer.rfind("=") + 1, approx + len("\\approx") if approx >= 0 else 0)
    number = None
    for number in _NUMBER.finditer(answer, tail):
        pass
    if number:
        whole, dot, fraction = number.group().partition(".")
        changed = str(int(whole) + 1) + dot + fraction
        copies.append(("number changed",
                       answer[:number.start()] + changed + answer[number.end():]))
    parts = _split_top_level(answer)
    if len(parts) > 1:
        copies.append(("element removed", ",".join(parts[:-1])))
    elif not re.search(r"^-|=|<|>|\\[lg]e|\\pm|\\mp", answer.strip()) \
            and re.search("[1-9]", answer):  # -0 is 0; a relation has no sign to flip
        copies.append(("sign flipped", f"-({answer})"))
    return copies


def real_math_golds(every: int = 1) -> list[tuple[str, str]]:
    """(file, gold) for every gold of the real files that the verifier reads as math
    (every `every`-th of them)."""
    from srpo_mini.data.adapters import GOLD_FIELDS, read_golds

    missing = [name for name in GOLD_FIELDS if not (REAL / name).is_file()]
    if missing:
        raise SystemExit(f"real data missing from {REAL.resolve()}: {missing}")
    golds = []
    for name in GOLD_FIELDS:
        values = read_golds(REAL / name)
        golds += [(name, gold) for gold, check in zip(values, check_golds(values, workers=2))
                  if check.kind == "math"]
    return golds[::every]


def real_rows(golds) -> list[tuple[str, str, str, bool, bool]]:
    """(form, gold, text, extract?, equal?) rows: every written form, every perturbed copy
    as a boxed completion."""
    rows = []
    for _, gold in golds:
        rows += [(form, gold, text, extract, True) for form, text, extract in written_forms(gold)]
        rows += [(kind, gold, f"So the final result is \\boxed{{{copy}}}.", True, False)
                 for kind, copy in perturbed_copies(gold)]
    return rows


def ours_real(rows) -> list[bool]:
    """Our verdicts: completions extracted (lenient), bare answers read as they are."""
    verdicts = [None] * len(rows)
    for extract in (True, False):
        index = [i for i, row in enumerate(rows) if row[3] is extract]
        results = verify_math_batch([rows[i][2] for i in index], [rows[i][1] for i in index],
                                    extract=extract, workers=2)
        for i, result in zip(index, results):
            verdicts[i] = result.correct
    return verdicts


def run_real(args, pool) -> dict:
    """Verdicts and timings; every timed run also gives verdicts (Math-Verify takes minutes
    per run), and the report keeps the first run's."""
    golds = real_math_golds(args.every)
    rows = real_rows(golds)
    mv_golds = [stated_answer(row[1]) for row in rows]
    texts = [row[2] for row in rows]
    report = {"golds": golds, "rows": rows}
    our_times, mv_times = [], []
    for _ in range(args.repeats):  # interleaved, so both sides see the same load
        started = time.perf_counter()
        report.setdefault("ours", ours_real(rows))
        our_times.append(time.perf_counter() - started)
        if pool is not None:
            started = time.perf_counter()
            report.setdefault("mv", mv_batch(pool, texts, mv_golds))
            mv_times.append(time.perf_counter() - started)
    report["speed"] = {"checks": len(rows), "ours": len(rows) / statistics.median(our_times),
                       "mv": len(rows) / statistics.median(mv_times) if mv_times else None,
                       "ours_times": our_times, "mv_times": mv_times}
    return report


def real_markdown(report, args, load) -> str:
    rows, golds = report["rows"], report["golds"]
    per_file = Counter(name for name, _ in golds)
    forms = list(dict.fromkeys(row[0] for row in rows))
    lines = ["### Real benchmark files: gold against itself and against perturbed copies", "",
             f"{len(golds)} golds read as math from ../shared/data/real ("
             + ", ".join(f"{name} {n}" for name, n in per_file.items())
             + f"), {len(rows)} checks: each gold against itself in four written forms "
             "(equal) and against perturbed copies as boxed completions (unequal). "
             "Math-Verify gets the gold as the answer our gold reading states, in `$...$`; "
             "the bare form goes to our `extract=False` and to Math-Verify's `parse` as it is.",
             "", "| form | truth | checks | srpo_mini right | Math-Verify right |",
             "|---|---|---|---|---|"]
    for side in (True, False):
        for form in forms:
            index = [i for i, row in enumerate(rows) if row[0] == form and row[4] is side]
            if not index:
                continue
            ours = sum(report["ours"][i] is side for i in index)
            mv = sum(report["mv"][i] is side for i in index) if "mv" in report else None
            lines.append(f"| {form} | {'equal' if side else 'unequal'} | {len(index)} | "
                         f"{ours} ({ours / len(index):.1%}) | "
                         + (f"{mv} ({mv / len(index):.1%}) |" if mv is not None else "- |"))
        index = [i for i, row in enumerate(rows) if row[4] is side]
        ours = sum(report["ours"][i] is side for i in index)
        mv = sum(report["mv"][i] is side for i in index) if "mv" in report else None
        lines.append(f"| **all {'equal' if side else 'unequal'}** | | {len(index)} | "
                     f"**{ours}/{len(index)} ({ours / len(index):.1%})** | "
                     + (f"**{mv}/{len(index)} ({mv / len(index):.1%})** |" if mv is not None
                        else "- |"))
    s = report["speed"]
    times = ", ".join(f"{t:.1f}" for t in s["ours_times"])
    mv_times = ", ".join(f"{t:.1f}" for t in s["mv_times"]) or "-"
    ratio = f"{s['ours'] / s['mv']:.1f}x" if s["mv"] else "-"
    mv_rate = f"{s['mv']:,.0f}" if s["mv"] else "-"
    lines += ["", f"| throughput, {s['checks']} checks per run, median of {args.repeats} "
              "| srpo_mini | Math-Verify | srpo_mini / Math-Verify |", "|---|---|---|---|",
              f"| checks/s | {s['ours']:,.0f} | {mv_rate} | {ratio} |",
              f"| seconds per run | {times} | {mv_times} | |", "",
              f"Both sides: 2 processes. Load average {load[0]:.2f} before, {load[1]:.2f} "
              "after (2 cores; above 2 means the machine was shared with other work).", ""]
    wrong_both = [(row, ours) for row, ours, mv in zip(rows, report["ours"],
                                                         report.get("mv", report["ours"]))
                  if ours is not row[4]]
    lines += [f"srpo_mini wrong on {len(wrong_both)} checks" + (":" if wrong_both else "."), ""]
    lines += [f"- [{row[0]}] gold `{row[1][:80]}`, text `{row[2][:80]}`"
              for row, _ in wrong_both[:20]]
    return "\n".join(lines) + "\n"


# --- Math-Verify side ---------------------------------------------------------------

def _mv_check(pair) -> bool:
    gold, completion = pair
    try:
        return bool(math_verify.verify(math_verify.parse(f"${gold}$"),
                                       math_verify.parse(completion)))
    except Exception:  # a grader error counts as "not equal"
        return False


def _mv_chunk(pairs) -> list[bool]:
    return [_mv_check(pair) for pair in pairs]


def _chunks(items, n):
    size = max(1, len(items) // n)
    return [items[i:i + size] for i in range(0, len(items), size)]


def mv_batch(pool, completions, golds) -> list[bool]:
    pairs = list(zip(golds, completions))
    return [v for chunk in pool.map(_mv_chunk, _chunks(pairs, 8)) for v in chunk]


# --- measurement --------------------------------------------------------------------

def accuracy(verdicts, rows) -> dict:
    """Fraction right on the equal rows, the unequal rows, and all rows."""
    right = [v == row[3] for v, row in zip(verdicts, rows)]
    equal = [r for r, row in zip(right, rows) if row[3]]
    unequal = [r for r, row in zip(right, rows) if not row[3]]
    return {"equal": (sum(equal), len(equal)), "unequal": (sum(unequal), len(unequal)),
            "all": (sum(right), len(right))}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(args, pool) -> dict:
    rows = ROWS[::3] if args.quick else ROWS
    completions = [completion_of(row[2]) for row in rows]
    golds = [row[1] for row in rows]
    ours = [r.correct for r in verify_math_batch(completions, golds, workers=2)]
    report = {"rows": rows, "ours": ours, "ours_acc": accuracy(ours, rows)}
    if pool is not None:
        mv = mv_batch(pool, completions, golds)
        report.update(mv=mv, mv_acc=accuracy(mv, rows))

    batches = tiny_world_batches(1 if args.quick else args.batches)
    tiny_rows = [("tiny world", g, c, label) for c_, g_, l_ in batches
                 for c, g, label in zip(c_, g_, l_)]
    tiny_completions, tiny_golds = [r[2] for r in tiny_rows], [r[1] for r in tiny_rows]
    report["tiny_acc"] = accuracy([r.correct for r in verify_math_batch(
        tiny_completions, tiny_golds, workers=2)], tiny_rows)
    if pool is not None:
        report["tiny_mv_acc"] = accuracy(mv_batch(pool, tiny_completions, tiny_golds),
                                         tiny_rows)

    mixed = (completions * args.copies, golds * args.copies)
    workloads = {"mixed case set": [mixed],
                 "tiny-world reward batches (64 per step)": [b[:2] for b in batches]}
    speed = {}
    for name, parts in workloads.items():
        n = sum(len(c) for c, _ in parts)
        our_times, mv_times = [], []
        for _ in range(args.repeats):  # interleaved, so both sides see the same load
            our_times.append(timed(lambda: [verify_math_batch(c, g, workers=2)
                                            for c, g in parts]))
            if pool is not None:
                mv_times.append(timed(lambda: [mv_batch(pool, c, g) for c, g in parts]))
        speed[name] = {"checks": n, "ours": n / statistics.median(our_times),
                       "mv": n / statistics.median(mv_times) if mv_times else None}
    report["speed"] = speed
    return report


def machine(args, use_mv: bool) -> str:
    """One line: CPU, cores, versions, and the command that produced the table."""
    from importlib.metadata import version

    mv = (version("math-verify") if use_mv else "not run (quick mode)" if math_verify
          else "not installed (its side skipped)")
    return (f"Machine: {describe_machine()}; no GPU. Python {platform.python_version()}, "
            f"sympy {sympy.__version__}, math-verify {mv}. "
            f"Command: `python benchmarks/bench_math_verifier.py {' '.join(args.argv)}`")


def markdown(report, args, use_mv: bool) -> str:
    rows = report["rows"]
    lines = ["## Math verifier: accuracy and throughput against Math-Verify", "",
             machine(args, use_mv), "",
             f"Case set: {len(rows)} labelled pairs in {len(CASES)} categories "
             f"({sum(r[3] for r in rows)} equal, {sum(not r[3] for r in rows)} unequal), "
             "each given to both verifiers as the completion `... The final answer is "
             "\\boxed{answer}.` against the gold (wrapped in `$...$` for Math-Verify, whose "
             "`parse` needs delimiters).", "",
             "| accuracy | ours | Math-Verify |", "|---|---|---|"]
    for prefix, ours_key, mv_key in (("", "ours_acc", "mv_acc"),
                                     ("tiny world, ", "tiny_acc", "tiny_mv_acc")):
        for key in ("equal", "unequal", "all"):
            ours = report[ours_key][key]
            mv = report.get(mv_key, {}).get(key)
            cell = f"{mv[0]}/{mv[1]} ({mv[0] / mv[1]:.1%})" if mv else "-"
            lines.append(f"| {prefix}{key} cases | {ours[0]}/{ours[1]} "
                         f"({ours[0] / ours[1]:.1%}) | {cell} |")
    lines += ["", "| throughput (checks/s, 2 cores, median of "
              f"{args.repeats}) | checks per run | ours | Math-Verify | ours / Math-Verify |",
              "|---|---|---|---|---|"]
    for name, s in report["speed"].items():
        mv = f"{s['mv']:,.0f}" if s["mv"] else "-"
        ratio = f"{s['ours'] / s['mv']:.1f}x" if s["mv"] else "-"
        lines.append(f"| {name} | {s['checks']} | {s['ours']:,.0f} | {mv} | {ratio} |")
    wrong = []
    for i, row in enumerate(rows):
        ours_ok = report["ours"][i] == row[3]
        mv_ok = report["mv"][i] == row[3] if "mv" in report else True
        if not (ours_ok and mv_ok):
            who = "both" if not ours_ok and not mv_ok else "ours" if not ours_ok else \
                "Math-Verify"
            label = "equal" if row[3] else "unequal"
            wrong.append(f"| {row[0]} | `{row[1]}` | `{row[2]}` | {label} | {who} |")
    lines += ["", "Cases either verifier gets wrong:", "",
              "| category | gold | answer | truth | wrong |", "|---|---|---|---|---|"]
    lines += wrong or ["| - | - | - | - | none |"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a third of the cases, one repeat, our side only: seconds "
                             "(what the test runs)")
    parser.add_argument("--real", action="store_true",
                        help="part 2 instead of part 1: the golds of the real benchmark files")
    parser.add_argument("--every", type=int, default=1,
                        help="with --real, every n-th readable gold (--quick: 40)")
    parser.add_argument("--copies", type=int, default=5,
                        help="times the case set is repeated per throughput run")
    parser.add_argument("--batches", type=int, default=10,
                        help="tiny-world reward batches of 64 per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per workload")
    parser.add_argument("--output", default=None, help="write the Markdown section here")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.quick:
        args.copies, args.batches, args.repeats = 1, 1, 1
        args.every = max(args.every, 40)
    use_mv = math_verify is not None and not args.quick
    if math_verify is None:
        print("math-verify is not installed: measuring our verifier only "
              '(pip install "math-verify[antlr4_13_2]" for the comparison)', file=sys.stderr)
    pool = multiprocessing.get_context("spawn").Pool(2) if use_mv else None
    try:
        if args.real:
            load_before = os.getloadavg()[0]
            report = run_real(args, pool)
            text = "\n".join([machine(args, use_mv), "", real_markdown(
                report, args, (load_before, os.getloadavg()[0]))])
        else:
            text = markdown(run(args, pool), args, use_mv)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
