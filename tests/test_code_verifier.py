"""The code verifier: program extraction, test specs, comparisons, outcomes and the CLI.

Case tables for the pure parts (extraction, stdout and value comparison, assert
splitting); real sandbox runs for the three kinds of tests (call, stdin, assert), every
outcome, the tiny world's problems, the batch API and `srpo-mini verify-code`.
The adversarial programs live in test_code_sandbox.py.

Run: python -m pytest tests/test_code_verifier.py -q
"""

from __future__ import annotations

import json
import marshal
import os
import re
import textwrap

import pytest

from srpo_mini.cli import main as cli_main
from srpo_mini.data.schema import DataError
from srpo_mini.data.synthetic import generate
from srpo_mini.verifiers import sandbox
from srpo_mini.verifiers.code import (
    CodeResult, extract_program, names_from_program, split_assert_tests, verify_code,
    verify_code_batch,
)
from srpo_mini.verifiers.code_compare import (
    compare_stdout, decode_value, normalize_output, values_equal,
)
from srpo_mini.verifiers._child_roles import Unplain, check_frame
from srpo_mini.verifiers.sandbox import LEVELS, detect_isolation


def program(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def call_tests(fn_name: str, *cases, tolerance=None) -> dict:
    """Call-based tests from (args, expected) pairs."""
    tests = {"fn_name": fn_name, "cases": [{"args": list(a), "expected": e} for a, e in cases]}
    if tolerance is not None:
        tests["tolerance"] = tolerance
    return tests


def stdin_tests(*cases, tolerance=None) -> dict:
    tests = {"cases": [{"input": i, "output": o} for i, o in cases]}
    if tolerance is not None:
        tests["tolerance"] = tolerance
    return tests


def run(source: str, tests: dict, **options) -> CodeResult:
    return verify_code(program(source), tests, extract=False, **options)


# ----------------------------------------------------------------------------- extraction

EXTRACTION = [
    # (completion, expected program)
    ("<think>x</think> <answer>```python\nprint(1)\n```</answer>", "print(1)"),
    ("```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```", "print(2)"),
    ("```py\nx = 1\n```", "x = 1"),
    ("```\nprint(3)\n```", "print(3)"),
    ("```python\na = 1\n```\n```text\nnot code\n```", "a = 1"),           # last *python* block
    ("```\nuntagged\n```\n```python\nprint(4)\n```", "print(4)"),          # python beats untagged
    ("<answer>print(5)</answer>", "print(5)"),                             # no fence: answer tag
    ("  ```python\n    def f():\n        return 1\n  ```", "def f():\n    return 1"),  # dedented
    ("no program here", None),
    ("```python\nprint(6)", None),                                         # unclosed (truncated)
    ("<answer>   </answer>", None),
]


@pytest.mark.parametrize("completion, expected", EXTRACTION)
def test_extract_program(completion, expected):
    """The last fenced python block, else the last untagged block, else <answer>."""
    assert extract_program(completion) == expected, f"from {completion!r}"


# ----------------------------------------------------------------------------- comparisons

STDOUT = [
    # (gold, candidate, tolerance, expected match)
    ("3\n", "3\n", None, True),
    ("3\n", "3", None, True),                        # missing final newline
    ("3\n", "3   \n\n\n", None, True),               # trailing whitespace, blank lines
    ("1\n2\n", "1\r\n2\r\n", None, True),            # CRLF
    ("a b\n", "  a b  \n", None, True),              # each line stripped
    ("1.5\n", "1.50\n", None, True),                 # exact decimals
    ("1000\n", "1e3\n", None, True),
    ("1 2\n", "1  2\n", None, True),                 # numeric tokens, any spacing
    ("0.3333333\n", "0.3333334\n", None, False),     # no tolerance declared
    ("0.3333333\n", "0.3333334\n", 1e-6, True),      # declared tolerance
    ("1000000\n", "1000000.5\n", 1e-6, True),        # relative for large numbers
    ("1 2 3\n", "1 2\n", None, False),               # truncated line
    ("1\n2\n", "1\n", None, False),                  # missing line (no zip-style pass)
    ("1\n2\n", "2\n1\n", None, False),               # permuted lines
    ("1 2\n", "2 1\n", None, False),                 # permuted tokens (no set-of-tokens pass)
    ("YES\n", "yes\n", None, False),                 # case matters
    ("a  b\n", "a b\n", None, False),                # non-numeric lines compare exactly
    ("\n", "", None, True),                          # both empty
    ("0\n", "", None, False),
    ("nan\n", "nan\n", None, True),
    ("inf\n", "1e999\n", None, False),               # not decimal tokens: compared as text
]


@pytest.mark.parametrize("gold, candidate, tolerance, expected", STDOUT)
def test_compare_stdout(gold, candidate, tolerance, expected):
    """Strict line-by-line comparison with exact decimals (see code_compare)."""
    same, why = compare_stdout(candidate, gold, tolerance)
    assert same is expected, f"{candidate!r} vs gold {gold!r} (tolerance {tolerance}): {why}"
    assert (why == "") is expected


def test_compare_stdout_explains_the_mismatch():
    """The reason names the line and both texts, or the line counts."""
    assert compare_stdout("1\n5\n", "1\n4\n") == (False, "line 2: got '5', expected '4'")
    assert compare_stdout("1\n", "1\n2\n") == (False, "1 lines of output, expected 2")
    assert normalize_output(" a \r\n\r\n b \n\n") == ["a", "", "b"]


VALUES = [
    # (expected, got, tolerance, equal)
    (3, 3, None, True),
    (3, 3.0, None, True),                  # numbers by value
    (True, 1, None, False),                # bool is not int
    (1, True, None, False),
    (False, False, None, True),
    ([1, 2], (1, 2), None, True),          # tuple equals list
    ([1, [2, 3]], [1, (2, 3)], None, True),
    ([1, 2], [2, 1], None, False),
    ([1, 2], [1, 2, 3], None, False),
    (0.3, 0.1 + 0.2, None, False),         # floats exact unless a tolerance is declared
    (0.3, 0.1 + 0.2, 1e-9, True),
    ([0.3, "a"], [0.30000001, "a"], 1e-6, True),
    (1e6, 1e6 + 0.5, 1e-6, True),          # relative for large numbers
    (2.0, 2.1, 1e-6, False),
    ({"a": 1}, {"a": 1}, None, True),
    ({"a": 1}, {"a": 1, "b": 2}, None, False),
    ({"1": 1}, {1: 1}, None, False),       # keys compare exactly
    ({1, 2}, {2, 1}, None, True),
    ([1, 2], {1, 2}, None, False),         # a set is not a list
    (None, None, None, True),
    (None, 0, None, False),
    ("abc", "abc", None, True),
    ("abc", b"abc", None, False),
    (float("nan"), float("nan"), None, True),
    (float("inf"), float("inf"), 1e-6, True),
    (float("inf"), 1e308, 1e-6, False),
]


@pytest.mark.parametrize("expected, got, tolerance, equal", VALUES)
def test_values_equal(expected, got, tolerance, equal):
    """Typed equality of a returned value (see code_compare)."""
    assert values_equal(got, expected, tolerance) is equal, \
        f"got {got!r} vs expected {expected!r} (tolerance {tolerance})"


def test_decode_value_restores_tagged_types():
    """The harness's tagged JSON comes back as tuple, dict (any keys), set, bytes, ..."""
    data = json.loads('[{"t":[1,2]},{"d":[[{"t":[1,2]},"x"]]},{"s":[3]},{"f":[4]},'
                      '{"b":"ff00"},{"c":[1.0,-2.0]},{"i":"-ff"},null,true,NaN]')
    decoded = decode_value(data)
    assert decoded[:7] == [(1, 2), {(1, 2): "x"}, {3}, frozenset({4}), b"\xff\x00",
                           complex(1, -2), -255]
    assert [type(v) for v in decoded[:4]] == [tuple, dict, set, frozenset]
    assert decoded[7] is None and decoded[8] is True and decoded[9] != decoded[9]


# ----------------------------------------------------------------------------- assert specs

def test_split_assert_tests_mbpp_style():
    """Each top-level assert is a test; setup lines travel with the next assert."""
    code = "import math\nassert f(1) == 2\nx = 3\nassert f(x) == 4\nassert math.isclose(f(0), 1)\n"
    segments, names = split_assert_tests(code, "f")
    assert segments == ["import math\nassert f(1) == 2", "x = 3\nassert f(x) == 4",
                        "assert math.isclose(f(0), 1)"]
    assert names == ["f"]  # math and x are bound by the test code; builtins never asked


def test_split_assert_tests_humaneval_style():
    """A check(candidate) function is one test, called on the entry point when needed."""
    code = "METADATA = {}\n\ndef check(candidate):\n    assert candidate(1) == abs(-2)\n"
    segments, names = split_assert_tests(code, "add_one")
    assert len(segments) == 1 and segments[0].endswith("check(add_one)")
    assert names == ["candidate", "add_one"]  # abs is a builtin: never taken from the program
    called = split_assert_tests(code + "\ncheck(add_one)\n", "add_one")[0]
    assert called[0].count("check(add_one)") == 1


def test_split_assert_tests_rejects_broken_code():
    """Test code that does not parse is a data error, reported with its field."""
    with pytest.raises(DataError, match="tests.assert.*does not parse"):
        split_assert_tests("assert f(1) ==", "f")


POLY_CHECK = ("def check(candidate):\n    import math\n    for xs in ([1, 2],):\n"
              "        assert math.fabs(poly(xs, candidate(xs))) < 1e-4\n")
POLY_PROMPT = ("import math\ndef poly(xs, x):\n"
               "    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n"
               "def find_zero(xs):\n    pass\n")
NAMES_FROM_PROGRAM = [
    # (test code, entry point, prompt, names the checker would take from the program)
    (POLY_CHECK, "find_zero", None, ["poly"]),               # HumanEval/32 without its prompt
    (POLY_CHECK, "find_zero", POLY_PROMPT, []),              # the prompt defines poly
    (POLY_CHECK, "find_zero", "not python (", ["poly"]),     # an unreadable prompt defines nothing
    ("assert math.isclose(area(2), 4.0)\n", "area", None, []),  # stdlib module: the checker's
    ("assert max_chain_length([Pair(1, 2)], 1) == 1\n", "max_chain_length", None, ["Pair"]),
    ("def check(c):\n    for x in [1]:\n        assert c(x) == 2\n", "f", None, []),
    ("assert helper(f(1)) == 2\n", None, None, []),          # no entry point: all the program's
]


@pytest.mark.parametrize("code, entry_point, prompt, expected", NAMES_FROM_PROGRAM)
def test_names_from_program(code, entry_point, prompt, expected):
    """Names the test code reads and neither it (at any scope) nor the prompt defines."""
    tests = {"assert": code, "entry_point": entry_point}
    assert names_from_program(tests, prompt) == expected, code


# ----------------------------------------------------------------------------- call-based

def test_call_based_pass_and_wrong_answer():
    """All cases run in one process; outcomes per case, pass fraction, first failure."""
    result = run("""
        def add(a, b=0):
            return a + b if a < 10 else -1
    """, {"fn_name": "add", "cases": [
        {"args": [1, 2], "expected": 3},
        {"args": [5], "kwargs": {"b": 5}, "expected": 10},
        {"args": [10, 1], "expected": 11},
    ]})
    assert result.outcomes == ["pass", "pass", "wrong_answer"]
    assert result.passed is False and result.pass_fraction == pytest.approx(2 / 3)
    assert result.first_failure["index"] == 2
    assert result.first_failure["got"] == -1 and result.first_failure["expected"] == 11
    assert result.isolation in LEVELS and result.seconds > 0
    assert result.reason.startswith("test 2: wrong_answer")


def test_call_based_leetcode_solution_class():
    """A method of `class Solution` is found when no function has the name; typing's
    names (List) are predefined as on LeetCode."""
    result = run("""
        class Solution:
            def twoSum(self, nums: List[int], target: int) -> List[int]:
                seen = {}
                for i, n in enumerate(nums):
                    if target - n in seen:
                        return [seen[target - n], i]
                    seen[n] = i
    """, call_tests("twoSum", (([2, 7, 11, 15], 9), [0, 1]), (([3, 2, 4], 6), [1, 2])))
    assert result.passed and result.outcomes == ["pass", "pass"]


def test_call_based_types_are_strict():
    """bool is not int, tuple matches a list, floats need a declared tolerance."""
    cases = [((1,), True), ((2,), [1, 2]), ((3,), 0.3)]
    source = """
        def f(k):
            return {1: 1, 2: (1, 2), 3: 0.1 + 0.2}[k]
    """
    assert run(source, call_tests("f", *cases)).outcomes == ["wrong_answer", "pass", "wrong_answer"]
    assert run(source, call_tests("f", *cases, tolerance=1e-9)).outcomes == \
        ["wrong_answer", "pass", "pass"]


def test_call_based_returns_every_plain_type():
    """Tuples, sets, dicts with tuple keys, bytes, complex and huge ints cross intact."""
    result = run("""
        def f():
            return [(1, 2), {3}, frozenset({4}), {(5, 6): "x"}, b"\\x00", 2j, 7 ** 3000]
    """, call_tests("f", ((), "different")))
    got = result.first_failure["got"]
    assert got[:6] == [(1, 2), {3}, frozenset({4}), {(5, 6): "x"}, b"\x00", 2j]
    assert got[6] == 7 ** 3000 and type(got[0]) is tuple


def test_call_based_runtime_error_and_missing_function():
    """An exception fails its case only; a missing function fails every case."""
    result = run("""
        def inv(x):
            return 1 // x
    """, call_tests("inv", ((0,), 0), ((1,), 1)))
    assert result.outcomes == ["runtime_error", "pass"]
    assert "ZeroDivisionError" in result.first_failure["error"]
    missing = run("def other():\n    return 1\n", call_tests("inv", ((1,), 1), ((2,), 0)))
    assert missing.outcomes == ["runtime_error", "runtime_error"]
    assert "NameError" in missing.reason


def test_syntax_error_and_no_program():
    """A program that does not compile, or no program at all, is a syntax_error per test."""
    broken = run("def f(:\n    pass\n", call_tests("f", ((), 1), ((), 2)))
    assert broken.outcomes == ["syntax_error", "syntax_error"] and "SyntaxError" in broken.reason
    nothing = verify_code("I cannot solve this.", call_tests("f", ((), 1)))
    assert nothing.outcomes == ["syntax_error"]
    assert nothing.reason == "no program found in the completion"


def test_load_error_fails_every_case():
    """An exception while the program loads is a runtime_error for every case."""
    result = run("raise ValueError('boom')\ndef f():\n    return 1\n",
                 call_tests("f", ((), 1), ((), 1)))
    assert result.outcomes == ["runtime_error", "runtime_error"]
    assert "ValueError while loading: boom" in result.reason


def test_timeout_skips_the_rest_unless_asked():
    """After a timeout the remaining tests are skipped; stop_after_timeout=False runs them
    in a fresh process (state from the killed one is gone)."""
    source = """
        calls = []
        def f(x):
            calls.append(x)
            while x == 1:
                pass
            return len(calls)
    """
    tests = call_tests("f", ((0,), 1), ((1,), 0), ((2,), 1))
    skipped = run(source, tests, timeout=0.5)
    assert skipped.outcomes == ["pass", "timeout", "skipped"]
    assert skipped.pass_fraction == pytest.approx(1 / 3)
    rerun = run(source, tests, timeout=0.5, stop_after_timeout=False)
    assert rerun.outcomes == ["pass", "timeout", "pass"]  # len(calls) == 1 again


# ----------------------------------------------------------------------------- stdin-based

def test_stdin_based_cases():
    """One process per case; output compared line by line; each case its own outcome."""
    result = run("""
        a, b = map(int, input().split())
        print(a + b if a >= 0 else a - b)
    """, stdin_tests(("1 2\n", "3\n"), ("10 20\n", "30"), ("-1 1\n", "0\n")))
    assert result.outcomes == ["pass", "pass", "wrong_answer"]
    assert result.first_failure["got"] == "-2\n"
    assert result.first_failure["error"] == "line 1: got '-2', expected '0'"


def test_stdin_program_styles_that_must_work():
    """open(0), sys.stdin.buffer, sys.exit(0) at the end, output from a thread, atexit."""
    styles = [
        "import sys\nprint(sum(map(int, open(0).read().split())))\n",
        "import sys\ndata = sys.stdin.buffer.read().split()\n"
        "sys.stdout.write(str(int(data[0]) + int(data[1])) + '\\n')\n",
        "print(sum(map(int, input().split())))\nimport sys\nsys.exit(0)\n",
        "import threading\ndef main():\n    print(sum(map(int, input().split())))\n"
        "threading.Thread(target=main).start()\n",
        "import atexit, sys\natexit.register(lambda: print(sum(map(int, input().split()))))\n",
    ]
    tests = stdin_tests(("1 2\n", "3\n"))
    results = verify_code_batch(styles, [tests] * len(styles), extract=False)
    assert [r.outcomes for r in results] == [["pass"]] * len(styles), [r.reason for r in results]


def test_stdin_nonzero_exit_is_a_runtime_error():
    """Right output and a non-zero exit is not a pass; the exit code is in the reason."""
    result = run("print(3)\nraise SystemExit(2)\n", stdin_tests(("\n", "3\n")))
    assert result.outcomes == ["runtime_error"] and "exit code 2" in result.reason
    crash = run("print(3)\n1 / 0\n", stdin_tests(("\n", "3\n")))
    assert crash.outcomes == ["runtime_error"] and "ZeroDivisionError" in crash.reason


def test_stdin_tolerance_applies_only_when_declared():
    """A close float passes only when the tests declare a tolerance."""
    source = "print(1 / 3)\n"
    assert run(source, stdin_tests(("", "0.333333"))).outcomes == ["wrong_answer"]
    assert run(source, stdin_tests(("", "0.333333"), tolerance=1e-6)).outcomes == ["pass"]


# ----------------------------------------------------------------------------- assert-based

def test_assert_based_mbpp_each_assert_is_a_test():
    """MBPP-style asserts: one outcome per top-level assert."""
    tests = {"assert": "assert sq(2) == 4\nassert sq(3) == 9\nassert sq(-1) == 1\n",
             "entry_point": "sq"}
    result = run("def sq(x):\n    return x * x if x > 0 else -1\n", tests)
    assert result.outcomes == ["pass", "pass", "wrong_answer"]
    assert result.pass_fraction == pytest.approx(2 / 3)
    assert result.first_failure["error"].startswith("AssertionError")


def test_assert_based_humaneval_check_with_helpers_and_exceptions():
    """check(candidate) with a helper from the program, and an expected exception."""
    tests = {"assert": textwrap.dedent("""
        def check(candidate):
            assert candidate([1, 2]) == [2, 4]
            assert helper(3) == 6
            try:
                candidate(None)
            except TypeError:
                pass
            else:
                assert False, "expected a TypeError"
    """), "entry_point": "double_all"}
    good = run("""
        def helper(x):
            return 2 * x
        def double_all(xs):
            return [helper(x) for x in xs]
    """, tests)
    assert good.passed and good.outcomes == ["pass"]
    lenient = run("""
        def helper(x):
            return 2 * x
        def double_all(xs):
            return [helper(x) for x in xs or []]
    """, tests)
    assert lenient.outcomes == ["wrong_answer"] and "expected a TypeError" in lenient.reason


# ----------------------------------------------------------------------------- tiny world

@pytest.mark.parametrize("level", [1, 2, 3])
def test_tiny_world_gold_passes_and_slips_fail(level):
    """The tiny world's call-based (levels 1-2) and stdin-based (3) problems: every gold
    program passes, every slipped program fails."""
    worked = generate("code", level, 4, seed=0)
    completions, specs, expected = [], [], []
    for item in worked:
        completions.append(f"<think>plan</think> <answer>{item.answer}</answer>")
        specs.append(item.problem.tests)
        expected.append(True)
        for slip in item.slips:
            completions.append(slip)
            specs.append(item.problem.tests)
            expected.append(False)
    results = verify_code_batch(completions, specs)
    assert [r.passed for r in results] == expected, [r.reason for r in results]


# ----------------------------------------------------------------------------- batch and CLI

def test_batch_keeps_order_and_never_raises():
    """Results follow the input order; a malformed spec fails its own row only."""
    specs = [call_tests("f", ((), i)) for i in range(6)] + [{"cases": []}]
    programs = [f"def f():\n    return {i if i % 2 == 0 else -1}\n" for i in range(6)] + ["x = 1"]
    results = verify_code_batch(programs, specs, extract=False, workers=2)
    assert [r.passed for r in results] == [True, False, True, False, True, False, False]
    assert results[-1].reason.startswith("verifier error: DataError")
    with pytest.raises(ValueError, match="2 programs but 1 test specs"):
        verify_code_batch(["a", "b"], [specs[0]])


def test_detect_isolation_is_the_required_level():
    """The level is namespaces, or exactly the weaker one SRPO_SANDBOX_ISOLATION names."""
    assert detect_isolation() == (os.environ.get(sandbox.OPT_IN) or "namespaces")


# ----------------------------------------------------------------------------- reply frames

def _nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value]
    return value


FRAMES = [
    # (bytes of a reply, accepted?) -- what the harness may decode
    (marshal.dumps(("ok", [1, 2.5, "é", b"x", None, True, 1j, 10 ** 40]), 2), True),
    (marshal.dumps(("ok", {"a": (1, 2), 3: {4}, "f": frozenset({5})}), 2), True),
    (marshal.dumps(("ok", _nested(98)), 2), True),            # 100 levels with the tuple
    (marshal.dumps(("ok", _nested(101)), 2), False),          # deeper than 100
    (marshal.dumps(("ok", ["y" * 1000] * 3), 4), False),      # shared reference
    (marshal.dumps(("ok", (lambda: 0).__code__), 2), False),  # a code object
    (marshal.dumps(("ok", ...), 2), False),                   # Ellipsis: not plain
    (marshal.dumps(("ok", [1, 2]), 2)[:-3], False),           # truncated
    (marshal.dumps(("ok", 1), 2) + b"N", False),              # bytes after the value
    (b"{N0", False),                                          # dict key without a value
]


@pytest.mark.parametrize("data, accepted", FRAMES)
def test_check_frame(data, accepted):
    """Reply bytes the harness may decode (plain data, no shared references, at most 100
    levels) pass the check; every other frame is refused before `marshal.loads`."""
    if accepted:
        check_frame(data, deadline=float("inf"))
        assert marshal.loads(data)[0] == "ok"
    else:
        with pytest.raises(Unplain):
            check_frame(data, deadline=float("inf"))


def test_check_frame_budgets_nodes_and_time():
    """A frame of plain data over the node budget, or checked past its deadline, fails."""
    data = marshal.dumps(("ok", [0] * 5000), 2)
    check_frame(data, deadline=float("inf"), max_nodes=5003)  # the tuple, "ok", the list, 5000 ints
    with pytest.raises(Unplain, match="too large"):
        check_frame(data, deadline=float("inf"), max_nodes=5002)
    with pytest.raises(Unplain, match="too large"):
        check_frame(data, deadline=0.0)


USABLE_LEVELS = [level for level in LEVELS if sandbox.probe(level)
                 and not (level == "rlimits" and os.geteuid() == 0)]


@pytest.mark.parametrize("level", USABLE_LEVELS)
def test_every_usable_level_runs_all_kinds(level):
    """Each level this machine offers runs call, stdin and assert tests, and says so."""
    source = "import math\ndef f(x):\n    return math.floor(x) + 1\nif __name__ == '__main__':\n" \
             "    print(f(int(input())))\n"
    specs = [call_tests("f", ((1,), 2), ((2,), 0)), stdin_tests(("1\n", "2\n"), ("2\n", "0\n")),
             {"assert": "assert f(1) == 2\nassert f(2) == 0\n", "entry_point": "f"}]
    results = verify_code_batch([source] * 3, specs, extract=False, isolation=level)
    assert [r.outcomes for r in results] == [["pass", "wrong_answer"]] * 3, \
        [r.reason for r in results]
    assert {r.isolation for r in results} == {level}


def test_cli_verify_code(tmp_path):
    """JSONL rows with a program or a completion in, one verdict row per input row out."""
    rows = [
        {"id": "a", "tests": call_tests("f", ((2,), 4)),
         "program": "def f(x):\n    return 2 * x\n"},
        {"id": "b", "tests": json.dumps(stdin_tests(("1\n", "2\n"))),  # tests as a JSON string
         "completion": "<answer>```python\nprint(int(input()) + 2)\n```</answer>"},
    ]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert cli_main(["verify-code", "--input", str(source), "--output", str(target),
                     "--timeout", "1"]) == 0
    out = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["id"] for row in out] == ["a", "b"]
    assert [row["passed"] for row in out] == [True, False]
    assert out[1]["outcomes"] == ["wrong_answer"] and out[0]["pass_fraction"] == 1.0
    assert set(out[0]) == {"id", "passed", "pass_fraction", "outcomes", "isolation"}


def test_cli_verify_code_warns_when_a_helper_comes_from_the_program(tmp_path, capsys):
    """A HumanEval/32-style row without its prompt passes a program that redefines `poly`
    and is flagged in `warnings`; with the prompt it fails and carries no warning."""
    tests = {"assert": POLY_CHECK, "entry_point": "find_zero"}
    cheat = "def poly(xs, x):\n    return 0\ndef find_zero(xs):\n    return 12345\n"
    rows = [{"id": "bare", "tests": tests, "program": cheat},
            {"id": "prompted", "tests": tests, "program": cheat, "prompt": POLY_PROMPT}]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert cli_main(["verify-code", "--input", str(source), "--output", str(target)]) == 0
    bare, prompted = [json.loads(line) for line in target.read_text().splitlines()]
    assert bare["passed"] and "reads poly" in bare["warnings"][0]
    assert not prompted["passed"] and "warnings" not in prompted
    assert "warning: 1 rows take names" in capsys.readouterr().err


def test_cli_verify_code_total_timeout(tmp_path):
    """--total-timeout reaches the sandbox: 6 tests of 0.4 s each (under their 1 s limit)
    stop at a 1.5 s budget."""
    row = {"id": "slow", "tests": call_tests("f", *[((i,), i) for i in range(6)]),
           "program": "import time\ndef f(x):\n    time.sleep(0.4)\n    return x\n"}
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(row) + "\n")
    assert cli_main(["verify-code", "--input", str(source), "--output", str(target),
                     "--timeout", "1", "--total-timeout", "1.5"]) == 0
    outcomes = json.loads(target.read_text())["outcomes"]
    failed_at = outcomes.index("timeout")
    assert failed_at <= 3 and outcomes[failed_at + 1:] == ["skipped"] * (5 - failed_at)


@pytest.mark.parametrize("option", ["--timeout", "--total-timeout"])
def test_cli_verify_code_refuses_a_time_limit_of_zero(option, capsys):
    """A limit of 0 s would judge nothing: a usage error (exit 2) naming the option."""
    with pytest.raises(SystemExit) as done:
        cli_main(["verify-code", option, "0"])
    assert done.value.code == 2 and f"{option}: must be > 0 seconds" in capsys.readouterr().err


def test_cli_verify_code_rejects_a_bad_row(tmp_path, capsys):
    """A row without program/completion stops the command (exit 2) naming file and line."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x", "tests": call_tests("f", ((), 1))}) + "\n")
    assert cli_main(["verify-code", "--input", str(source)]) == 2
    assert f"{source}:1: give exactly one of 'program' or 'completion'" in \
        capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_quick_mode(run_benchmark):
    """benchmarks/bench_code_verifier.py --quick runs side by side and writes its table."""
    text = run_benchmark("bench_code_verifier.py")
    rows = re.findall(r"^\| (call x1|call x8|stdin x1|assert x1|python3[^|]*) \| ([\d.]+) \|",
                      text, re.M)
    assert len(rows) == 6 and min(float(rate) for _, rate in rows) > 0
    assert re.search(r"runs at \d+\.\d\dx the rate of bare", text)
