"""Comparing a program's answers with the expected ones: stdout text and returned values.

Pure functions, no processes: the sandbox reports what the program printed or returned,
and the runner (never the program) decides whether it matches.

stdout (stdin-based tests):
    1. normalize line endings (CRLF, CR -> LF), strip the whole output, strip each line;
    2. the two outputs must have the same number of lines;
    3. each line matches exactly, or, when every token of both lines is a decimal number
       and the token counts agree, token by token as exact decimals ("1.50" == "1.5",
       "1e3" == "1000"), within the declared tolerance if the tests declare one.
    No set-of-tokens or zip-style comparison: extra, missing, reordered or truncated
    output never matches.

returned values (call-based tests), `values_equal(got, expected, tolerance)`:
    bool is not int (True != 1); int and float compare by value (2 == 2.0), within the
    declared tolerance if any; tuple equals list (JSON has no tuples); dict keys and set
    members compare exactly; str, bytes, None exactly; NaN equals NaN.

Tolerance t (declared in the tests as "tolerance"): |got - expected| <= t * max(1, |expected|),
an absolute error for small numbers and a relative one for large ones, the usual
"absolute or relative error at most t" rule of programming contests.

Differences from common runners: APPS/TACO-style checkers also accept outputs whose
token sets match or that match after `zip` truncation; these accept wrong programs and
are deliberately absent.
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation, localcontext

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def normalize_output(text: str) -> list[str]:
    """The lines of an output, line endings normalized, stripped, outer blank lines gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [line.strip() for line in text.split("\n")] if text else []


def _decimal(token: str) -> Decimal | None:
    if not _NUMBER.fullmatch(token):
        return None
    try:
        return Decimal(token)
    except InvalidOperation:
        return None


# Printed numbers reach any exponent ("1e999999999"): the default context (Emax 999999)
# would trap Overflow. This one holds every exponent a Decimal can have and traps nothing,
# so a difference too large for it is an infinity, compared like any number.
_WIDE = Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])


def _close(got, expected, tolerance: float) -> bool:
    with localcontext(_WIDE):
        return abs(got - expected) <= Decimal(repr(tolerance)) * max(Decimal(1), abs(expected))


def lines_equal(got: str, expected: str, tolerance: float | None = None) -> bool:
    """One stripped line against another: exactly, or as numbers token by token."""
    if got == expected:
        return True
    got_tokens, expected_tokens = got.split(), expected.split()
    if len(got_tokens) != len(expected_tokens) or not expected_tokens:
        return False
    for got_token, expected_token in zip(got_tokens, expected_tokens):
        got_number, expected_number = _decimal(got_token), _decimal(expected_token)
        if got_number is None or expected_number is None:
            return False
        if tolerance is None:
            if got_number != expected_number:
                return False
        elif not _close(got_number, expected_number, tolerance):
            return False
    return True


def compare_stdout(got: str, expected: str, tolerance: float | None = None) -> tuple[bool, str]:
    """Whether a printed output matches the expected one, and why not (empty if it does)."""
    got_lines, expected_lines = normalize_output(got), normalize_output(expected)
    if len(got_lines) != len(expected_lines):
        return False, f"{len(got_lines)} lines of output, expected {len(expected_lines)}"
    for number, (got_line, expected_line) in enumerate(zip(got_lines, expected_lines), 1):
        if not lines_equal(got_line, expected_line, tolerance):
            return False, f"line {number}: got {_short(got_line)}, expected {_short(expected_line)}"
    return True, ""


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_equal(got, expected, tolerance: float | None = None) -> bool:
    """Typed equality of a returned value with the expected one (see the module docstring)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is bool and type(expected) is bool and got == expected
    if _is_number(expected):
        if not _is_number(got):
            return False
        if isinstance(got, float) and isinstance(expected, float) and \
                math.isnan(got) and math.isnan(expected):
            return True
        if tolerance is None or not (isinstance(got, float) or isinstance(expected, float)):
            return got == expected
        try:
            if not (math.isfinite(got) and math.isfinite(expected)):
                return got == expected
            return abs(got - expected) <= tolerance * max(1.0, abs(expected))
        except OverflowError:  # an int beyond any float: compared exactly (int vs float is)
            return got == expected
    if isinstance(expected, (list, tuple)):
        return (type(got) in (list, tuple) and len(got) == len(expected)
                and all(values_equal(g, e, tolerance) for g, e in zip(got, expected)))
    if isinstance(expected, dict):
        return (type(got) is dict and got.keys() == expected.keys()
                and all(values_equal(got[k], expected[k], tolerance) for k in expected))
    if isinstance(expected, (set, frozenset)):
        return type(got) in (set, frozenset) and got == expected
    if expected is None:
        return got is None
    return type(got) is type(expected) and got == expected


def decode_value(data):
    """A value from the harness's tagged JSON back to Python (tuple, dict, set, ... restored).

    Tags: {"t": list} tuple, {"d": [[k, v], ...]} dict, {"s": list} set, {"f": list}
    frozenset, {"b": hex} bytes, {"c": [re, im]} complex, {"i": hex} a huge int.
    """
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    (tag, body), = data.items()
    if tag == "t":
        return tuple(decode_value(v) for v in body)
    if tag == "d":
        return {decode_value(k): decode_value(v) for k, v in body}
    if tag == "s":
        return {decode_value(v) for v in body}
    if tag == "f":
        return frozenset(decode_value(v) for v in body)
    if tag == "b":
        return bytes.fromhex(body)
    if tag == "c":
        return complex(body[0], body[1])
    if tag == "i":
        return int(body, 16)
    raise ValueError(f"unknown value tag {tag!r}")


def _short(text, limit: int = 80) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."
