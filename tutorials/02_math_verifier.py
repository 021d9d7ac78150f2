# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 2 — The math verifier
#
# In RL with verifiable rewards the verifier *is* the reward model. Every error it makes
# is a gradient: a correct answer judged wrong is a good behaviour punished, a wrong
# answer judged right is a behaviour the policy will learn to repeat — and a policy
# trained for hundreds of steps finds every such hole. This chapter runs
# `srpo_mini.verifiers.math` on the cases that matter:
#
# 1. **extraction** — which part of the completion is the answer;
# 2. **normalization** — the cheap, in-process string rules;
# 3. **the equivalence policy** — what counts as "the same answer", written once in the
#    in `docs/math_verifier.md` (rules 1–11);
# 4. **pitfalls** other graders fall into;
# 5. **safety** — why model text is never evaluated, and what happens to hostile input.
#
# The reward is `verify_math(completion, gold).correct`; the result also carries the
# extracted answer, a reason and the time taken, which the trainer logs per rollout.

# %%
import shutil
import tempfile
import time
from pathlib import Path

import torch

from srpo_mini.prompts import format_completion
from srpo_mini.verifiers.math import extract_answer, verify_math, verify_math_batch
from srpo_mini.verifiers.math_normalize import normalize

torch.set_num_threads(1)


def show(rows, results, width=28):
    """One line per case: the inputs, the verdict and the verifier's reason."""
    for (gold, answer), result in zip(rows, results):
        verdict = "correct  " if result.correct else "incorrect"
        print(f"  gold {gold!s:<{width}} answer {answer!s:<{width}} {verdict} {result.reason}")


# The first call starts the verifier's worker processes (once per process).
assert verify_math(r"\boxed{\sqrt{8}}", r"2\sqrt{2}").correct

# %% [markdown]
# ## 1. Extraction
#
# The answer is the **last** `\boxed{...}` (braces matched), else the content of the last
# `<answer>...</answer>`, else the text after "final answer is". Nothing else: no "last
# number in the text" fallback, because a reward that can be earned by a number that
# merely *appears* in the completion teaches the policy to scatter numbers. The cell
# prints what `extract_answer` returns for a few completions, the first one written with
# the R1-Zero format the tiny world uses (`srpo_mini.prompts.format_completion`).

# %%
completions = [
    format_completion("3+4*5 = 3+20 = 23", r"\boxed{23}"),
    r"First \boxed{22}, no wait: \boxed{23}",
    "<think> 4*5=20 </think> <answer> 23 </answer>",
    "After simplifying, the final answer is 23.",
    r"The result is \boxed{\frac{3}{4}} because \boxed{} was empty",
    "I computed 20, then 23, maybe 24.",
]
for completion in completions:
    print(f"{extract_answer(completion)!r:>14}  <-  {completion!r}")

# %% [markdown]
# ## 2. Normalization
#
# Before anything is parsed, a bounded set of string rewrites removes what never changes
# the value: math delimiters, `\left` / `\right`, spacing commands, `\dfrac` / `\tfrac`,
# thousands separators of a whole-number answer, words in `\text{...}` (units), a trailing
# period. Two answers with the same normalized key are equal without starting sympy at
# all — most rollouts of a training step are decided this way, in the calling process.

# %%
for raw in [r"$\dfrac{3}{4}$", r"\left( 1, 2 \right)", r"1{,}000", r"5 \text{ cm}",
            r"\text{(B)}", r"\textbf{Monday}.", r"x = 5"]:
    n = normalize(raw)
    print(f"{raw!r:26} -> text {n.text!r:14} key {n.key!r:12} kind {n.kind}")

# %% [markdown]
# ## 3. The equivalence policy, case by case
#
# Each row below is one sentence of the policy; `extract=False` compares the answer as
# given. The cell prints the verdict and the verifier's reason for each. Rules worth
# reading the output for:
#
# * exact rationals compare exactly, and a *written decimal* is an approximation that must
#   be right to the digits written (rule 3);
# * other constants must agree to 25 significant digits (rule 4);
# * `p%` matches p and p/100; a unit word is dropped, a glued one is not (rules 5, 6);
# * a leading `x =` is dropped, but an equation is never *solved* (rule 7);
# * tuples are ordered, sets and bare lists are not (rule 10);
# * a letter gold is a multiple-choice answer (rule 11).

# %%
POLICY_CASES = [
    ("0.75", r"\frac{3}{4}"),
    ("1/3", "0.3333333"),
    ("1/3", "0.333"),
    ("1000001", "1000000.5"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    ("75", r"75\%"),
    ("5", r"5 \text{ cm}"),
    ("5", "x = 5"),
    ("5", "x + 1 = 6"),
    ("(1, 2)", "(2, 1)"),
    (r"\{1, 2\}", r"\{2, 1\}"),
    ("(3, \\infty)", "x > 3"),
    ("B", "(B) 42"),
    ("Monday", r"\text{monday}"),
]
start = time.perf_counter()
results = verify_math_batch([a for _, a in POLICY_CASES], [g for g, _ in POLICY_CASES],
                            extract=False)
seconds = time.perf_counter() - start
show(POLICY_CASES, results)
print(f"{len(POLICY_CASES)} checks in {seconds:.2f} s")

# %% [markdown]
# ## 4. Pitfalls of other graders
#
# Graders in common use make mistakes of a few kinds, each of which a policy can exploit
# or suffer from:
#
# * **Low-precision numeric comparison.** Evaluating both sides as floats and comparing
#   with a tolerance calls `1/2^99` equal to `1/2^98` (both are "about 0") and `4` equal to
#   `4 sqrt(2)` under a loose relative tolerance. Here rationals are exact and other
#   constants are compared to 25 digits.
# * **Overly strict string matching.** `1,000` vs `1000`, `\dfrac{3}{4}` vs `0.75`: a
#   correct answer scored 0 pushes the policy away from correct behaviour.
# * **Lenient extraction.** Taking the last number of the text, or any boxed expression
#   that *contains* the gold, rewards hedging. Below: two boxed answers (the last one
#   counts), a list of guesses in one box (a list is not the single gold), and a
#   completion with no stated answer, checked as training rewards check them: strict
#   extraction, a box or an answer tag only (`rewards.math_extraction`). `srpo-mini eval`
#   and `verify-math` extract leniently and would take the last number, 25: still wrong.
# * **Solving for the model.** Accepting `x + 1 = 6` for the gold 5 (section 3) rewards
#   restating the problem.

# %%
PITFALLS = [
    (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}"),
    (r"1-\frac{1}{e}", r"1+\frac{1}{e}"),
    ("4", r"4\sqrt{2}"),
    ("1000", "1,000"),
    (r"\dfrac{3}{4}", "0.75"),
]
show(PITFALLS, verify_math_batch([a for _, a in PITFALLS], [g for g, _ in PITFALLS],
                                 extract=False))
print()
HEDGES = [
    ("23", r"It is \boxed{23} or maybe \boxed{24}"),
    ("23", r"\boxed{22, 23, 24}"),
    ("23", "Candidates: 21 22 23 24 25"),
]
show(HEDGES, verify_math_batch([c for _, c in HEDGES], [g for g, _ in HEDGES], mode="strict"),
     width=38)

# %% [markdown]
# ## 5. Model text is never evaluated
#
# Many graders call `eval`, `sympify`, `parse_expr` or `parse_latex` on the model's
# answer. Those functions execute Python (`sympify` is documented to call `eval`), so a
# policy — or a prompt-injected dataset — can run code inside the trainer. Here the
# answer is tokenized and parsed by the verifier's own recursive-descent parser
# (`math_parse`), which calls sympy *constructors* for the tokens it recognizes and
# fails on anything else; a test (`tests/test_math_safety.py`) checks on the syntax tree
# that no verifier module calls any of those functions.
#
# The cell sends payloads that would create a canary file if anything executed them,
# then checks that the file does not exist. It also sends answers built to exhaust a
# naive grader — a tower of powers, a number with a hundred thousand digits, deep
# nesting — and prints how fast each is refused. Every parse and comparison runs in a
# worker process under a hard wall-clock limit (`timeout`, 2 s by default) and a memory
# cap, so even an answer that slips past the size checks cannot stall a training step.

# %%
canary = Path(tempfile.mkdtemp()) / "canary"
payloads = [
    rf"\boxed{{__import__('os').system('touch {canary}')}}",
    f"<answer>open('{canary}', 'w').write('x')</answer>",
    rf"\boxed{{\immediate\write18{{touch {canary}}}}}",
    f"The final answer is (lambda: open('{canary}', 'w'))()",
]
results = verify_math_batch(payloads, ["1"] * len(payloads))
time.sleep(0.2)
for payload, result in zip(payloads, results):
    print(f"  {result.correct!s:5}  {result.reason:40.40}  <- {payload[:60]!r}")
print("canary file created:", canary.exists())
assert not canary.exists() and not any(r.correct for r in results)
shutil.rmtree(canary.parent)

HOSTILE = {
    "tower of powers": r"\boxed{10^{10^{10^{10}}}}",
    "100,000 digits": r"\boxed{" + "9" * 100_000 + "}",
    "deep nesting": r"\boxed{" + r"\frac{1}{" * 100 + "2" + "}" * 100 + "}",
    "unbalanced braces": r"\boxed{\frac{1}{2" + "{" * 1000,
}
for name, completion in HOSTILE.items():
    start = time.perf_counter()
    result = verify_math(completion, "1", timeout=2.0)
    print(f"  {name:18s} correct={result.correct!s:5} in {time.perf_counter() - start:5.2f} s"
          f"  reason: {result.reason[:60]}")

# %% [markdown]
# What the verifier does **not** guarantee is listed in its module docstring too:
# equivalence is undecidable in general, so expressions with free symbols are compared
# at random points; only the parser's answer language is understood (an integral or
# set-builder notation is "incorrect"); and the question is not read, so a unit or a
# rounding the question asks for is not enforced. The tiny world avoids all three; a
# dataset that needs them needs its own rule.

# %%
print("chapter 2 done")
