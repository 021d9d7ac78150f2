"""Decide whether two parsed answers are the same, cheapest check first.

This is the part of the math verifier that may take time (sympy arithmetic, evaluation,
simplification), so it runs in a worker process under a hard wall-clock limit (see
`workers.py`); `compare_task` is the worker's entry point. The policy it implements is
stated in docs/math_verifier.md.

Scalars, in order:
    1. identical sympy objects (sympy already canonicalizes `2x` vs `x \\cdot 2`);
    2. two rationals: exact equality (the decimal rule when a decimal was written);
    3. constants (no free symbols): both evaluated to `EVAL_DIGITS` digits; equal when they
       agree to `EXACT_MATCH_DIGITS` digits, or within the decimal rule when a decimal
       was written; `simplify(a - b) == 0` only when evaluation fails;
    4. expressions with free symbols: `expand(a - b) == 0` for small polynomial-like
       differences, then evaluation at random rational points (fixed seed): one
       disagreement proves inequality, agreement at every defined point is accepted;
       `simplify(a - b) == 0` only when too few points are defined.
Structures (tuples, intervals, sets, matrices, equations, inequalities, lists) are
compared part by part with the scalar rule; infinite series by their summands.

Closeness of two numbers (after evaluation to EVAL_DIGITS digits):
    exact scalars           |a - b| <= 10^-EXACT_MATCH_DIGITS * max(|a|, |b|)
    with a written decimal  |a - b| <= RELATIVE_TOLERANCE * max(|a|, |b|)
                            (and <= the last-place unit when one side is a bare decimal)
"""

from __future__ import annotations

import hashlib
import random
from fractions import Fraction

import mpmath
import sympy

from .math_normalize import within_tolerance
from .math_parse import (Assignment, BareList, Degrees, ParseError, Parsed, Percent,
                         PeriodicUnion, Piecewise, Series, parse_answer)
from .math_policy import (EVAL_DIGITS, EXACT_MATCH_DIGITS, MAX_POINT_TRIES, MIN_VALID_POINTS,
                          POINT_SCALES, RANDOM_POINTS, TINY_DIGITS)

_EXACT_TOLERANCE = mpmath.mpf(10) ** -EXACT_MATCH_DIGITS
_NOISE_FLOOR = mpmath.mpf(10) ** -(EVAL_DIGITS - 10)  # cancellation noise near zero
_INFINITIES = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)
_SEED = 20250417


def _to_mpc(expr):
    """expr evaluated to EVAL_DIGITS digits as an mpmath complex, or None if not finite."""
    try:
        value = expr.evalf(EVAL_DIGITS)
        if not value.is_number or value.has(*_INFINITIES):
            return None
        parts = []
        for part in value.as_real_imag():
            part = part.evalf(EVAL_DIGITS)
            if part.is_zero:
                parts.append(mpmath.mpf(0))
            elif part.is_Float:
                parts.append(mpmath.mpf(part._mpf_))
            else:
                return None
        return mpmath.mpc(*parts)
    except (TypeError, ValueError, ArithmeticError, AttributeError, RecursionError,
            NotImplementedError):
        return None


def _small_polynomial_like(expr, limit: int = 60) -> bool:
    """Few nodes and no power above 8: `expand` on it is cheap."""
    for count, node in enumerate(sympy.preorder_traversal(expr)):
        if count > limit:
            return False
        if node.is_Pow and not (node.exp.is_Integer and abs(node.exp) <= 8):
            return False
        if isinstance(node, sympy.Function):
            return False
    return True


class Comparator:
    """Equivalence of two parsed answers under the verifier's policy.

    gold, candidate: `Parsed` answers. `decimals` maps the value of every decimal either
    side wrote to its last-place unit; a scalar built from one of them is approximate and
    compared by the decimal rule, every other scalar exactly (element by element, so a
    decimal in one entry of a tuple does not loosen the others).
    """

    def __init__(self, gold: Parsed, candidate: Parsed, seed: int = 0):
        self.decimals = {**gold.decimals, **candidate.decimals}
        self.seed = seed  # of the sample points; `compare` derives it from the two answers

    # --- entry point: readings of percent / degree markers ---------------------------
    def compare(self, gold, candidate) -> tuple[bool, str]:
        # mpmath numbers carry the working precision: without this, every value built
        # below would be rounded to 53 bits (16 digits), far short of EXACT_MATCH_DIGITS.
        with mpmath.workdps(EVAL_DIGITS + 10):
            return self._compare(gold, candidate)

    def _compare(self, gold, candidate) -> tuple[bool, str]:
        gold_readings, candidate_readings = _readings(gold), _readings(candidate)
        if len(gold_readings) > 1 and len(candidate_readings) > 1:
            gold_readings, candidate_readings = gold_readings[:1], candidate_readings[:1]
        first = None
        for g in gold_readings:
            for c in candidate_readings:
                verdict = self.equal(g, c)
                if verdict[0]:
                    return verdict
                first = first or verdict
        return first

    # --- dispatch on the kind of answer --------------------------------------------
    def equal(self, a, b) -> tuple[bool, str]:
        if isinstance(a, Assignment) or isinstance(b, Assignment):
            return self._assignment(a, b)
        if isinstance(a, Series) or isinstance(b, Series):
            # term by term from index 0: equal summands give equal series; equal series
            # written with different summands (a closed form, a regrouping) are not found
            if not (isinstance(a, Series) and isinstance(b, Series)):
                return False, "unequal: a series against a non-series"
            equal, reason = self.scalars(a.term, b.term)
            return equal, reason + " (series, term by term)"
        if isinstance(a, PeriodicUnion) or isinstance(b, PeriodicUnion):
            # set by set for every k (endpoints compared as functions of k): equal families
            # give equal unions; the same union from another family (k shifted) is not found
            if not (isinstance(a, PeriodicUnion) and isinstance(b, PeriodicUnion)):
                return False, "unequal: a union over k against another answer"
            equal, reason = self._sets(a.body, b.body)
            return equal, reason + " (for every k)"
        if isinstance(a, Piecewise) or isinstance(b, Piecewise):
            # piece by piece in any order: the values by the scalar rule, the conditions as
            # relations (rule 8: `1 \\le p \\le 5` is [1, 5]); the same function cut into
            # other pieces is judged unequal (fail closed)
            if not (isinstance(a, Piecewise) and isinstance(b, Piecewise)):
                return False, "unequal: a piecewise function against another answer"
            return self._unordered_by(a.pieces, b.pieces, self._piece)
        if isinstance(a, BareList) or isinstance(b, BareList):
            return self._list(a, b)
        if isinstance(a, sympy.Set) or isinstance(b, sympy.Set):
            return self._sets(a, b)
        if isinstance(a, sympy.MatrixBase) or isinstance(b, sympy.MatrixBase):
            return self._matrix(a, b)
        if isinstance(a, sympy.Tuple) and isinstance(b, sympy.Tuple):
            return self._ordered(tuple(a), tuple(b))
        if _is_logic(a) or _is_logic(b):
            return self._relations(a, b)
        if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
            return self.scalars(a, b)
        return False, "unequal: different kinds of answer"

    def _assignment(self, a, b):
        if isinstance(a, Assignment) and isinstance(b, Assignment):
            return self.equal(a.value, b.value)
        assignment, other = (a, b) if isinstance(a, Assignment) else (b, a)
        if isinstance(other, sympy.Eq) and isinstance(assignment.value, sympy.Expr) \
                and isinstance(assignment.target, sympy.Expr):
            as_equation = sympy.Eq(assignment.target, assignment.value, evaluate=False)
            return self._relations(as_equation, other)
        if assignment is a:
            return self.equal(assignment.value, other)
        return self.equal(other, assignment.value)

    def _list(self, a, b):
        if isinstance(a, BareList) and isinstance(b, BareList):
            named_a, named_b = _named(a), _named(b)
            if named_a and named_b and named_a.keys() == named_b.keys():
                # `x=1, y=2` against `y=2, x=1`: each variable against its own value
                return self._ordered(tuple(named_a.values()),
                                     tuple(named_b[name] for name in named_a))
            return self._unordered(a.items, b.items)
        bare, other = (a, b) if isinstance(a, BareList) else (b, a)
        if isinstance(other, sympy.FiniteSet):
            return self._unordered(bare.items, tuple(other.args))
        if isinstance(other, (sympy.Tuple, sympy.MatrixBase)):
            items = tuple(other) if isinstance(other, sympy.Tuple) else tuple(other)
            return self._ordered(bare.items, items)
        if isinstance(other, sympy.Set):
            as_set = _as_set(bare)
            if as_set is not None:
                return self._sets(as_set, other)
        return False, "unequal: a list against a single answer"

    # --- collections -------------------------------------------------------------
    def _ordered(self, xs, ys):
        if len(xs) != len(ys):
            return False, f"unequal: {len(xs)} vs {len(ys)} elements"
        for x, y in zip(xs, ys):
            verdict = self.equal(x, y)
            if not verdict[0]:
                return verdict
        return True, "equal: element by element"

    def _unordered(self, xs, ys):
        return self._unordered_by(xs, ys, lambda x, y: self.equal(x, y)[0])

    def _unordered_by(self, xs, ys, same):
        if len(xs) != len(ys):
            return False, f"unequal: {len(xs)} vs {len(ys)} elements"
        unmatched = list(ys)
        for x in xs:
            for index, y in enumerate(unmatched):
                if same(x, y):
                    del unmatched[index]
                    break
            else:
                return False, f"unequal: no match for element {_show(x)}"
        return True, "equal: same elements in any order"

    def _piece(self, a, b) -> bool:
        """Two (value, condition) pieces of piecewise functions: both parts equal, and the
        conditions on the same variables (rule 8 alone would make `q > 6` the set of
        `p > 6`)."""
        return (a[1].free_symbols == b[1].free_symbols and self.scalars(a[0], b[0])[0]
                and self._relations(a[1], b[1])[0])

    def _matrix(self, a, b):
        if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase):
            if a.shape != b.shape:
                return False, f"unequal: shapes {a.shape} vs {b.shape}"
            return self._ordered(tuple(a), tuple(b))
        matrix, other = (a, b) if isinstance(a, sympy.MatrixBase) else (b, a)
        if isinstance(other, sympy.Tuple) and 1 in matrix.shape:  # a vector as a tuple
            return self._ordered(tuple(matrix), tuple(other))
        return False, "unequal: a matrix against a non-matrix"

    def _sets(self, a, b):
        a_set, b_set = _as_set(a), _as_set(b)
        if a_set is None or b_set is None:
            single, other = (a, b) if isinstance(b, sympy.FiniteSet) else (b, a)
            if isinstance(other, sympy.FiniteSet) and len(other) == 1 \
                    and isinstance(single, sympy.Expr):
                return self.equal(single, other.args[0])  # {5} and 5
            return False, "unequal: a set against a non-set"
        if a_set == b_set:
            return True, "equal: same set"
        a_parts, b_parts = _components(a_set), _components(b_set)
        if len(a_parts) != len(b_parts):
            return False, "unequal: different sets"
        unmatched = list(b_parts)
        for part in a_parts:
            for index, other in enumerate(unmatched):
                if self._set_part(part, other):
                    del unmatched[index]
                    break
            else:
                return False, f"unequal: no match for {_show(part)}"
        return True, "equal: same set"

    def _set_part(self, a, b) -> bool:
        if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
            return (a.left_open == b.left_open and a.right_open == b.right_open
                    and self.scalars(a.start, b.start)[0] and self.scalars(a.end, b.end)[0])
        if isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet):
            return self._unordered(tuple(a.args), tuple(b.args))[0]
        return a == b

    # --- equations and inequalities ----------------------------------------------
    def _relations(self, a, b):
        for eq, other in ((a, b), (b, a)):  # `41/4 = 10.25` against `10.25`: a worked step
            if isinstance(eq, sympy.Eq) and not eq.free_symbols \
                    and isinstance(other, sympy.Expr) and not _is_logic(other):
                return self.equal(eq.rhs, other) if eq is a else self.equal(other, eq.rhs)
        if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
            if not (a.free_symbols or b.free_symbols):  # `\\cos 2 \\approx 0.42`: the values
                return self.equal(a.rhs, b.rhs)
            if self._proportional(a.lhs - a.rhs, b.lhs - b.rhs, positive=False):
                return True, "equal: equivalent equations"
            return False, "unequal: different equations"
        a_set, b_set = _as_set(a), _as_set(b)
        if a_set is not None and b_set is not None:
            return self._sets(a_set, b_set)
        a_form, b_form = _inequality_form(a), _inequality_form(b)
        if a_form and b_form and a_form[1] == b_form[1]:
            if self._proportional(a_form[0], b_form[0], positive=a_form[1] != "ne"):
                return True, "equal: equivalent inequalities"
        return False, "unequal: different relations"

    def _proportional(self, f, g, positive: bool) -> bool:
        """f = c g for one constant c != 0 (c > 0 if `positive`), checked at points."""
        if f == g:
            return True
        c = None
        valid = 0
        for point in _points(f.free_symbols | g.free_symbols, self.seed):
            fv, gv = _to_mpc(f.xreplace(point)), _to_mpc(g.xreplace(point))
            if fv is None or gv is None:
                continue
            if c is None:
                if abs(gv) <= _NOISE_FLOOR:
                    if abs(fv) > _NOISE_FLOOR:
                        return False
                    continue
                c = fv / gv
                if abs(c) <= _NOISE_FLOOR or (positive and (abs(c.imag) > _NOISE_FLOOR
                                                            or c.real <= 0)):
                    return False
            if not self._close(fv, c * gv, self._approximate(f, g)):
                return False
            valid += 1
            if valid >= RANDOM_POINTS or not (f.free_symbols | g.free_symbols):
                break
        return c is not None and (valid >= MIN_VALID_POINTS
                                  or not (f.free_symbols | g.free_symbols))

    # --- scalars -----------------------------------------------------------------
    def scalars(self, a, b) -> tuple[bool, str]:
        if a == b:
            return True, "equal: identical"
        if a.has(*_INFINITIES) or b.has(*_INFINITIES):
            return False, "unequal: infinities differ"
        if not a.free_symbols and not b.free_symbols:
            return self._constants(a, b)
        return self._functions(a, b)

    def _approximate(self, *exprs) -> bool:
        """Was a decimal written in any of these scalars (a bare one, or a factor)?"""
        return bool(self.decimals) and any(
            abs(atom) in self.decimals for expr in exprs
            for atom in ((expr,) if expr.is_Rational else expr.atoms(sympy.Rational)))

    def _ulp(self, *values):
        """The coarser last-place unit of the values that are bare written decimals."""
        ulps = [self.decimals.get(abs(v)) for v in values if v.is_Rational]
        ulps = [u for u in ulps if u is not None]
        return max(ulps) if ulps else None

    def _close(self, x, y, approximate: bool, ulp=None) -> bool:
        """x, y: mpmath numbers. The decimal rule when `approximate`, else agreement to
        EXACT_MATCH_DIGITS digits."""
        diff = abs(x - y)
        if diff <= _NOISE_FLOOR:
            return True
        if approximate:
            return within_tolerance(x, y, None if ulp is None else mpmath.mpf(ulp.p) / ulp.q)
        return diff <= _EXACT_TOLERANCE * max(abs(x), abs(y))

    def _constants(self, a, b):
        approximate = self._approximate(a, b)
        if a.is_Rational and b.is_Rational:
            if approximate:
                ulp = self._ulp(a, b)
                if within_tolerance(Fraction(a.p, a.q), Fraction(b.p, b.q),
                                    None if ulp is None else Fraction(ulp.p, ulp.q)):
                    return True, "equal: within decimal tolerance"
            return False, "unequal: different numbers"
        av, bv = _to_mpc(a), _to_mpc(b)
        if av is None or bv is None:
            if _simplifies_to_zero(a - b):
                return True, "equal: symbolic (simplify)"
            return False, "unequal: could not evaluate"
        if not approximate and max(abs(av), abs(bv)) <= _NOISE_FLOOR:
            return _tiny_constants(a, b)
        if self._close(av, bv, approximate, self._ulp(a, b)):
            return True, "equal: within decimal tolerance" if approximate else "equal: numeric"
        return False, "unequal: different values"

    def _functions(self, a, b):
        difference = a - b
        if difference == 0:
            return True, "equal: symbolic"
        if _small_polynomial_like(difference) and sympy.expand(difference) == 0:
            return True, "equal: symbolic (expand)"
        valid, approximate = 0, self._approximate(a, b)
        for point in _points(a.free_symbols | b.free_symbols, self.seed):
            av, bv = _to_mpc(a.xreplace(point)), _to_mpc(b.xreplace(point))
            if av is None or bv is None:
                continue
            if not self._close(av, bv, approximate):
                shown = ", ".join(f"{k}={v}" for k, v in sorted(point.items(), key=str))
                return False, f"unequal: differs at {shown}"
            valid += 1
            if valid >= RANDOM_POINTS:
                break
        if valid >= MIN_VALID_POINTS:
            return True, f"equal: agrees at {valid} random points"
        if _simplifies_to_zero(difference):
            return True, "equal: symbolic (simplify)"
        return False, "unequal: could not evaluate"


# --- helpers ------------------------------------------------------------------------

def _show(value, limit: int = 80) -> str:
    """A short printable form for a reason (huge integers cannot even be printed)."""
    try:
        text = str(value)
    except ValueError:
        return "a very large number"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _points(symbols, seed: int = 0):
    """MAX_POINT_TRIES substitutions {symbol: rational}, the policy of docs/math_verifier.md.

    Magnitudes cycle through (0.1, 3], (0.1, 30] and (0.1, 300], with both signs at each
    scale (`\\max(x, -5)` and `x` differ only below -5); denominators are drawn from
    [1000, 9999], so no fixed multiplier makes L x an integer at every point
    (`\\sin(L \\pi x)`); the generator is seeded from the two answers (`seed`), so a
    verdict is reproducible but the points cannot be known before the answer is written.
    Non-integers avoid the poles and branch points that sit on integers.
    """
    ordered = sorted(symbols, key=str)
    rng = random.Random(_SEED * 1_000_003 + seed)
    for k in range(MAX_POINT_TRIES):
        scale = POINT_SCALES[(k // 2) % len(POINT_SCALES)]
        point = {}
        for j, symbol in enumerate(ordered):
            denominator = rng.randint(1000, 9999)
            numerator = rng.randint(denominator // 10 + 1, scale * denominator)
            point[symbol] = sympy.Rational((-1) ** (k + j) * numerator, denominator)
        yield point


def _tiny_constants(a, b) -> tuple[bool, str]:
    """Two constants both below the noise floor at EVAL_DIGITS: decided at TINY_DIGITS.

    `e^{-100}` is not 0 (its value is exact to every digit); a true zero that cancels
    badly in evaluation (a nested radical minus its denesting) stays below 10^-(TINY_DIGITS
    - 10) however precisely it is evaluated.
    """
    try:
        with mpmath.workdps(TINY_DIGITS + 10):
            diff, size = (sympy.Abs(v).evalf(TINY_DIGITS) for v in (a - b, sympy.Max(
                sympy.Abs(a), sympy.Abs(b))))
            diff, size = mpmath.mpf(diff), mpmath.mpf(size)
            if diff <= mpmath.mpf(10) ** -(TINY_DIGITS - 10) or diff <= _EXACT_TOLERANCE * size:
                return True, "equal: numeric"
    except (TypeError, ValueError, ArithmeticError, AttributeError, RecursionError):
        return False, "unequal: could not evaluate"
    return False, "unequal: different values"


def _simplifies_to_zero(expr) -> bool:
    try:
        return sympy.simplify(expr) == 0
    except Exception:  # sympy raises many kinds of errors on odd input; not proven zero
        return False


def _is_logic(value) -> bool:
    return isinstance(value, (sympy.core.relational.Relational, sympy.And, sympy.Or))


def _inequality_form(rel):
    """(g, kind) with rel equivalent to g > 0 ("gt"), g >= 0 ("ge") or g != 0 ("ne")."""
    if isinstance(rel, (sympy.StrictLessThan, sympy.LessThan)):
        return rel.rhs - rel.lhs, "gt" if isinstance(rel, sympy.StrictLessThan) else "ge"
    if isinstance(rel, (sympy.StrictGreaterThan, sympy.GreaterThan)):
        return rel.lhs - rel.rhs, "gt" if isinstance(rel, sympy.StrictGreaterThan) else "ge"
    if isinstance(rel, sympy.Ne):
        return rel.lhs - rel.rhs, "ne"
    return None


def _as_set(value):
    """A sympy Set for sets, intervals written as tuples, one-variable inequalities and
    lists of them (a union); None when the value is not a set of reals."""
    if isinstance(value, sympy.Set):
        return value
    if isinstance(value, sympy.Tuple) and len(value) == 2:
        start, end = value
        if isinstance(start, sympy.Expr) and isinstance(end, sympy.Expr) \
                and start.is_number and end.is_number and start.is_extended_real \
                and end.is_extended_real and bool(start < end):
            return sympy.Interval.open(start, end)
        return None
    if isinstance(value, Assignment) and value.op == "in":
        return _as_set(value.value)
    if isinstance(value, BareList):
        parts = [_as_set(item) for item in value.items]
        if parts and all(p is not None for p in parts) and any(
                _is_logic(item) for item in value.items):
            return sympy.Union(*parts)
        return None
    if _is_logic(value) and not isinstance(value, sympy.Eq) \
            and len(value.free_symbols) == 1:
        return _linear_set(value, next(iter(value.free_symbols)))
    return None


def _linear_set(value, symbol):
    """The solution set of a linear inequality in one variable (or an And / Or of them),
    solved directly: a x + b > 0 is x > -b/a, flipped when a < 0. None otherwise."""
    if isinstance(value, (sympy.And, sympy.Or)):
        parts = [_linear_set(arg, symbol) for arg in value.args]
        if any(p is None for p in parts):
            return None
        return (sympy.Intersection if isinstance(value, sympy.And) else sympy.Union)(*parts)
    form = _inequality_form(value)
    if form is None:
        return None
    g, kind = form
    slope, offset = g.diff(symbol), g.subs(symbol, 0)
    if slope.free_symbols or offset.free_symbols or not slope.is_extended_real \
            or not offset.is_extended_real or slope.is_zero or g.diff(symbol, 2) != 0:
        return None
    root = -offset / slope
    if kind == "ne":
        return sympy.Union(sympy.Interval.open(-sympy.oo, root),
                           sympy.Interval.open(root, sympy.oo))
    strict = kind == "gt"
    if slope.is_positive:  # g > 0  <=>  x > root
        return sympy.Interval(root, sympy.oo, left_open=strict)
    return sympy.Interval(-sympy.oo, root, right_open=strict)


def _components(value) -> tuple:
    return tuple(value.args) if isinstance(value, sympy.Union) else (value,)


def _has_marker(value) -> bool:
    if isinstance(value, Assignment):
        return _has_marker(value.value)
    if isinstance(value, BareList):
        return any(_has_marker(item) for item in value.items)
    return isinstance(value, sympy.Basic) and (value.has(Percent) or value.has(Degrees))


def _map(value, function):
    if isinstance(value, Assignment):
        return Assignment(value.target, _map(value.value, function), value.op)
    if isinstance(value, BareList):
        return BareList(tuple(_map(item, function) for item in value.items))
    return function(value) if isinstance(value, sympy.Basic) else value


def _readings(value) -> list:
    """[as written] or, with percent / degree signs, [signs dropped, signs converted]:
    50% reads as 50 and as 1/2; 30 degrees reads as 30 and as pi/6."""
    if not _has_marker(value):
        return [value]
    dropped = _map(value, lambda v: v.replace(Percent, lambda x: x)
                   .replace(Degrees, lambda x: x))
    converted = _map(value, lambda v: v.replace(Percent, lambda x: x / 100)
                     .replace(Degrees, lambda x: x * sympy.pi / 180))
    return [dropped, converted]


def compare(gold_text: str, candidate_text: str | None) -> tuple[bool, str]:
    """Parse two normalized answers and compare them: (equal, reason). Without a
    candidate, only parse the gold: (parsed, reason)."""
    try:
        gold = parse_answer(gold_text)
    except ParseError as err:
        return False, f"gold not parsed: {err}"
    if candidate_text is None:
        return True, "gold parsed"
    try:
        candidate = parse_answer(candidate_text)
    except ParseError as err:
        return False, f"answer not parsed: {err}"
    digest = hashlib.sha256(f"{gold_text}\x00{candidate_text}".encode()).digest()
    return Comparator(gold, candidate, int.from_bytes(digest[:8], "big")).compare(
        gold.value, candidate.value)


def compare_task(gold_text: str, candidate_text: str | None) -> list:
    """Worker entry point: `compare` with every failure turned into a verdict."""
    try:
        equal, reason = compare(gold_text, candidate_text)
    except RecursionError:
        return [False, "error: nesting too deep"]
    except MemoryError:
        return [False, "error: out of memory"]
    except Exception as err:  # a comparison that fails is an incorrect answer, not a crash
        return [False, f"error: {type(err).__name__}"]
    return [bool(equal), reason]


def _named(answers: BareList) -> dict | None:
    """{variable: value} when every answer of a list assigns a distinct variable."""
    named = {item.target: item.value for item in answers.items
             if isinstance(item, Assignment) and item.op == "="
             and isinstance(item.target, sympy.Symbol)}
    return named if len(named) == len(answers.items) else None
