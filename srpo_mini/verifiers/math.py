"""The math verifier: is the final answer of a completion equivalent to the gold answer?

The accuracy reward of the math domain,

    r(completion, gold) = 1  if  extract(completion) ≡ gold,  else 0
                          (wrong, missing, unparseable, too large or too slow all give 0),

is the rule-based outcome reward of DeepSeek-R1-Zero (arXiv 2501.12948, Sec. 2.2.2) that
SRPO (arXiv 2504.14286) trains with. It runs on every rollout of every step, so cheap
decisions are made in the calling process (`math_normalize`) and only answers that need
sympy go to a pool of worker processes (`workers.py`), started once and reused.
Pipeline: `math_extract` (the final answer; gold labels as datasets write them) ->
`math_normalize` -> `math_tokens` -> `math_parse` (tokens to sympy objects, by
construction, with the size guards of `math_build`) -> `math_compare` (exact, numeric,
then symbolic, in a worker under a hard time limit); the numbers are in `math_policy`.

Guarantees, in short (docs/math_verifier.md states them, with the equivalence policy,
rules 1-11): model text is never executed (no eval, exec, sympify or parse_expr sees it);
never raises and never hangs (hard wall-clock limit per check, memory-capped workers);
deterministic; one result per input, in order. Not guaranteed: equivalence is judged at
random points and to 25 digits, not proved; only the parser's answer language is read.

Differences from the paper: SRPO does not publish its verifier; like DeepSeek-R1 it
rewards a correct final answer with 1. The equivalence policy is ours.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from .math_extract import EXTRACTION_MODES, extract_answer, gold_answer, gold_class, prose_kind
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
    the class of a gold it does not grade (`math_extract.gold_class`: "free text",
    "proof", "garbled: ...", "notation unsupported: ...", or "unreadable"); reason: the
    parser's message when not readable."""

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
            checks[index] = GoldCheck(str(gold), "garbled: empty", "empty gold answer")
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
            checks[index] = GoldCheck(golds[index], gold_class(golds[index], reason), reason)
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

