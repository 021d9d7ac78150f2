"""The math verifier: is the final answer of a completion equivalent to the gold answer?

This is the accuracy reward of the math domain,

    r(completion, gold) = 1  if  extract(completion) ≡ gold  under the policy below,
                          0  otherwise (wrong, missing, unparseable, too large, too slow),

the rule-based outcome reward of DeepSeek-R1-Zero (arXiv 2501.12948, section 2.2.2) that
SRPO (arXiv 2504.14286) trains with. It runs on every rollout of every step,
so it is built for throughput: cheap decisions are made in the calling process, and only
answers that need sympy go to a pool of worker processes (`workers.py`), which is started
once, reused, and works from any thread.

Pipeline (modules):
    math_extract    the final answer, strict or lenient (docs/math_verifier.md); gold
                    labels as datasets write them (`gold_answer`).
    math_normalize  bounded string normalization; decides equal strings, multiple-choice
                    letters, word answers and plain rationals in process.
    math_tokens     the tokenizer of the answer language.
    math_build      the sympy constructors the grammar calls, with size guards.
    math_parse      the recursive-descent parser: tokens -> sympy objects by construction.
    math_compare    exact -> numeric -> symbolic comparison, in a worker process under a
                    hard wall-clock limit.
    math_policy     the constants named below.

Differences from the paper: SRPO does not publish its verifier; like DeepSeek-R1 it
rewards a correct final answer with 1. The equivalence policy below is ours.

Guarantees
    - Model text is never executed: no eval, exec, compile, sympify or parse_expr sees it.
      The parser calls sympy constructors for the tokens it recognizes; anything else is
      a parse failure ("incorrect" with a reason).
    - Never raises and never hangs: every parse and comparison runs in a worker under a
      hard wall-clock limit (`timeout`, default 2 s) that holds when called from any
      thread; a stuck worker is killed and replaced; each worker's address space is capped
      (RLIMIT_AS, `WORKER_MEMORY_MB`). Sizes are checked before sympy builds anything
      (`10^{10^{10}}`, 100,000-digit powers, deep nesting are refused, not computed).
    - Deterministic: the random points of step 4 below come from a fixed seed.
    - Order preserved in batches; one result per input.
Non-guarantees
    - Equivalence is undecidable in general. Expressions with free symbols are judged by
      evaluation at random points (agreement is accepted without proof); constant
      expressions that agree to 25 significant digits are judged equal.
    - Only the answer language of the parser is understood (see `math_parse`); anything
      else (infinite series, piecewise functions, unevaluated integrals) is "incorrect";
      docs/math_verifier.md lists the forms real golds use and those not read.
    - Answers are compared, not checked against the question: a unit the question asks
      for, or a rounding the question demands, is not enforced.
    - The time limit is per check and counts from when a worker takes the check: a
      batch larger than the pool, or batches from several threads sharing the pool, wait
      for a free worker first; the first batch also pays for starting the workers
      (about a second, once).
    - RLIMIT_AS is not enforced on macOS; workers need a POSIX system.

Equivalence POLICY (the one place it is written; constants in `math_policy`)
    1. Extraction: strict (last \\boxed{...} / \\fbox{...}, else the last <answer> tag) or
       lenient (then "final answer is", "Answer:" / "A:" / "####" lines, the last math
       span, the last number); see `math_extract` and docs/math_verifier.md.
    2. Same string after normalization (whitespace ignored) -> equal. Normalization:
       delimiters, \\left/\\right, spacing commands, \\dfrac/\\tfrac, `\\$`, trailing period.
    3. Numbers: integers with thousands separators (`1,000,000`, `1{,}000`, `1\\,000`:
       only when the whole answer is that number; inside tuples a comma separates),
       decimals, fractions (`\\frac`, `\\dfrac`, `\\frac12`, `a/b`), mixed numbers
       (`2\\frac{1}{3}` = 7/3: an integer followed by a proper fraction of integers;
       `2\\frac{4}{3}` and `2\\frac{x}{3}` are products), scientific notation
       (`1.5e3`, `1.5 \\times 10^3`), repeating decimals (`0.\\overline{3}`), base
       subscripts (`1011_2`). Exact rationals compare exactly (0.75 = 3/4).
       A written decimal is an approximation: it matches v when the relative difference
       is <= 1e-6, and a bare decimal must also be within one unit of its last written
       digit (0.3333333 = 1/3; 0.333 != 1/3; 3.14159 = pi; 1000000.5 != 1000001;
       `3.14159 \\times 10^5` = pi 10^5). The rule applies to each scalar that contains a
       written decimal, so in `(0.5, 1000000)` only the first entry is approximate.
    4. Other constants (roots, pi, e, logs, trig): equal when they agree to 25 digits
       (sqrt(8) = 2 sqrt(2); 1 - 1/e != 1 + 1/e; 4 != 4 sqrt(2); 1/2^99 != 1/2^98).
       Expressions with free symbols: equal when `expand(a - b) == 0`, or when they agree
       at 6 random rational points in [-3, 3] (one disagreement: unequal).
       `e` is Euler's number, `i` the imaginary unit, `\\log` the natural logarithm
       (`\\log_b` has base b).
    5. Percent: `p%` matches p and p/100 (75% = 75 = 0.75); two percents compare as
       written (75% != 0.75%). Degrees: `d°` matches d and d*pi/180 (30° = 30 = pi/6).
    6. Units and words: a unit of `math_policy.IGNORED_UNITS` after a value is dropped
       (`5 \\text{ cm}` = 5, `5 cm`; `5cm` is 5*c*m); other words in `\\text{}` are
       compared, case-insensitively (`4:30 \\text{ p.m.}` != `4:30 \\text{ a.m.}`).
       `\\text{or}` / `\\text{and}`, and a bare `or` / `and` between numbers or
       equations, separate answers. A whole answer of words ("Monday",
       "no solution") is compared as words, case-insensitively.
    7. Equations: a leading `name =` is dropped on either side (`x = 5` = 5; also
       `y = 2x+1` = `2x+1`, `f(x) = x^2` = `x^2`); targets are not compared. Two equations
       are equal when lhs - rhs are proportional (`y = 2x+1` = `2x - y + 1 = 0`).
       An equation is never solved (`x + 1 = 6` != 5).
    8. Linear inequalities in one variable (and chains and lists of them) are sets:
       `x > 3` = `(3, \\infty)`; `1 < x \\le 2` = `(1, 2]`; `x < 1 \\text{ or } x > 2` =
       `(-\\infty,1) \\cup (2,\\infty)`. Other inequalities compare as g > 0 with g
       proportional by a positive constant (`x^2 > 4` is not solved).
    9. Intervals and unions: endpoints by rule 3/4, open/closed must agree. `(a, b)` is a
       point or an open interval: compared as a tuple against a tuple, as an interval
       against a set. `[a, b]` with a < b is a closed interval.
    10. Ordered vs unordered: tuples `(a, b)` and matrices are ordered; sets `\\{a, b\\}`
       and bare lists `a, b` (and `\\pm` answers: `\\pm 2` = `2, -2`) are unordered, with
       multiplicity; a bare list against a tuple is ordered. A one-element set equals its
       element. A column or row vector equals the tuple of its entries.
    11. Multiple choice: a gold that is a single capital letter A-J, bare or as `(B)` /
       `\\text{(B)}`, is matched against the letter the answer opens with.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from .math_extract import EXTRACTION_MODES, extract_answer, gold_answer, prose_kind
from .math_normalize import leading_choice, normalize, numbers_agree, simple_number
from .math_policy import DEFAULT_TIMEOUT, MAX_ANSWER_CHARS, MAX_EXTRACT_CHARS, WORKER_MEMORY_MB
from .workers import WorkerPool

__all__ = ["MathResult", "verify_math", "verify_math_batch", "extract_answer",
           "GoldCheck", "check_golds"]

_TARGET = "srpo_mini.verifiers.math_compare:compare_task"
_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


@dataclass(frozen=True)
class MathResult:
    """correct: the reward bit; reason: why ("equal: ...", "unequal: ...", "no answer
    found", "timeout: ...", ...); extracted: the answer compared (None when none was
    found); seconds: wall-clock time of this check."""

    correct: bool
    reason: str
    extracted: str | None
    seconds: float


def verify_math(completion: str, gold: str, *, extract: bool = True,
                timeout: float = DEFAULT_TIMEOUT, mode: str = "lenient") -> MathResult:
    """Check one completion (or, with `extract=False`, one bare answer) against `gold`.

    timeout: hard wall-clock limit in seconds for the parse-and-compare step.
    mode: answer extraction, "lenient" (the full fallback chain) or "strict" (a box or an
        answer tag only); see `math_extract`.
    Returns a MathResult; never raises.
    """
    return verify_math_batch([completion], [gold], extract=extract, timeout=timeout,
                             workers=1, mode=mode)[0]


def verify_math_batch(completions: list[str], golds: list[str], *, extract: bool = True,
                      timeout: float = DEFAULT_TIMEOUT, workers: int | None = None,
                      mode: str = "lenient") -> list[MathResult]:
    """Check completions[i] against golds[i] for all i, spread over worker processes.

    completions, golds: equal-length lists (B*G completions, each with its gold).
    workers: processes to use (default: the number of CPU cores).
    mode: answer extraction, "lenient" or "strict" (see `verify_math`).
    Returns one MathResult per pair, in order; never raises.
    """
    if mode not in EXTRACTION_MODES:
        return [MathResult(False, f"error: extraction mode {mode!r} is not one of "
                           f"{EXTRACTION_MODES}", None, 0.0)] * len(completions)
    try:
        items = [(c, g, extract and mode) for c, g in zip(completions, golds, strict=True)]
    except (TypeError, ValueError) as err:
        n = len(completions) if hasattr(completions, "__len__") else 0
        return [MathResult(False, f"error: bad batch ({err})", None, 0.0)] * n
    return _verify(items, timeout, workers)


@dataclass
class _Job:
    """A pair the in-process checks could not decide: parse and compare in a worker."""

    gold: str
    answer: str
    extracted: str
    index: int = -1
    seconds: float = 0.0


def _verify(items, timeout: float, workers: int | None) -> list[MathResult]:
    """items: (completion_or_answer, gold, extract) triples; extract is False (a bare
    answer) or the extraction mode."""
    results: list = [None] * len(items)
    pending: list[_Job] = []
    gold_cache: dict = {}
    for index, (text, gold, extract) in enumerate(items):
        start = time.perf_counter()
        try:
            verdict = _in_process(text, gold, extract, gold_cache)
        except Exception as err:  # never raise into the trainer
            verdict = (False, f"error: {type(err).__name__}", None)
        seconds = time.perf_counter() - start
        if isinstance(verdict, _Job):
            verdict.index, verdict.seconds = index, seconds
            pending.append(verdict)
        else:
            results[index] = MathResult(bool(verdict[0]), verdict[1], verdict[2], seconds)
    if pending and not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        for p in pending:
            results[p.index] = MathResult(False, "error: timeout must be a positive number "
                                          "of seconds", p.extracted, p.seconds)
        pending = []
    if pending:
        try:
            outcomes = _pool(workers).map([(p.gold, p.answer) for p in pending],
                                          timeout=float(timeout), max_workers=workers)
        except Exception as err:  # e.g. no processes can be started
            outcomes = [None] * len(pending)
            failure = f"error: verifier workers unavailable ({type(err).__name__})"
        for p, outcome in zip(pending, outcomes):
            if outcome is None:
                correct, reason = False, failure
            elif outcome.status == "ok":
                correct, reason = bool(outcome.value[0]), str(outcome.value[1])
            elif outcome.status == "timeout":
                correct, reason = False, f"timeout: no verdict within {timeout:g} s"
            elif outcome.status == "crashed":
                correct, reason = False, f"error: worker crashed ({outcome.detail})"
            else:
                correct, reason = False, f"error: {outcome.detail}"
            seconds = p.seconds + (outcome.seconds if outcome is not None else 0.0)
            results[p.index] = MathResult(correct, reason, p.extracted, seconds)
    return results


def _in_process(text, gold, extract: bool, gold_cache: dict):
    """The checks that cannot hang: (correct, reason, extracted) when decided, else a
    `_Job` for a worker."""
    if not isinstance(gold, str) or not gold.strip():
        return False, "error: empty gold answer", None
    if extract:
        if isinstance(text, str) and len(text) > MAX_EXTRACT_CHARS:
            return False, f"completion too long ({len(text)} characters)", None
        answer = extract_answer(text, extract) if isinstance(text, str) else None
        if answer is None:
            return False, "no answer found", None
    elif not isinstance(text, str):
        return False, "error: answer is not a string", None
    else:
        answer = text
    if len(answer) > MAX_ANSWER_CHARS:
        return False, f"answer too long ({len(answer)} characters)", answer[:200]
    if gold not in gold_cache:
        gold_cache[gold] = normalize(gold_answer(gold))
    g, c = gold_cache[gold], normalize(answer)
    if not c.text:
        return False, "empty answer", answer
    if g.key == c.key:
        return True, "equal: same string", answer
    if g.words != c.words:  # `\\text{}` words carry meaning: compared, never dropped
        return False, "unequal: different words", answer
    if g.kind == "choice":
        letter = c.text if c.kind == "choice" else leading_choice(c.text)
        if letter == g.text:
            return True, "equal: same choice letter", answer
        return False, "unequal: different choice" if letter else "unequal: no choice letter", \
            answer
    if g.kind == "text" or c.kind == "text":
        return False, "unequal: different words", answer
    gold_number, answer_number = simple_number(g.text), simple_number(c.text)
    if gold_number is not None and answer_number is not None:
        if numbers_agree(gold_number, answer_number):
            return True, "equal: same number", answer
        return False, "unequal: different numbers", answer
    return _Job(g.text, c.text, answer)


@dataclass(frozen=True)
class GoldCheck:
    """Can the verifier read a gold answer? kind: "math", "choice", "words" (readable), or
    "free text", "proof" (prose the verifier does not judge), or "unreadable"; reason:
    the parser's message for the last three."""

    gold: str
    kind: str
    reason: str

    @property
    def readable(self) -> bool:
        return self.kind in ("math", "choice", "words")


def check_golds(golds: list[str], *, timeout: float = DEFAULT_TIMEOUT,
                workers: int | None = None) -> list[GoldCheck]:
    """Read every gold answer the way `verify_math` will, without a candidate.

    Golds that only the parser can read are parsed in the worker pool, under `timeout`.
    Returns one GoldCheck per gold, in order; never raises.
    """
    checks: list = [None] * len(golds)
    pending = []
    for index, gold in enumerate(golds):
        if not isinstance(gold, str) or not gold.strip():
            checks[index] = GoldCheck(str(gold), "unreadable", "empty gold answer")
            continue
        stated = gold_answer(gold)
        prose = prose_kind(stated)
        if prose is not None:  # a sentence parses as a product of letters: never math
            checks[index] = GoldCheck(gold, prose, "prose, not an answer")
            continue
        answer = normalize(stated)
        if answer.kind in ("choice", "text"):
            checks[index] = GoldCheck(gold, {"text": "words"}.get(answer.kind, answer.kind), "")
        elif simple_number(answer.text) is not None:
            checks[index] = GoldCheck(gold, "math", "")
        else:
            pending.append((index, answer.text))
    if pending:
        try:
            outcomes = _pool(workers).map([(text, None) for _, text in pending],
                                          timeout=float(timeout), max_workers=workers)
        except Exception as err:  # e.g. no processes can be started
            outcomes = [None] * len(pending)
            failure = f"verifier workers unavailable ({type(err).__name__})"
        for (index, _), outcome in zip(pending, outcomes):
            if outcome is not None and outcome.status == "ok" and outcome.value[0]:
                checks[index] = GoldCheck(golds[index], "math", "")
                continue
            reason = (failure if outcome is None else str(outcome.value[1])
                      if outcome.status == "ok" else f"{outcome.status}: {outcome.detail}")
            checks[index] = GoldCheck(golds[index], prose_kind(golds[index]) or "unreadable",
                                      reason)
    return checks


def _pool(workers: int | None) -> WorkerPool:
    """The process-wide worker pool, started lazily and grown to `workers` if asked."""
    global _POOL
    with _POOL_LOCK:
        size = max(workers or 0, os.cpu_count() or 1)
        if _POOL is None:
            _POOL = WorkerPool(_TARGET, size=size, memory_mb=WORKER_MEMORY_MB)
        elif size > _POOL.size:
            _POOL.size = size
        return _POOL

