"""Building sympy objects for the parser, with every size checked before it is built.

The second layer of the math verifier's parser (`math_parse`): the values an answer can
denote (`Assignment`, `BareList`, the `Percent` / `Degrees` markers, `Parsed`) and the
constructors the grammar calls. The guards run *before* sympy evaluates anything, because
sympy computes exact powers, factorials and root simplifications eagerly: `10^{10^{10}}`
would be built digit by digit, and the square root of a 30,000-digit integer is factored.

    safe_pow        exponent <= MAX_EXPONENT, exact result <= MAX_RESULT_BITS bits,
                    roots only of rationals up to MAX_ROOT_BITS bits
    safe_factorial  n <= MAX_FACTORIAL
    mul             exact products up to MAX_PRODUCT_BITS bits
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .math_policy import (MAX_EXPONENT, MAX_FACTORIAL, MAX_PRODUCT_BITS, MAX_RESULT_BITS,
                          MAX_ROOT_BITS)
from .math_tokens import ParseError

Percent = sympy.Function("Percent")  # `50\%`: read as 50 or as 1/2 by the comparator
Degrees = sympy.Function("Degrees")  # `30\degree`: read as 30 or as pi/6

# The vocabulary of the answer language: command -> what it builds.
GREEK = set("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa "
            "lambda mu nu xi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta "
            "Theta Lambda Xi Sigma Upsilon Phi Psi Omega".split())
ACCENTS = {"\\vec", "\\overrightarrow", "\\bar", "\\hat", "\\tilde", "\\dot", "\\ddot",
           "\\widehat", "\\widetilde", "\\overline"}
CONSTANTS = {"\\pi": sympy.pi, "\\infty": sympy.oo, "\\emptyset": sympy.EmptySet,
             "\\Pi": sympy.Symbol("Pi")}
FUNCTIONS = {
    "\\sin": sympy.sin, "\\cos": sympy.cos, "\\tan": sympy.tan, "\\sec": sympy.sec,
    "\\csc": sympy.csc, "\\cot": sympy.cot, "\\arcsin": sympy.asin, "\\arccos": sympy.acos,
    "\\arctan": sympy.atan, "\\arccot": sympy.acot, "\\arcsec": sympy.asec,
    "\\arccsc": sympy.acsc, "\\coth": sympy.coth, "\\sech": sympy.sech, "\\csch": sympy.csch, "\\sinh": sympy.sinh, "\\cosh": sympy.cosh, "\\tanh": sympy.tanh,
    "\\ln": sympy.log, "\\log": sympy.log, "\\exp": sympy.exp,
}
INVERSE = {"\\sin": sympy.asin, "\\cos": sympy.acos, "\\tan": sympy.atan}
MULTI_ARG = {"\\max": sympy.Max, "\\min": sympy.Min, "\\gcd": sympy.gcd, "\\lcm": sympy.lcm}
SETS = {"R": sympy.S.Reals, "Z": sympy.S.Integers, "N": sympy.S.Naturals0,
        "Q": sympy.S.Rationals, "C": sympy.S.Complexes}
RELATIONS = {"=": sympy.Eq, "<": sympy.Lt, ">": sympy.Gt, "\\le": sympy.Le, "\\ge": sympy.Ge,
             "\\ne": sympy.Ne, "\\approx": sympy.Eq, "\\in": None}
MATRICES = {"matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix",
            "array"}


@dataclass(frozen=True)
class Assignment:
    """`target = value` (or `target \\in value`): the policy compares `value`."""

    target: object
    value: object
    op: str = "="


@dataclass(frozen=True)
class BareList:
    """Answers separated by commas outside any bracket: an unordered list."""

    items: tuple


@dataclass(frozen=True)
class Series:
    """`\\sum_{n=a}^{\\infty} f(n)`: the summand with its index shifted to start at 0
    (`f(SERIES_INDEX + a)`). Not an expression: no arithmetic combines it with anything."""

    term: object


# The index of every infinite series, shifted to start at 0: one symbol for gold and
# candidate (both are parsed in the same process), and no name the tokenizer can produce.
SERIES_INDEX = sympy.Dummy("n")


@dataclass(frozen=True)
class PeriodicUnion:
    """`\\bigcup_{k=-\\infty}^{\\infty} S(k)`: the set S with k the integer PERIOD_INDEX.
    Not a set of sympy's: it only compares with another union over k."""

    body: object


PERIOD_INDEX = sympy.Dummy("k", integer=True)


@dataclass(frozen=True)
class Piecewise:
    """`\\begin{cases} f & x < 0 \\\\ g & x \\ge 0 \\end{cases}`: (value, condition) pieces,
    in the written order (compared in any order)."""

    pieces: tuple


@dataclass
class Parsed:
    """A parsed answer: `value`, plus every decimal literal written -> its last-place unit."""

    value: object
    decimals: dict = field(default_factory=dict)

    @property
    def approximate(self) -> bool:
        return bool(self.decimals)


# --- Guards: check sizes before sympy builds anything -------------------------------

def safe_pow(base, exponent):
    """base ** exponent, refusing results too large to build exactly."""
    require_expr(base, "base of a power")
    require_expr(exponent, "exponent")
    if exponent.is_Number and not (base.is_Number and abs(base) in (0, 1)):
        if exponent.is_Rational:
            size = abs(exponent.p) // abs(exponent.q) if exponent.q != 1 else abs(exponent.p)
            if size > MAX_EXPONENT:
                raise ParseError("exponent too large")
            if base.is_Rational:
                bits = max(abs(base.p).bit_length(), base.q.bit_length())
                if size * bits > MAX_RESULT_BITS:
                    raise ParseError("number too large")
                if exponent.q != 1 and bits > MAX_ROOT_BITS:
                    raise ParseError("root of a number too large")
        elif abs(exponent) > MAX_EXPONENT:
            raise ParseError("exponent too large")
    elif exponent.is_number and base.is_number and not base.is_zero:
        # e.g. 2^{2^{100000}} where the exponent is an unevaluated constant
        magnitude = sympy.Abs(exponent).evalf(15)
        if magnitude.is_Number and magnitude > MAX_EXPONENT:
            raise ParseError("exponent too large")
    return sympy.Pow(base, exponent)


def safe_factorial(n):
    require_expr(n, "factorial argument")
    if n.is_Integer:
        if n < 0:
            return sympy.zoo
        if n > MAX_FACTORIAL:
            raise ParseError("factorial too large")
    elif n.is_number and sympy.Abs(n).evalf(15) > MAX_FACTORIAL:
        raise ParseError("factorial too large")
    return sympy.factorial(n)


def require_expr(value, what):
    if not isinstance(value, sympy.Expr) or isinstance(value, sympy.MatrixBase):
        raise ParseError(f"{what} is not a number or expression")
    return value


# --- Construction helpers -----------------------------------------------------------

def add(a, b):
    if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase):
        if a.shape != b.shape:
            raise ParseError("matrix shapes differ")
        return a + b
    return require_expr(a, "term") + require_expr(b, "term")


def neg(a):
    if isinstance(a, sympy.MatrixBase):
        return -a
    return -require_expr(a, "term")


def mul(a, b):
    a_matrix, b_matrix = (isinstance(v, sympy.MatrixBase) for v in (a, b))
    if a_matrix and b_matrix:
        if a.shape == b.shape and 1 in a.shape and a.shape != (1, 1):
            return (a.T * b)[0] if a.shape[1] == 1 else (a * b.T)[0]  # vectors: dot product
        if a.shape[1] != b.shape[0]:
            raise ParseError("matrix shapes do not multiply")
        return a * b
    if a_matrix or b_matrix:
        scalar = b if a_matrix else a
        require_expr(scalar, "factor")
        return a * b
    require_expr(a, "factor")
    require_expr(b, "factor")
    if a.is_Rational and b.is_Rational and _bits(a) + _bits(b) > MAX_PRODUCT_BITS:
        raise ParseError("number too large")
    return a * b


def _bits(r) -> int:
    return abs(r.p).bit_length() + r.q.bit_length()


def make_interval(left, right, left_open: bool, right_open: bool):
    """An Interval from endpoints, or None if they are not ordered real endpoints."""
    if not (isinstance(left, sympy.Expr) and isinstance(right, sympy.Expr)):
        return None
    if left.is_extended_real is False or right.is_extended_real is False:
        return None
    if left.is_number and right.is_number:
        if left == sympy.oo or right == -sympy.oo:
            return None
        try:
            ordered = bool((left < right) == sympy.true)
        except TypeError:
            return None
        if not ordered:
            return None
    try:
        return sympy.Interval(left, right, left_open, right_open)
    except (ValueError, TypeError):
        return None


def as_interval(value):
    """A tuple `(a, b)` next to \\cup is an open interval; sets pass through."""
    if isinstance(value, sympy.Set):
        return value
    if isinstance(value, sympy.Tuple) and len(value) == 2:
        interval = make_interval(value[0], value[1], True, True)
        if interval is not None:
            return interval
    raise ParseError("\\cup / \\cap need sets or intervals")


