"""The test spec of a code problem: its three layouts, their validation and the error type.

The code verifier owns this format (it is what `code.verify_code` runs), and the data
schema calls `validate_tests` for a code record's `tests` field, so a dataset row and a
`verify-code` row are checked by the same rule. The three layouts:

    call-based    {"fn_name": str, "cases": [{"args": [...], "kwargs": {...}?,
                   "expected": ...}], "tolerance": float?}
    stdin-based   {"cases": [{"input": str, "output": str}], "tolerance": float?}
    assert-based  {"assert": str, "entry_point": str?}          (HumanEval, MBPP)

`DataError` is the one error for a record or spec that does not fit: it names the file,
the 1-based row and the field at fault (the schema adds file and row).
"""

from __future__ import annotations

import json
from typing import Any


class DataError(ValueError):
    """A dataset row that does not fit the schema; the message names file, row and field."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None):
        self.file, self.row, self.field = file, row, field
        self.reason = message  # the message without the "file, row, field" prefix
        where = []
        if file is not None:
            where.append(f"{file}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


def test_kind(tests: dict) -> str:
    """Which of the three test layouts a validated `tests` dict uses: call | stdin | assert."""
    if "assert" in tests:
        return "assert"
    if "fn_name" in tests:
        return "call"
    return "stdin"


test_kind.__test__ = False  # its name starts with "test": keep pytest from collecting it


def check_type(value: Any, types: type | tuple, field: str | None, what: str) -> None:
    """Raise `DataError` for `field` unless `value` is an instance of `types` (what: the
    expected type in words)."""
    # bool is a subclass of int; a difficulty of True is a mistake, not a level.
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise DataError(f"expected {what}, got bool {value!r}", field=field)
    if not isinstance(value, types):
        raise DataError(f"expected {what}, got {type(value).__name__} {_short(value)}",
                        field=field)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_tests(tests: Any) -> dict:
    """Check a code problem's `tests` against the three layouts and return it as a dict.

    Args:
        tests: the spec, or its JSON string (some exports store the object as a string).
    Returns:
        the spec dict (parsed if it was a string). Raises `DataError` naming the field.
    """
    if tests is None:
        raise DataError("missing (a code problem needs tests)", field="tests")
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError as err:
            raise DataError(f"is a string that is not valid JSON ({err.msg})",
                            field="tests") from None
    check_type(tests, dict, "tests", "an object")
    tolerance = tests.get("tolerance")
    if tolerance is not None:
        check_type(tolerance, (int, float), "tests.tolerance", "a number")
        if tolerance < 0:
            raise DataError("must be >= 0", field="tests.tolerance")
    if "assert" in tests:
        check_type(tests["assert"], str, "tests.assert", "a string of test code")
        if not tests["assert"].strip():
            raise DataError("is empty", field="tests.assert")
        entry = tests.get("entry_point")
        if entry is not None:
            check_type(entry, str, "tests.entry_point", "a string")
        return tests
    if "cases" not in tests:
        raise DataError("needs 'cases' (call or stdin tests) or 'assert' (assert tests)",
                        field="tests")
    cases = tests["cases"]
    check_type(cases, list, "tests.cases", "a list")
    if not cases:
        raise DataError("is empty: a code problem needs at least one test case",
                        field="tests.cases")
    call_based = "fn_name" in tests
    if call_based:
        check_type(tests["fn_name"], str, "tests.fn_name", "a string")
        if not tests["fn_name"].isidentifier():
            raise DataError(f"{tests['fn_name']!r} is not a Python identifier",
                            field="tests.fn_name")
    for i, case in enumerate(cases):
        where = f"tests.cases[{i}]"
        check_type(case, dict, where, "an object")
        if call_based:
            if "args" not in case:
                raise DataError("missing (call-based case)", field=f"{where}.args")
            check_type(case["args"], list, f"{where}.args", "a list")
            if "kwargs" in case:
                check_type(case["kwargs"], dict, f"{where}.kwargs", "an object")
            if "expected" not in case:
                raise DataError("missing (call-based case)", field=f"{where}.expected")
        else:
            for key in ("input", "output"):
                if key not in case:
                    raise DataError("missing (stdin-based case)", field=f"{where}.{key}")
                check_type(case[key], str, f"{where}.{key}", "a string")
    return tests
