"""Verifiers: is a completion right? Math by sympy equivalence, code by running the tests.

`check_completions` routes each completion to the verifier of its problem's domain, batching
each domain in one call, and returns one `CheckResult` per completion in input order. The
reward module and the evaluation both go through it, so training and evaluation judge a
completion by the same rule:

    math  correct = verify_math(completion, problem.answer).correct      score = 1 or 0
    code  correct = every test passes (verify_code)                       score = 1 or 0,
          or, with code_pass_fraction, score = the fraction of tests passed

Guarantees: never raises for a completion (the verifiers return "incorrect" with a reason
for unparseable answers, timeouts and crashing programs); order preserved. A problem whose
domain is neither math nor code is a programming error and raises ValueError.

Differences from the paper: SRPO does not publish its verifiers; see `math.py` and
`code.py` for the rules used here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CheckResult", "check_completions"]


@dataclass(frozen=True)
class CheckResult:
    """correct: the accuracy bit; score: 1.0 / 0.0, or the pass fraction of a code
    completion when asked for; reason: the verifier's explanation ("equal: ...",
    "no answer found", "failed: case 2 ...", ...)."""

    correct: bool
    score: float
    reason: str


def check_completions(problems, completions: list[str], *, code_pass_fraction: bool = False,
                      timeout: float = 2.0, memory_mb: int = 512,
                      code_total_timeout: float = 10.0, workers: int | None = None,
                      math_extraction: str = "lenient") -> list[CheckResult]:
    """Verify each completion against its problem.

    Args:
        problems: N `Problem`s, one per completion (row i answers problems[i]).
        completions: N completion texts (the model's output after the prompt).
        code_pass_fraction: code score = fraction of tests passed instead of all-or-nothing
            (`correct` still means every test passed).
        timeout: seconds per math check and per code test case.
        memory_mb: address-space limit of each sandboxed program.
        code_total_timeout: seconds for all tests of one program together.
        workers: parallel verifier processes (default: the verifiers' own default).
        math_extraction: how a math answer is found, "lenient" or "strict" (training
            rewards pass `rewards.math_extraction`); see `math_extract`.
    Returns:
        N `CheckResult`s, in input order.
    """
    if len(problems) != len(completions):
        raise ValueError(f"{len(completions)} completions for {len(problems)} problems; "
                         "pass one problem per completion")
    results: list[CheckResult | None] = [None] * len(completions)
    # A group often repeats a completion word for word: verify each distinct
    # (problem, completion) pair once (code runs cost a process each) and copy the verdict.
    first_of: dict[tuple[int, str], int] = {}
    repeats: list[tuple[int, int]] = []
    by_domain: dict[str, list[int]] = {"math": [], "code": []}
    for i, (problem, completion) in enumerate(zip(problems, completions)):
        if problem.domain not in by_domain:
            raise ValueError(f"problem {problem.id!r}: unknown domain {problem.domain!r}")
        key = (id(problem), completion)
        if key in first_of:
            repeats.append((i, first_of[key]))
            continue
        first_of[key] = i
        by_domain[problem.domain].append(i)

    if by_domain["math"]:
        from .math import verify_math_batch

        rows = by_domain["math"]
        verdicts = verify_math_batch([completions[i] for i in rows],
                                     [problems[i].answer for i in rows],
                                     timeout=timeout, workers=workers,
                                     mode=math_extraction)
        for i, verdict in zip(rows, verdicts):
            results[i] = CheckResult(verdict.correct, float(verdict.correct), verdict.reason)
    if by_domain["code"]:
        from .code import verify_code_batch

        rows = by_domain["code"]
        verdicts = verify_code_batch([completions[i] for i in rows],
                                     [problems[i].tests for i in rows], timeout=timeout,
                                     memory_mb=memory_mb, workers=workers,
                                     total_timeout=code_total_timeout,
                                     prompts=[problems[i].prompt for i in rows])
        for i, verdict in zip(rows, verdicts):
            score = verdict.pass_fraction if code_pass_fraction else float(verdict.passed)
            results[i] = CheckResult(verdict.passed, float(score), verdict.reason)
    for i, first in repeats:
        results[i] = results[first]
    return results
