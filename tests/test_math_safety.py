"""Adversarial input for the math verifier and its worker pool: one property per test.

Properties: model text is never executed (a canary file is never created, and no verifier
module calls eval / exec / sympify / parse_expr); huge numbers, 100 kB strings, deep
nesting, unbalanced braces and empty input give "incorrect" with a reason, quickly; the
hard time limit holds when called from a non-main thread; a stuck, crashed or memory-hungry
worker is replaced; a hypothesis fuzz never makes the verifier raise.

Run: python -m pytest tests/test_math_safety.py -q
"""

from __future__ import annotations

import ast
import inspect
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srpo_mini.verifiers import math as math_verifier
from srpo_mini.verifiers import (math_compare, math_extract, math_normalize, math_parse,
                                 workers)
from srpo_mini.verifiers.math import MathResult, verify_math, verify_math_batch
from srpo_mini.verifiers.math_parse import ParseError, parse_answer
from srpo_mini.verifiers.workers import WorkerPool

# 64 elements that each need a high-precision sine of a 9,000th power: about 30 s of work
# for the comparator when unordered matching fails at the end (measured on 2 slow cores).
SLOW_GOLD = ", ".join(rf"\sin(x^{{{9000 + k}}})" for k in range(64))
SLOW_ANSWER = ", ".join(reversed([rf"\sin(x^{{{9000 + k}}})" for k in range(63)] + [r"\sin(x)"]))


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    """Start the verifier's workers once, so timings below measure checks, not start-up."""
    result = verify_math(r"\boxed{\sqrt{2}}", r"\sqrt{2}")
    assert result.correct is True


def injection_payloads(canary: str) -> list[str]:
    return [
        f"__import__('os').system('touch {canary}')",
        f"\\boxed{{__import__('os').system('touch {canary}')}}",
        f"eval(\"open('{canary}', 'w').write('x')\")",
        f"exec(\"open('{canary}', 'w')\")",
        f"(lambda: open('{canary}', 'w'))()",
        "Symbol('x').__class__.__mro__[-1].__subclasses__()",
        f"x = __import__('subprocess').call(['touch', '{canary}'])",
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"1; import os; os.system('touch {canary}')",
        f"\\input{{{canary}}}",
        f"\\immediate\\write18{{touch {canary}}}",
        f"{{{{ open('{canary}', 'w') }}}}",
        f"\\text{{{{open('{canary}','w')}}}}",
        f"<answer>__import__('os').system('touch {canary}')</answer>",
        f"The final answer is open('{canary}', 'w').",
    ]


def test_injection_never_runs(tmp_path):
    """Payloads as completions, as bare answers and as golds: all incorrect, no canary."""
    canary = tmp_path / "canary"
    payloads = injection_payloads(str(canary))
    completions = payloads + payloads + ["1"] * len(payloads)
    golds = ["1"] * len(payloads) * 2 + payloads
    results = verify_math_batch(completions, golds, extract=True)
    results += verify_math_batch(payloads, ["1"] * len(payloads), extract=False)
    time.sleep(0.2)
    assert not canary.exists()
    assert [r.correct for r in results] == [False] * len(results)
    assert all(r.reason for r in results)


def test_no_eval_path_in_source():
    """No verifier module calls eval, exec, compile, __import__, sympify / S(), parse_expr,
    parse_latex or lambdify, or even names the sympy ones (checked on the syntax tree,
    so docstrings that mention them do not count)."""
    called = {"eval", "exec", "compile", "__import__", "S"}
    named = {"sympify", "parse_expr", "parse_latex", "lambdify"}
    for module in (math_verifier, math_compare, math_extract, math_normalize, math_parse,
                   workers):
        tree = ast.parse(inspect.getsource(module))
        hits = []
        for node in ast.walk(tree):
            name = node.id if isinstance(node, ast.Name) else \
                node.attr if isinstance(node, ast.Attribute) else None
            if name in named:
                hits.append(name)
            if isinstance(node, ast.Call):
                func = node.func
                target = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                owner = getattr(getattr(func, "value", None), "id", None)
                if target in called and not (target == "compile" and owner == "re"):
                    hits.append(target)
        assert hits == [], f"{module.__name__}: {hits}"
        assert len(list(ast.walk(tree))) > 100  # the module was really read


HUGE = [
    r"10^{10^{10}}",
    r"2^{2^{2^{2^{2^{2}}}}}",
    r"9^{9^{9}}",
    r"(10^{10})!",
    r"\binom{10^{10}}{5}",
    r"\sqrt{9^{9999}+1}",
    "1e100000000",
    "9" * 5000,
    r" \cdot ".join(["9^{9999}"] * 60),
    r"x^{10^{10}}",
    r"\sum_{k=1}^{10^{9}} k",  # finite sums: at most MAX_SUM_TERMS summands, nested too
    r"\sum_{a=1}^{99}\sum_{b=1}^{99}\sum_{c=1}^{99} a b c",
    r"\prod_{k=1}^{99} 10^{9999}",
    r"\sum_{k=1}^{99} 10^{10^{k}}",
]


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 30 else f"{text[:20]}...[{len(text)} chars]"


@pytest.mark.parametrize("text", [
    "12@34" * 1900 + "x",        # pairs at rates: no separator, no backtracking blow-up
    "1 @ 2 " * 1600 + "x",
    "<" * 9000 + ":x",           # an inequality restated as an interval
    "9" * 9000 + r"\degree",    # degrees, minutes and seconds
    "a: 1, " * 1500,             # labelled parts (gold labels)
    r"P(" * 3000 + "=1",         # an evaluated probability
], ids=_short)
def test_normalization_stays_linear(text):
    """Answers of up to 10,000 characters built against the rules' patterns are
    normalized (and their gold reading taken) in well under a second."""
    start = time.perf_counter()
    math_normalize.normalize(text)
    math_extract.gold_answer(text)
    math_verifier.verify_math(text, "1", extract=False)
    assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize("answer", HUGE, ids=_short)
def test_huge_numbers_refused_quickly(answer):
    """Sizes are checked before anything is built: incorrect with a reason, in well under
    the limit, whether the huge answer is the candidate or the gold."""
    start = time.perf_counter()
    as_answer = verify_math(answer, "1", extract=False)
    as_gold = verify_math("1", answer, extract=False)
    elapsed = time.perf_counter() - start
    assert (as_answer.correct, as_gold.correct) == (False, False)
    assert as_answer.reason and as_gold.reason
    assert elapsed < 2.0, elapsed


def test_huge_gold_matches_itself_without_computing():
    """Equal strings are decided before parsing, so a huge but equal answer is correct."""
    start = time.perf_counter()
    result = verify_math(r"\boxed{10^{10^{10}}}", r"10^{10^{10}}")
    assert (result.correct, result.reason) == (True, "equal: same string")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("completion", [
    "x" * 100_000 + r"\boxed{" + "1+" * 50_000 + "1}",
    r"\boxed{" * 14_300,
    "<answer>" * 12_500,
    "final answer is " * 6_300,
    "{" * 100_000,
    "\\" * 100_000,
    "(" * 100_000,
    "1" * 100_000,
], ids=_short)
def test_100kb_completion(completion):
    """100 kB completions: incorrect with a reason, within a second."""
    assert len(completion) >= 100_000
    start = time.perf_counter()
    result = verify_math(completion, "1")
    assert result.correct is False and result.reason
    assert time.perf_counter() - start < 1.0


def test_100kb_answer_without_extraction():
    """A 100 kB bare answer is refused by length in process."""
    result = verify_math("1+" * 50_000 + "1", "1", extract=False)
    assert result.correct is False
    assert result.reason.startswith("answer too long")


@pytest.mark.parametrize("answer", [
    "(" * 1000 + "1" + ")" * 1000,
    "{" * 1500 + "1" + "}" * 1500,
    r"\frac{1}{" * 300 + "2" + "}" * 300,
    r"\sqrt{" * 500 + "2" + "}" * 500,
    "|" * 800 + "x" + "|" * 800,
    "-" * 3000 + "1",
    "2^" * 1000 + "2",
    r"\{" * 700 + "1" + r"\}" * 700,
], ids=_short)
def test_deep_nesting(answer):
    """Deep nesting is refused (MAX_NESTING) or evaluated, never a crash or a hang."""
    start = time.perf_counter()
    result = verify_math(answer, "2", extract=False)
    assert result.correct is False and result.reason
    assert time.perf_counter() - start < 2.5


def test_nesting_limit_reason():
    """The parser names the limit it hit."""
    with pytest.raises(ParseError, match="nesting too deep"):
        parse_answer("(" * 200 + "1" + ")" * 200)


@pytest.mark.parametrize("answer,extract", [
    (r"\boxed{\frac{1}{2}", True),
    (r"\frac{1}{2", False),
    ("((1)", False),
    ("[1, 2", False),
    (r"\{1, 2", False),
    (r"\begin{pmatrix} 1 & 2", False),
    ("}}}{{{", False),
    (r"\left( 1", False),
    ("1)", False),
])
def test_unbalanced_braces(answer, extract):
    """Unbalanced input is incorrect, with a reason."""
    result = verify_math(answer, "0.5", extract=extract)
    assert result.correct is False
    assert result.reason.startswith(("no answer found", "answer not parsed", "unequal"))


@pytest.mark.parametrize("completion,gold,extract,reason", [
    ("", "1", True, "no answer found"),
    ("", "1", False, "empty answer"),
    ("   ", "1", False, "empty answer"),
    (r"\boxed{}", "1", True, "empty answer"),
    (r"\boxed{1}", "", True, "error: empty gold answer"),
    (None, "1", True, "no answer found"),
    (5, "5", False, "error: answer is not a string"),
    (r"\boxed{1}", None, True, "error: empty gold answer"),
])
def test_empty_and_odd_input(completion, gold, extract, reason):
    """Empty or non-string input: incorrect with a named reason."""
    result = verify_math(completion, gold, extract=extract)
    assert (result.correct, result.reason) == (False, reason)


def test_bad_timeout_does_not_raise():
    """A zero, negative or NaN limit is an error verdict for the checks that need a worker
    (checks decided in process still get their verdict)."""
    for timeout in (0, -1.0, float("nan"), "2"):
        hard, easy = verify_math_batch([r"\sqrt{8}", "0.5"], [r"2\sqrt2", "1/2"],
                                       extract=False, timeout=timeout)
        assert (hard.correct, hard.reason) == (
            False, "error: timeout must be a positive number of seconds")
        assert (easy.correct, easy.reason) == (True, "equal: same number")


def test_batch_length_mismatch_does_not_raise():
    """A batch with unequal lengths returns error results instead of raising."""
    results = verify_math_batch(["1", "2"], ["1"])
    assert [r.correct for r in results] == [False, False]
    assert results[0].reason.startswith("error: bad batch")


def test_slow_case_outlasts_the_limit():
    """The slow case really is slow (so the timeout tests below test something)."""
    pool = WorkerPool("srpo_mini.verifiers.math_compare:compare_task", size=1)
    try:
        outcome = pool.run(SLOW_GOLD, SLOW_ANSWER, timeout=1.5)
        assert outcome.status == "timeout"
    finally:
        pool.close()


def test_timeout_from_non_main_thread():
    """From a worker thread, a check past its limit returns "timeout" within limit + 1 s,
    and the verifier keeps working afterwards."""
    limit = 1.0
    box = {}

    def check():
        start = time.perf_counter()
        box["result"] = verify_math(SLOW_ANSWER, SLOW_GOLD, extract=False, timeout=limit)
        box["elapsed"] = time.perf_counter() - start

    thread = threading.Thread(target=check)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    result = box["result"]
    assert result.correct is False
    assert result.reason == "timeout: no verdict within 1 s"
    assert box["elapsed"] <= limit + 1.0, box["elapsed"]
    after = verify_math(r"\boxed{\frac{\pi}{2}}", r"\pi/2")
    assert after.correct is True


def test_timeout_in_a_batch_keeps_the_others():
    """A slow pair in a batch times out alone; the other verdicts are unaffected and the
    batch ends within limit + 1 s of its slowest pair."""
    limit = 1.0
    completions = [SLOW_ANSWER, r"\sqrt{8}", "x^2+2x+1", SLOW_ANSWER, "0.75"]
    golds = [SLOW_GOLD, r"2\sqrt{2}", "(x+1)^2", SLOW_GOLD, r"\frac34"]
    start = time.perf_counter()
    results = verify_math_batch(completions, golds, extract=False, timeout=limit, workers=2)
    elapsed = time.perf_counter() - start
    assert [r.correct for r in results] == [False, True, True, False, True]
    assert results[0].reason.startswith("timeout") and results[3].reason.startswith("timeout")
    assert elapsed <= 2 * limit + 1.0, elapsed


def test_pool_kills_a_stuck_worker_and_replaces_it():
    """A task the worker's own alarm cannot interrupt (a blocking C call) is killed at the
    hard limit from a non-main thread; the next task runs on a fresh worker."""
    pool = WorkerPool("os:system", size=1, memory_mb=0)
    box = {}

    def stuck():
        start = time.perf_counter()
        box["outcome"] = pool.run("sleep 30", timeout=0.5)
        box["elapsed"] = time.perf_counter() - start

    try:
        pool.warm_up()
        thread = threading.Thread(target=stuck)
        thread.start()
        thread.join(timeout=10)
        assert (box["outcome"].status, box["outcome"].detail) == ("timeout",
                                                                  "killed at the limit")
        assert box["elapsed"] <= 1.5, box["elapsed"]
        assert pool.run("exit 3", timeout=10).value == 3 << 8
    finally:
        pool.close()


def test_pool_caps_worker_memory():
    """RLIMIT_AS: a 2 GiB allocation fails inside a 256 MiB worker, which stays usable."""
    pool = WorkerPool("builtins:bytearray", size=1, memory_mb=256)
    try:
        outcome = pool.run(2 << 30, timeout=10)
        assert (outcome.status, outcome.detail.split(":")[0]) == ("error", "MemoryError")
        assert pool.run(4, timeout=10).detail.startswith("unserializable result")
    finally:
        pool.close()


def test_pool_survives_a_crashing_worker():
    """A worker that dies mid-task gives "crashed" with its exit code; the pool goes on."""
    crash = WorkerPool("os:_exit", size=1)
    try:
        outcome = crash.run(3, timeout=10)
        assert (outcome.status, outcome.detail) == ("crashed", "worker exited with code 3")
    finally:
        crash.close()
    assert verify_math(r"\boxed{3}", "3").correct is True


def test_pool_shared_by_threads():
    """Four threads share a two-worker pool; every result lands at its own index."""
    pool = WorkerPool("math:factorial", size=2)
    outputs = {}

    def work(offset):
        outputs[offset] = [r.value for r in pool.map([(offset + k,) for k in range(20)],
                                                      timeout=10)]

    try:
        threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 5, 10, 15)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        pool.close()
    import math

    for offset, values in outputs.items():
        assert values == [math.factorial(offset + k) for k in range(20)]
    assert sorted(outputs) == [0, 5, 10, 15]


_PIECES = [r"\frac", r"\sqrt", "{", "}", "(", ")", "[", "]", r"\{", r"\}", "^", "_", "+", "-",
           "*", "/", "=", "<", r"\le", ",", "x", "y", "e", "i", r"\pi", r"\infty", "1", "2",
           "0.5", "10", "99", "!", r"\%", r"^\circ", r"\text{cm}", r"\pm", r"\cup", "|",
           r"\sin", r"\log_", r"\begin{pmatrix}", r"\end{pmatrix}", "&", r"\\", r"\boxed{",
           "<answer>", "</answer>", "$", r"\left(", r"\right)", " ", r"\overline", "'", "&&",
           r"\sum_{k=1}^{3}", r"\prod_{j=0}^{2}", "k", "@", ":", r"^{T}", r"^{-1}", r"\bullet",
           r"\mid", r"\lim", "P("]
_SOUP = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(_SOUP, st.text(max_size=60)), gold=st.one_of(_SOUP, st.text(max_size=20)),
       extract=st.booleans())
def test_fuzz_never_raises(answer, gold, extract):
    """Random LaTeX soups and random unicode: always a MathResult with a reason."""
    result = verify_math(answer, gold, extract=extract, timeout=2.0)
    assert isinstance(result, MathResult)
    assert isinstance(result.correct, bool) and result.reason
    assert 0.0 <= result.seconds < 4.0


@settings(max_examples=300, deadline=None)
@given(text=_SOUP)
def test_fuzz_parser_raises_only_parse_error(text):
    """The parser either builds a value or raises ParseError, nothing else."""
    normalized = math_normalize.normalize(text).text
    try:
        parsed = parse_answer(normalized)
    except ParseError as err:
        assert str(err)
    else:
        assert parsed.value is not None
