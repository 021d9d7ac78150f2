"""The code verifier: run a program against its tests in a sandbox, one outcome per test.

RL on code rewards whatever the runner reports, so the policy will probe every hole of
the runner. `verify_code` extracts the program from a completion, runs it against the
problem's tests (call-, stdin- or assert-based, `code_spec.py`) in a fresh sandboxed
process tree (`sandbox.py` launches it, `_child.py` is the harness inside) and reports
per test one of

    pass | wrong_answer | runtime_error | timeout | memory_limit | output_limit |
    syntax_error | skipped        (skipped: not run after a timeout)

plus the pass fraction and the first failing test. The reward built on it (rewards.py):

    accuracy = 1 if every test passed else 0     (or the pass fraction, code_pass_fraction)

Guarantees: answers are judged on the trusted side only (the runner compares values and
output with `code_compare.py`; asserts run in a checker that never runs program code);
no exit code and nothing the program writes counts as a pass; isolation fails closed
(the `namespaces` level, or `sandbox.SandboxUnavailable` naming the cause and the
opt-in). docs/sandbox.md is the policy: how each test kind passes, the limits, the
levels and what each one does not guarantee.

Reference: SRPO (arXiv 2504.14286) rewards code by rule and does not describe its
execution environment; the limits, isolation and comparison rules here are this
project's. Differences from common runners (verl, open-r1, APPS/TACO): no `exec` of the
program in the runner's process, no lenient output comparison, and an assert test passes
only on a message from a checker process the program cannot touch, not on a clean exit.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from srpo_mini.tags import extract_answer_tag
from srpo_mini.verifiers import sandbox
from srpo_mini.verifiers.code_compare import compare_stdout, decode_value, values_equal
from srpo_mini.verifiers.code_spec import DataError, test_kind, validate_tests

OUTCOMES = ("pass", "wrong_answer", "runtime_error", "timeout", "memory_limit",
            "output_limit", "syntax_error", "skipped")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.S)
_PYTHON_TAGS = ("python", "py", "python3")


@dataclass
class CodeResult:
    """The verdict on one program: `passed` only if every test passed."""

    passed: bool
    pass_fraction: float
    outcomes: list[str]
    isolation: str
    first_failure: dict | None
    reason: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def extract_program(completion: str) -> str | None:
    """The program in a completion: the last fenced ```python block (``` py/python3 too),
    else the last untagged fenced block, else the `<answer>` content; None if none."""
    blocks = _FENCE.findall(completion)
    for wanted in (_PYTHON_TAGS, ("",)):
        chosen = [body for tag, body in blocks if tag.lower() in wanted]
        if chosen:
            program = textwrap.dedent(chosen[-1]).strip("\n").rstrip()
            return program or None
    answer = extract_answer_tag(completion)
    return answer if answer else None


def split_assert_tests(code: str, entry_point: str | None = None,
                       provided=()) -> tuple[list[str], list[str]]:
    """Split assert-based test code into tests and list the names it reads from the program.

    Each top-level `assert` ends one test (preceding statements run with it; trailing
    ones join the last test); code without top-level asserts is one test, with
    `check(entry_point)` appended when it defines `check` and never calls it.
    Returns (segments, names): source per test, and the free names that may come from
    the program (never a builtin or a name in `provided`, except the entry point itself).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise DataError(f"test code does not parse: {err.msg} (line {err.lineno})",
                        field="tests.assert") from None
    segments, current = [], []
    for node in tree.body:
        current.append(ast.unparse(node))
        if isinstance(node, ast.Assert):
            segments.append("\n".join(current))
            current = []
    defines_check = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body)
    calls_check = any(isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
                      and isinstance(n.value.func, ast.Name) and n.value.func.id == "check"
                      for n in tree.body)
    if defines_check and not calls_check and entry_point:
        current.append(f"check({entry_point})")
    if current:
        if segments:
            segments[-1] += "\n" + "\n".join(current)
        else:
            segments.append("\n".join(current))
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    bound.add(target.id)
    loaded = {node.id for node in ast.walk(tree)
              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    names = sorted(loaded - bound - set(dir(builtins)) - set(provided))
    if entry_point and entry_point not in names:
        names.append(entry_point)
    return segments, names


def prompt_setup(prompt: str | None, tests: dict) -> tuple[str, list[str]]:
    """The code of a prompt that the test code relies on, and the names it defines.

    HumanEval prompts define helpers that the tests call (`poly` in /32, `encode_cyclic`
    in /38, `encode_shift` in /50): the checker takes them from the prompt, never from the
    program, which could redefine them to pass. Kept: the prompt's top-level imports and
    definitions other than the entry point, when the test code reads one of them.
    Returns ("", []) for a prompt that is not Python or defines nothing the tests read.
    """
    if not prompt or "assert" not in tests:
        return "", []
    try:
        tree = ast.parse(prompt)
    except (SyntaxError, ValueError):
        return "", []
    entry_point = tests.get("entry_point")
    kept, defined = [], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            kept.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name != entry_point:
            kept.append(node)
            defined.append(node.name)
    read = set(split_assert_tests(tests["assert"], entry_point)[1])
    if not read & set(defined):
        return "", []
    return "\n".join(ast.unparse(node) for node in kept) + "\n", defined


def names_from_program(tests: dict, prompt: str | None = None) -> list[str]:
    """Names an assert test reads that neither its test code nor `prompt` defines, other
    than the entry point or a standard-library module: the checker takes them from the
    program.

    A helper of the problem shows up here when its prompt is missing (HumanEval/32's
    `poly`: a program that redefines it passes). A name bound anywhere in the test code
    (a parameter, a local, an import inside `check`) counts as defined, so a name
    listed here is read and never defined. Empty for call and stdin tests, for test code
    that does not parse, and without an entry point (then every free name is the
    program's by design).
    """
    entry_point = tests.get("entry_point")
    if "assert" not in tests or not entry_point:
        return []
    try:
        tree = ast.parse(tests["assert"])
    except SyntaxError:
        return []
    defined = _bound_names(tree)
    try:
        defined |= {name for node in ast.parse(prompt or "").body
                    for name in _bound_names(ast.Module([node], []))
                    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                         ast.AsyncFunctionDef, ast.ClassDef))}
    except (SyntaxError, ValueError):
        pass
    read = {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    # a standard-library module is never the program's object: the checker imports it
    modules = set(sys.stdlib_module_names)
    return sorted(read - defined - set(dir(builtins)) - modules - {entry_point})


def row_warnings(tests: dict, prompt: str | None) -> list[str]:
    """What a `verify-code` row is told about its own spec: names its assert tests take
    from the program (`names_from_program`); empty when there are none."""
    names = names_from_program(tests, prompt)
    if not names:
        return []
    return [f"the test code reads {', '.join(names)}, which neither it nor the row's prompt "
            "defines: taken from the program (a helper of the problem's prompt must come "
            "with a 'prompt' field)"]


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the code binds, at any scope."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
    return bound


def _plan(program: str, tests: dict, prompt: str | None) -> tuple[dict, dict | None, int]:
    """The sandbox job (what the program may see), the secret part, and the test count."""
    kind = test_kind(tests)
    # The job holds what the program may see: inputs, never the expected outputs (the
    # runner compares them in `_judge`) and never the assert code (the checker gets it).
    if kind == "call":
        calls = [(case["args"], case.get("kwargs") or {}) for case in tests["cases"]]
        return ({"kind": "call", "program": program, "fn_name": tests["fn_name"],
                 "calls": calls}, None, len(calls))
    if kind == "stdin":
        inputs = [case["input"] for case in tests["cases"]]
        return {"kind": "stdin", "program": program, "inputs": inputs}, None, len(inputs)
    setup, provided = prompt_setup(prompt, tests)
    segments, names = split_assert_tests(tests["assert"], tests.get("entry_point"), provided)
    return ({"kind": "assert", "program": program, "n_cases": len(segments)},
            {"segments": segments, "names": names, "setup": setup}, len(segments))


def _judge(kind: str, tests: dict, index: int, report: dict | None,
           run_error: str | None, secret: dict | None) -> tuple[str, dict]:
    """One test's outcome from the harness's report; comparisons happen here, outside."""
    if report is None:
        outcome = "timeout" if run_error and "backstop" in run_error else "runtime_error"
        return outcome, {"error": run_error or "no report for this test"}
    outcome, detail = report["outcome"], {"error": report.get("error", "")}
    tolerance = tests.get("tolerance")
    if kind == "call" and outcome == "returned":
        case = tests["cases"][index]
        got = decode_value(report["value"])
        detail.update(args=case["args"], expected=case["expected"], got=got)
        try:
            same = values_equal(got, case["expected"], tolerance)
        except (ArithmeticError, ValueError, RecursionError) as err:  # never the runner's
            same, detail["error"] = False, f"not comparable: {type(err).__name__}"
        return ("pass" if same else "wrong_answer"), detail
    if kind == "stdin" and outcome == "exited":
        case = tests["cases"][index]
        detail.update(input=case["input"], expected=case["output"], got=report["stdout"][:2000])
        if report["exit_code"] != 0:
            detail["error"] = f"exit code {report['exit_code']}: " + detail["error"]
            return "runtime_error", detail
        same, why = compare_stdout(report["stdout"], case["output"], tolerance)
        detail["error"] = why
        return ("pass" if same else "wrong_answer"), detail
    if outcome == "pass" and kind != "assert":  # only the assert checker may say "pass"
        return "runtime_error", {"error": "unexpected report"}
    if kind == "assert":
        detail["test"] = secret["segments"][index][-500:]
    if outcome not in OUTCOMES:
        return "runtime_error", {"error": f"unexpected report {outcome!r}"}
    return outcome, detail


def verify_code(completion_or_program: str, tests: dict, *, extract: bool = True,
                timeout: float = 2.0, memory_mb: int = 512, total_timeout: float = 10.0,
                isolation: str | None = None, limits: sandbox.Limits | None = None,
                stop_after_timeout: bool = True, prompt: str | None = None) -> CodeResult:
    """Run a program (or the program extracted from a completion) against its tests.

    Args:
        completion_or_program: a policy completion (`extract=True`) or the program itself.
        tests: the test spec (`code_spec.py`: call, stdin or assert kind, or its JSON string).
        timeout, memory_mb: seconds per test, address space per process.
        total_timeout: seconds for the whole run (loading and every test); the test
            running when it is spent is a timeout, the tests after it are skipped.
            `limits` (a `sandbox.Limits`) replaces these three and sets the others.
        isolation: a level of `sandbox.LEVELS`, or None for the required one
            (`sandbox.detect_isolation`: namespaces unless SRPO_SANDBOX_ISOLATION says).
        stop_after_timeout: mark the tests after a timeout "skipped" instead of running them.
        prompt: the problem's prompt; helpers it defines for assert tests come from it.
    Returns:
        A `CodeResult`: one outcome per test, in order. Raises `DataError` for malformed
        tests, ValueError for an unknown level or a total_timeout <= 0, and
        `sandbox.SandboxUnavailable` when the level cannot be set up; never for anything
        the program does.
    """
    start = time.perf_counter()
    tests = validate_tests(tests)
    limits = limits or sandbox.Limits(timeout=timeout, memory_mb=memory_mb,
                                      total_timeout=total_timeout)
    level = isolation or sandbox.detect_isolation()
    if level not in sandbox.LEVELS:
        raise ValueError(f"unknown isolation level {level!r}; choose from {sandbox.LEVELS}")
    kind = test_kind(tests)
    program = extract_program(completion_or_program) if extract else completion_or_program
    if not program or not program.strip():
        n = len(tests["cases"]) if "cases" in tests else len(
            split_assert_tests(tests["assert"], tests.get("entry_point"))[0])
        failure = {"index": 0, "outcome": "syntax_error", "error": "no program found"}
        return CodeResult(False, 0.0, ["syntax_error"] * n, level, failure,
                          "no program found in the completion", time.perf_counter() - start)
    job, secret, n = _plan(program, tests, prompt)
    run = sandbox.run_harness(job, limits, level, n_cases=n, secret=secret,
                              stop_after_timeout=stop_after_timeout)
    outcomes, first_failure = [], None
    for index, report in enumerate(run.cases):
        outcome, detail = _judge(kind, tests, index, report, run.error, secret)
        outcomes.append(outcome)
        if outcome != "pass" and first_failure is None:
            first_failure = {"index": index, "outcome": outcome, **detail}
    passes = outcomes.count("pass")
    return CodeResult(n > 0 and passes == n, passes / n if n else 0.0, outcomes,
                      run.isolation, first_failure, _reason(first_failure, n),
                      time.perf_counter() - start)


def _reason(first_failure: dict | None, n: int) -> str:
    """"" for a pass, else "test i: outcome (detail)"."""
    if first_failure is None:
        return "" if n else "no tests"
    reason = f"test {first_failure['index']}: {first_failure['outcome']}"
    return reason + (f" ({first_failure['error']})" if first_failure.get("error") else "")


def usable_cores() -> int:
    """Cores this process may run on (the default number of parallel sandboxes)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _failed(error: BaseException, isolation: str, seconds: float) -> CodeResult:
    return CodeResult(False, 0.0, [], isolation, None,
                      f"verifier error: {type(error).__name__}: {error}", seconds)


def _verify_items(items: list[tuple[str, dict, bool, str | None]], *, workers: int | None,
                  **options) -> list[CodeResult]:
    """verify_code over (text, tests, extract, prompt) items on a thread pool; order kept.
    Raises `sandbox.SandboxUnavailable` (fail closed: no row is judged without a sandbox)."""
    level = options.pop("isolation", None) or sandbox.detect_isolation()

    def one(item):
        start = time.perf_counter()
        text, tests, extract, prompt = item
        try:
            return verify_code(text, tests, extract=extract, isolation=level, prompt=prompt,
                               **options)
        except Exception as err:  # a malformed spec fails its own row, never the batch
            return _failed(err, level, time.perf_counter() - start)

    with ThreadPoolExecutor(max_workers=max(1, workers or usable_cores())) as pool:
        return list(pool.map(one, items))


def verify_code_batch(programs: list[str], tests: list[dict], *, extract: bool = True,
                      timeout: float = 2.0, memory_mb: int = 512, total_timeout: float = 10.0,
                      workers: int | None = None, prompts: list[str | None] | None = None,
                      **options) -> list[CodeResult]:
    """`verify_code` for many programs at once, `workers` sandboxes in parallel (default:
    the usable cores); result i belongs to programs[i] (and prompts[i], if given). Never
    raises for a program or a spec (a malformed spec fails its own row); ValueError if the
    lists differ in length, `sandbox.SandboxUnavailable` if the sandbox cannot be set up.
    """
    prompts = [None] * len(programs) if prompts is None else list(prompts)
    if not len(programs) == len(tests) == len(prompts):
        raise ValueError(f"{len(programs)} programs but {len(tests)} test specs "
                         f"and {len(prompts)} prompts")
    items = list(zip(programs, tests, [extract] * len(programs), prompts))
    return _verify_items(items, workers=workers, timeout=timeout, memory_mb=memory_mb,
                         total_timeout=total_timeout, **options)
