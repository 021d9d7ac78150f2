# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 3 — The code verifier
#
# For code the reward is "every test passes". To check that, the program the policy wrote
# has to *run*, and a program written by a policy that is being optimized for passing
# will, sooner or later, try every way of passing that is not solving the task. This
# chapter runs such programs through `srpo_mini.verifiers.code.verify_code` and prints
# what happens to each.
#
# The threats, and what stops each one (details in the module docstring of
# `srpo_mini/verifiers/code.py`):
#
# | threat | example | stopped by |
# |---|---|---|
# | hang the trainer | `while True: pass` | wall-clock limit per test, remaining tests skipped, process tree killed |
# | exhaust memory / output / processes | allocate 10 GB, print forever, fork bomb | RLIMIT_AS, output cap, RLIMIT_NPROC on a uid of its own |
# | fake equality | return an object whose `__eq__` is always True | return values are serialized as plain data and compared *outside* the sandbox |
# | fake success | `sys.exit(0)` before the tests, forging the result pipe | a test passes only on a report from the harness, never on an exit code |
# | read the answers | open the test file, read the environment | expected values never enter the sandbox; environment scrubbed; private filesystem view |
# | escape | network, the host's files, signalling the runner | namespaces (pid, net, mount, ipc, uts) and an unused uid |
# | trick the checker | hand it its own `set`, raise `StopIteration` inside `map`, redefine a helper of the prompt | only requested names are bound, with the checker's builtins; control-flow exceptions fail; prompt helpers come from the prompt |
# | bloat the trusted side | a small reply that decodes to gigabytes, memory in a memfd | reply bytes checked before decoding (no shared references, budgets); memfd and shmget refused |
#
# The sandbox fails closed: it runs at the `namespaces` level (root, `unshare`) or
# raises `SandboxUnavailable`, naming the cause and the opt-in
# (`SRPO_SANDBOX_ISOLATION=userns|uid|rlimits`, weaker levels that docs/sandbox.md
# describes). Every result records the level it ran at.

# %%
import os
import textwrap
import time

import torch

from srpo_mini.data.synthetic import make_tiny_world
from srpo_mini.verifiers.code import extract_program, verify_code
from srpo_mini.verifiers.code_compare import compare_stdout, values_equal
from srpo_mini.verifiers.sandbox import detect_isolation

torch.set_num_threads(1)
print("isolation level on this machine:", detect_isolation())

# %% [markdown]
# ## 1. An honest program, and the problem it is for
#
# A call-based problem of the tiny world (level 1): the tests name a function and give
# (arguments, expected value) pairs. The policy's completion holds the program in a
# fenced ```python block; `extract_program` takes the last such block (else an untagged
# block, else the `<answer>` content). The worked solution of the tiny world passes.

# %%
world = make_tiny_world(seed=0)
problem = world.train["code"][0]
worked = world.worked[problem.id]
print("prompt:", problem.prompt)
print("tests :", problem.tests)
completion = f"<think> add the constant </think> <answer> {worked.answer} </answer>"
print("extracted program:\n" + textwrap.indent(extract_program(completion), "    "))
result = verify_code(completion, problem.tests, timeout=1.0)
print(f"passed={result.passed} pass_fraction={result.pass_fraction} "
      f"outcomes={result.outcomes} isolation={result.isolation}")

# %% [markdown]
# ## 2. Adversarial programs
#
# Each program below is sent with `extract=False` (the program itself, not a completion)
# against the same tests, with a 1-second limit per test. The cell prints, per program,
# whether it passed, its outcome per test, the reason, and the seconds it took. The
# function name comes from the problem, so the programs are written for it.

# %%
name = problem.tests["fn_name"]
first = problem.tests["cases"][0]
ADVERSARIAL = {
    "off by one (a slip)": f"def {name}(x):\n    return x + 11\n",
    "special-cases a test": (f"def {name}(x):\n    if x == {first['args'][0]}:\n"
                             f"        return {first['expected']}\n    return 0\n"),
    "always-equal object": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        f"def {name}(x):\n    return Anything()\n"),
    "exit(0) before tests": f"import sys\nsys.exit(0)\ndef {name}(x):\n    return x\n",
    "os._exit(0) in call": f"import os\ndef {name}(x):\n    os._exit(0)\n",
    "infinite loop": f"def {name}(x):\n    while True:\n        pass\n",
    "memory bomb": f"def {name}(x):\n    block = bytearray(10 * 1024**3)\n    return x\n",
    "fork bomb": (f"import os\ndef {name}(x):\n    while True:\n"
                  "        try:\n            os.fork()\n        except OSError:\n"
                  "            pass\n"),
    "syntax error": f"def {name}(x) return x\n",
}
# A root process limit binds only under a uid of the program's own: at the weaker
# levels that offer neither namespaces nor a separate uid, a root runner would fork-bomb
# itself.
if os.geteuid() == 0 and detect_isolation() not in ("namespaces", "uid"):
    print("fork bomb left out: this isolation level cannot bound a root runner's processes")
    del ADVERSARIAL["fork bomb"]
outcomes_by_program = {}
for label, program in ADVERSARIAL.items():
    start = time.perf_counter()
    result = verify_code(program, problem.tests, extract=False, timeout=1.0)
    outcomes_by_program[label] = result
    print(f"{label:22s} passed={result.passed!s:5} {result.pass_fraction:4.2f} "
          f"{time.perf_counter() - start:5.2f}s  {result.outcomes}")
    print(f"{'':22s} reason: {result.reason[:90]}")
assert not any(r.passed for r in outcomes_by_program.values())

# %% [markdown]
# Notes on the output:
#
# * The slip and the special-cased program fail, and `pass_fraction` tells them apart:
#   with `rewards.code_pass_fraction=true` the reward would be that fraction (a denser
#   signal, but one that pays for special-casing, which is why it is off by default).
# * The always-equal object never reaches a comparison: only plain data (exact builtin
#   types) crosses the process boundary, and the comparison runs outside the sandbox.
# * Exiting with status 0 is not a pass: a test passes only when the harness reports its
#   returned value, so an exit before (or during) the tests fails them.
# * After a timeout the remaining tests are `skipped`: a looping program costs one time
#   limit per rollout, not one per test.
#
# ## 3. What the program can see
#
# A program can only *report* what it sees by returning it. The three programs below
# return the names at the filesystem root, the environment variable names, and the
# outcome of opening a network connection; the expected value is deliberately
# unreachable, so each fails as a `wrong_answer` and the verifier's `first_failure`
# shows what it returned. At the `namespaces` level the root holds only the read-only
# system directories and a private `/sandbox` and `/tmp`, the environment is a fixed
# handful of variables, and there is no network at all.

# %%
PROBES = {
    "filesystem root": "import os\ndef probe():\n    return sorted(os.listdir('/'))\n",
    "environment": "import os\ndef probe():\n    return sorted(os.environ)\n",
    "network": ("import socket\ndef probe():\n    try:\n"
                "        socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
                "    except OSError as err:\n        return type(err).__name__\n"
                "    return 'connected'\n"),
}
probe_tests = {"fn_name": "probe", "cases": [{"args": [], "expected": "unreachable"}]}
for label, program in PROBES.items():
    result = verify_code(program, probe_tests, extract=False, timeout=2.0)
    seen = (result.first_failure or {}).get("got")
    print(f"{label:16s} {result.outcomes[0]:13s} returned: {seen}")

# %% [markdown]
# ## 4. Comparison rules
#
# The runner decides, outside the sandbox, whether an output matches. The rules are pure
# functions in `srpo_mini/verifiers/code_compare.py`:
#
# * **stdout**: line endings normalized, the whole output and each line stripped; same
#   number of lines; each line equal, or — when every token of both lines is a number —
#   equal as exact decimals (`1.50` = `1.5`), within a tolerance only if the tests
#   declare one. No set-of-tokens or truncating comparison (APPS/TACO-style checkers
#   accept reordered or partial output; these do not).
# * **returned values**: `bool` is not `int` (`True` != 1), int and float by value, a tuple
#   equals a list (JSON has no tuples), `NaN` equals `NaN`.
#
# The cell prints each rule on an example.

# %%
STDOUT_CASES = [  # (got, expected, tolerance)
    ("3\r\n", "3\n", None),
    ("  3  \n\n", "3", None),
    ("1.50\n", "1.5\n", None),
    ("1 2 3\n", "3 2 1\n", None),
    ("1 2\n", "1 2 3\n", None),
    ("3.1416\n", "3.14159\n", None),
    ("3.1416\n", "3.14159\n", 1e-4),
]
for got, expected, tolerance in STDOUT_CASES:
    same, why = compare_stdout(got, expected, tolerance)
    print(f"stdout {got!r:12} vs {expected!r:12} tol={tolerance!s:6} -> {same!s:5} {why}")
VALUE_CASES = [(True, 1), (2.0, 2), ((1, 2), [1, 2]), (float("nan"), float("nan")),
               ({"a": 1}, {"a": 1.0}), ("1", 1)]
for got, expected in VALUE_CASES:
    print(f"value  {got!r:12} vs {expected!r:12} -> {values_equal(got, expected)}")

# %% [markdown]
# ## 5. A stdin problem, and a flood of output
#
# Level-3 problems of the tiny world read standard input and print the answer; each
# test runs the program once with that input. The worked solution passes; a program that
# prints without end is killed at the output cap (1 MiB per test by default) instead of
# filling the trainer's memory.

# %%
stdin_problem = world.train["code"][2]
print("prompt:", stdin_problem.prompt)
for label, program in [("worked solution", extract_program(world.worked[stdin_problem.id].answer)),
                       ("output flood", "while True:\n    print('9' * 1000)\n")]:
    start = time.perf_counter()
    result = verify_code(program, stdin_problem.tests, extract=False, timeout=1.0)
    print(f"{label:16s} passed={result.passed!s:5} {time.perf_counter() - start:5.2f}s "
          f"{result.outcomes}")

# %%
print("chapter 3 done")
