"""The recursive-descent parser of the answer language, building sympy objects.

Model text is never handed to `eval`, `exec`, `sympify` or `parse_expr`: this parser
reads the normalized answer (see `math_normalize`) token by token (`math_tokens`) and
calls sympy constructors itself (`Integer`, `Rational`, `+`, `*`, `Pow`, `Interval`, ...,
through `math_build`), so the only things an answer can produce are numbers, symbols and
the functions in `math_build`'s tables. Sizes are checked *before* anything is built:
a power whose exact value would exceed `MAX_RESULT_BITS`, an exponent beyond
`MAX_EXPONENT`, a factorial beyond `MAX_FACTORIAL`, a literal beyond `MAX_NUMBER_DIGITS`
digits or nesting beyond `MAX_NESTING` raise `ParseError` instead.

Grammar (lowest precedence first; `a b` is implicit multiplication):

    answer   := relation (("," | ";") relation)*          several: a BareList
    relation := setexpr (relop setexpr)*                  = < > \\le \\ge \\ne \\in \\approx
    setexpr  := additive ((\\cup | \\cap | \\setminus) additive)*
    additive := term (("+" | "-") term)*
    term     := unary (("*" | \\cdot | \\times | "/" | \\div) unary | power)*
                                                          2\\frac{1}{3}: the mixed number 7/3
    unary    := ("-" | "+")* power
    power    := postfix ("^" exponent)?                   right associative
    postfix  := primary ("!" | \\% | \\degree)*
    primary  := number | letter[_sub] | constant | function | \\frac | \\sqrt | \\binom
              | (...) | [...] | {...} | \\{...\\} | |...| | \\lfloor..\\rfloor | matrix
              | \\sum_{k=a}^{b} term | \\prod_{k=a}^{b} term     integer bounds only

What the result means: a sympy expression; a `Tuple` (parentheses with commas: a point,
or an open interval, the comparator decides by the other side); an `Interval`, `Union`,
`FiniteSet`; an `ImmutableMatrix`; a relational (`Eq`, `Lt`, ..., chains as `And`); an
`Assignment` (`x = 5`, `y = 2x + 1`, `x \\in [0, 1]`); or a `BareList` (answers separated
by commas at the top level, and the two branches of `\\pm`). Percent and degree signs
stay visible as the markers `Percent(x)` and `Degrees(x)` for the comparator's readings.
"""

from __future__ import annotations

import re

import sympy
from sympy import Integer, Rational

from .math_build import (ACCENTS, CONSTANTS, FUNCTIONS, GREEK, INVERSE, MATRICES, MULTI_ARG, RELATIONS,
                         PERIOD_INDEX, SERIES_INDEX, SETS, Assignment, BareList, Degrees,
                         Parsed, Percent, PeriodicUnion, Piecewise, Series, add, as_interval,
                         make_interval, mul, neg, require_expr, safe_factorial, safe_pow)
from .math_policy import (MAX_BINOMIAL, MAX_COLLECTION, MAX_DETERMINANT_SIZE, MAX_MATRIX_CELLS,
                          MAX_NESTING, MAX_NUMBER_DIGITS, MAX_PARSE_CHARS, MAX_PLUS_MINUS,
                          MAX_SUM_TERMS)
from .math_tokens import DIVIDE, NUMBER_RE, TIMES, ParseError, Token, implicit_start, tokenize

__all__ = ["parse_answer", "Parsed", "ParseError", "Assignment", "BareList", "Percent",
           "Degrees"]


class _Parser:
    """One pass over the tokens; every method returns a finished sympy object."""

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.decimals: dict = {}
        self._peek_value = None  # the right side of the relation being read
        self.bound: dict = {}  # index of a \sum or \prod -> the value of the current term
        self.terms_read = 0  # summands read by all \sum and \prod, nested ones too

    # token helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token.text == text and token.kind in ("op", "cmd")

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            found = self.peek().text or "end of answer"
            raise ParseError(f"expected {text!r}, found {found!r}")

    def enter(self):
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ParseError("nesting too deep")

    # grammar
    def items(self, separators=(",", ";")) -> list:
        """One or more relations separated by commas (at most MAX_COLLECTION)."""
        items = [self.relation()]
        while any(self.accept(separator) for separator in separators):
            items.append(self.relation())
            if len(items) > MAX_COLLECTION:
                raise ParseError("too many elements")
        return items

    def answer(self):
        items = self.items()
        if self.peek().kind != "eof":
            raise ParseError(f"unexpected {self.peek().text!r}")
        return items[0] if len(items) == 1 else BareList(tuple(items))

    def relation(self):
        start = self.i
        sides, ops = [self.setexpr()], []
        side_starts = [start]
        while self.peek().text in RELATIONS and self.peek().kind in ("op", "cmd"):
            ops.append(self.next().text)
            side_starts.append(self.i)
            sides.append(self.setexpr())
        if not ops:
            return sides[0]
        if len(ops) == 1:
            op, left, right = ops[0], sides[0], sides[1]
            if op in ("=", "\\approx", "\\in"):
                self._peek_value = right
                if self._is_target(left, start, side_starts[1] - 1):
                    return Assignment(left, right, "in" if op == "\\in" else "=")
                if op != "\\in" and self._is_target(right, side_starts[1], self.i):
                    return Assignment(right, left)
                if op == "\\in":
                    raise ParseError("\\in needs a variable on its left")
                if not all(isinstance(v, sympy.Expr) and not isinstance(v, sympy.MatrixBase)
                           for v in (left, right)):
                    # `A^{-1} = [[...]]`, `[a, b] = [c, d]`, `u \cdot v = 17`: a computed
                    # set, matrix or tuple, or a value computed from one; the last side
                    return Assignment(left, right) if isinstance(left, sympy.Basic) else right
            return RELATIONS[op](require_expr(left, "side"), require_expr(right, "side"),
                                  evaluate=False)
        if all(op in ("=", "\\approx") for op in ops):
            # `t = \frac{\ln 18}{0.1} = 10 \ln 18`: worked steps, the last side is the answer
            return Assignment(sides[0], sides[-1]) if isinstance(sides[0], sympy.Basic) \
                else sides[-1]
        if any(op in ("=", "\\in", "\\approx", "\\ne") for op in ops):
            raise ParseError("chained equations are not supported")
        parts = [RELATIONS[op](require_expr(a, "side"), require_expr(b, "side"),
                                evaluate=False)
                 for op, a, b in zip(ops, sides, sides[1:])]
        return sympy.And(*parts, evaluate=False)

    def _is_target(self, value, start: int, end: int) -> bool:
        """A variable (`x`, `x_1`, `\\theta`), a tuple of them, or `f(x)` written as such."""
        if isinstance(value, sympy.Symbol):
            return True
        if isinstance(value, sympy.Pow) and isinstance(value.base, sympy.Symbol) \
                and isinstance(self._peek_value, sympy.MatrixBase):
            return True  # `B^{-1} = [[...]]`: the inverse matrix named
        if isinstance(value, sympy.Tuple):
            return all(isinstance(v, sympy.Symbol) for v in value)
        tokens = self.tokens[start:end]
        return (len(tokens) >= 4 and tokens[0].kind == "id" and tokens[1].text == "("
                and tokens[-1].text == ")")

    def setexpr(self):
        left = self.additive()
        while self.peek().text in ("\\cup", "\\cap", "\\setminus"):
            op = self.next().text
            right = self.additive()
            if not (isinstance(left, sympy.Set) and isinstance(right, sympy.Set)):
                left, right = (as_interval(v) for v in (left, right))
            combine = {"\\cup": sympy.Union, "\\cap": sympy.Intersection,
                       "\\setminus": sympy.Complement}[op]
            left = combine(left, right)
        return left

    def additive(self):
        value = self.term()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            op = self.next().text
            right = self.term()
            value = add(value, right if op == "+" else neg(right))
        return value

    def term(self):
        value = self.unary()
        while True:
            token = self.peek()
            if token.text in TIMES and token.kind in ("op", "cmd"):
                self.next()
                factor = self.unary()
                product = mul(value, factor)
                self._scale_decimal(value, factor, product)
                value = product
            elif token.text in DIVIDE and token.kind in ("op", "cmd"):
                self.next()
                divisor = require_expr(self.unary(), "divisor")
                value = mul(value, safe_pow(divisor, Integer(-1)))
            elif implicit_start(token):
                value = self._implicit_product(value)
            else:
                return value

    def _scale_decimal(self, decimal, factor, product) -> None:
        """`3.14 \\times 10^{5}` is a written decimal too: register the product with the
        unit of its last digit scaled by the power of ten."""
        unit = self.decimals.get(decimal) if isinstance(decimal, sympy.Rational) else None
        if unit is not None and isinstance(factor, sympy.Rational) and factor > 0 and (
                factor.q == 1 or factor.p == 1):
            digits = str(factor.p if factor.q == 1 else factor.q)
            if digits == "1" + "0" * (len(digits) - 1):  # a power of ten
                self.decimals.setdefault(abs(product), unit * factor)

    def _implicit_product(self, value):
        """`value` times the next power; `2\\frac{1}{3}` (an integer literal, then a proper
        fraction of integer literals) is the mixed number 7/3 instead."""
        before, start = self.tokens[self.i - 1], self.i
        factor = self.power()
        literal = (before.kind == "num" and before.text.isdigit()
                   and isinstance(value, sympy.Integer) and abs(value) == int(before.text))
        fraction_only = self.tokens[start].text == "\\frac" and all(
            t.kind == "num" or t.text in "{}" for t in self.tokens[start + 1:self.i])
        if literal and fraction_only and factor.is_Rational and 0 < factor < 1:
            return value + factor if value >= 0 else value - factor
        return mul(value, factor)

    def unary(self):
        sign = 1
        while self.peek().text in ("-", "+") and self.peek().kind == "op":  # a loop: `----1`
            sign = -sign if self.next().text == "-" else sign
        value = self.power()
        return neg(value) if sign < 0 else value

    def power(self):
        base = self.postfix()
        if self.accept("^"):
            exponent = self.exponent()
            if isinstance(base, sympy.MatrixBase):
                return _matrix_power(base, exponent)
            return safe_pow(require_expr(base, "base of a power"), exponent)
        return base

    def exponent(self):
        """What follows `^`: a braced group, or one number / letter / command (`2^10`
        reads the whole number 10, as writers of plain-text math mean it)."""
        self.enter()
        try:
            if self.accept("-"):
                return neg(self.exponent())
            if self.accept("+"):
                return self.exponent()
            token = self.peek()
            if token.kind == "op" and token.text in "{(":
                value = self.primary()
            elif token.kind == "num":
                value = self.number()
            elif token.kind == "id":
                value = self.letter()
            elif token.kind == "cmd":
                value = self.primary()
            else:
                raise ParseError("missing exponent")
            if self.accept("^"):  # a^b^c = a^(b^c)
                value = safe_pow(value, self.exponent())
            return value
        finally:
            self.depth -= 1

    def postfix(self):
        value = self.primary()
        while True:
            if self.accept("!"):
                value = safe_factorial(value)
            elif self.accept("\\%"):
                value = Percent(require_expr(value, "percentage"))
            elif self.accept("\\degree"):
                value = Degrees(require_expr(value, "angle"))
            else:
                return value

    def latex_arg(self):
        """One TeX argument: `{...}`, or a single digit / letter / command (`\\frac12`)."""
        token = self.peek()
        if token.kind == "op" and token.text == "{":
            return self.primary()
        if token.kind == "num":
            if len(token.text) > 1:  # TeX takes one character: split the number token
                self.tokens[self.i] = Token("num", token.text[1:], token.pos + 1)
                return self._literal(token.text[0])
            return self.number()
        if token.kind == "id":
            return self.letter()
        if token.kind == "cmd":
            return self.primary()
        raise ParseError("missing argument")

    def primary(self):
        self.enter()
        try:
            return self._primary()
        finally:
            self.depth -= 1

    def _primary(self):
        token = self.peek()
        if token.kind == "num":
            return self.number()
        if token.kind == "id":
            return self.letter()
        if token.kind == "lset":
            return self.set_literal()
        if token.kind == "begin":
            return self.matrix()
        if token.kind == "op":
            if token.text in "([":
                return self.bracketed()
            if token.text == "{":
                self.next()
                items = self.items_until("}")
                return items[0] if len(items) == 1 else BareList(tuple(items))
            if token.text == "|":
                self.next()
                inner = self.additive()
                self.expect("|")
                return sympy.Abs(require_expr(inner, "absolute value"))
        if token.kind == "cmd":
            return self.command()
        raise ParseError(f"unexpected {token.text or 'end of answer'!r}")

    def number(self):
        token = self.next()
        match = NUMBER_RE.fullmatch(token.text)
        mantissa, exponent = match.group(1), match.group(2)
        value = literal = self._literal(mantissa)
        if self.peek().text == "\\overline" and "." in mantissa and exponent is None:
            self.next()  # 0.\overline{3} = 1/3
            repeat = "".join(t.text for t in self._raw_group())
            if not repeat.isdigit() or len(repeat) > 50:
                raise ParseError("bad repeating decimal")
            whole, _, fraction = mantissa.partition(".")
            value = (Rational(int((whole or "0") + fraction + repeat)
                              - int((whole or "0") + fraction),
                              10 ** len(fraction) * (10 ** len(repeat) - 1)))
            self.decimals.pop(literal, None)  # exact, not an approximation
            return value
        if self.peek().text == "_" and "." not in mantissa:  # 1011_2: a base-2 numeral
            self.next()
            base = int("".join(t.text for t in self._raw_group())) \
                if self.peek().text == "{" else int(self.next().text)
            try:
                return Integer(int(mantissa, base))
            except ValueError:
                raise ParseError("bad numeral base") from None
        if exponent is not None:
            scale = safe_pow(Integer(10), Integer(int(exponent)))
            product = mul(value, scale)
            self._scale_decimal(literal, scale, product)
            value = product
        return value

    def _literal(self, digits: str):
        whole, _, fraction = digits.partition(".")
        if len(whole) + len(fraction) > MAX_NUMBER_DIGITS:
            raise ParseError("number literal too long")
        value = Rational(int((whole or "0") + fraction), 10 ** len(fraction))
        if "." in digits:
            self.decimals[value] = Rational(1, 10 ** len(fraction))
        return value

    def _raw_group(self) -> list[Token]:
        """The tokens of a `{...}` group (or of one token), unparsed: names, bases."""
        if not self.accept("{"):
            return [self.next()]
        out, level = [], 1
        while True:
            token = self.next()
            if token.kind == "eof":
                raise ParseError("unbalanced braces")
            if token.text == "{":
                level += 1
            elif token.text == "}":
                level -= 1
                if level == 0:
                    return out
            out.append(token)

    def _subscripted(self, name: str):
        """The symbol `name`, with the subscript that follows it (`\\omega_{d}`)."""
        if self.peek().text == "_":
            self.next()
            sub = "".join(t.text for t in self._raw_group())
            if not sub or len(sub) > 20:
                raise ParseError("bad subscript")
            return sympy.Symbol(f"{name}_{sub}")
        return sympy.Symbol(name)

    def letter(self):
        token = self.next()
        name = token.text
        if name in self.bound and self.peek().text != "_":
            return self.bound[name]
        if self.peek().text == "_":
            return self._subscripted(name)
        if name == "e":
            return sympy.E
        if name == "i":
            return sympy.I
        return sympy.Symbol(name)

    def command(self):
        name = self.next().text
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name[1:] in GREEK or name == "\\hbar":
            return self._subscripted(name[1:])
        if name in ACCENTS:  # \vec{a}, \bar{z}, \hat{F}: a symbol of its own
            inner = "".join(t.text for t in self._raw_group())
            if not inner or len(inner) > 20:
                raise ParseError(f"bad {name}")
            return self._subscripted(f"{name[1:]}({inner})")
        if name == "\\frac":
            numerator = require_expr(self.latex_arg(), "numerator")
            denominator = require_expr(self.latex_arg(), "denominator")
            return mul(numerator, safe_pow(denominator, Integer(-1)))
        if name == "\\sqrt":
            index = None
            if self.accept("["):
                index = require_expr(self.additive(), "root index")
                self.expect("]")
            radicand = require_expr(self.latex_arg(), "radicand")
            if index is None:
                return safe_pow(radicand, Rational(1, 2))
            return safe_pow(radicand, safe_pow(index, Integer(-1)))
        if name == "\\binom":
            n = require_expr(self.latex_arg(), "binomial")
            k = require_expr(self.latex_arg(), "binomial")
            if n.is_number and abs(n.evalf(15)) > MAX_BINOMIAL:
                raise ParseError("binomial too large")
            return sympy.binomial(n, k)
        if name in FUNCTIONS:
            return self.function(name)
        if name in ("\\sum", "\\prod"):
            return self.finite_sum(name)
        if name == "\\bigcup":
            return self.periodic_union()
        if name in MULTI_ARG:
            self.expect("(")
            args = [require_expr(a, "argument") for a in self.items_until(")")]
            if name in ("\\gcd", "\\lcm") and not all(a.is_Integer for a in args):
                raise ParseError("gcd and lcm need integers")
            result = args[0]
            for a in args[1:]:
                result = MULTI_ARG[name](result, a)
            return result
        if name in ("\\lfloor", "\\lceil"):
            inner = require_expr(self.additive(), "floor / ceiling")
            self.expect("\\rfloor" if name == "\\lfloor" else "\\rceil")
            return sympy.floor(inner) if name == "\\lfloor" else sympy.ceiling(inner)
        if name == "\\mathbb":
            letter = "".join(t.text for t in self._raw_group())
            if letter not in SETS:
                raise ParseError(f"unknown set \\mathbb{{{letter}}}")
            return SETS[letter]
        raise ParseError(f"unsupported command {name}")

    def finite_sum(self, name: str):
        """`\\sum_{k=1}^{5} (3k+5)`, `\\prod_{j=1}^{4} j`: integer bounds, at most
        MAX_SUM_TERMS summands read in all the sums of an answer (nested ones too); the
        summand (the product that follows, as for `\\sin 2x`) is read once per term with the
        index bound to its value, under every size guard. An infinite sum from an integer
        is a `Series` (`infinite_series`); other symbolic bounds are refused."""
        self.expect("_")
        self.expect("{")
        index = self.next()
        if index.kind != "id" or index.text in self.bound:
            raise ParseError(f"bad index of {name}")
        self.expect("=")
        lower = self.additive()
        self.expect("}")
        self.expect("^")
        upper = self.exponent()
        if name == "\\sum" and upper == sympy.oo and getattr(lower, "is_Integer", False):
            return self.infinite_series(index.text, lower)
        if not (getattr(lower, "is_Integer", False) and getattr(upper, "is_Integer", False)):
            raise ParseError(f"{name} with infinite or symbolic bounds is not supported")
        values = range(int(lower), int(upper) + 1) if upper - lower < MAX_SUM_TERMS else None
        self.terms_read += max(len(values), 1) if values is not None else MAX_SUM_TERMS + 1
        if self.terms_read > MAX_SUM_TERMS:
            raise ParseError(f"sums and products of more than {MAX_SUM_TERMS} terms")
        start, total = self.i, Integer(0 if name == "\\sum" else 1)
        for value in values or [None]:  # an empty sum or product: read its summand once
            self.i = start
            if value is not None:
                self.bound[index.text] = Integer(value)
            try:
                term = self.power()
                while implicit_start(self.peek()):
                    term = mul(term, self.power())
            finally:
                self.bound.pop(index.text, None)
            if value is not None:
                total = add(total, term) if name == "\\sum" else mul(total, term)
        return total

    def infinite_series(self, index: str, lower):
        """`\\sum_{n=a}^{\\infty} f(n)`: the summand, read once with the index bound to
        SERIES_INDEX + a, so that series written from different starts compare term by
        term (`\\sum_{n=1}^{\\infty} n x^{n-1}` is `\\sum_{n=0}^{\\infty} (n+1) x^n`)."""
        self.terms_read += 1
        self.bound[index] = add(SERIES_INDEX, lower)
        start = self.i
        try:
            term = self.power()
            while implicit_start(self.peek()):
                term = mul(term, self.power())
        finally:
            self.bound.pop(index, None)
        if any(token.text == "_" for token in self.tokens[start:self.i]):
            # `a_n` is one symbol, not shifted with the index: `\sum_{n=0} a_n x^n` would
            # equal `\sum_{n=1} a_n x^{n-1}`
            raise ParseError("a subscript in the summand of a series")
        return Series(require_expr(term, "summand"))

    def periodic_union(self):
        """`\\bigcup_{k=-\\infty}^{\\infty} (k\\pi, k\\pi + 1)`: the set that follows (an
        interval, or a union in set braces), read once with k bound to the integer
        PERIOD_INDEX. Only over all integers: other bounds are refused."""
        self.expect("_")
        self.expect("{")
        index = self.next()
        if index.kind != "id" or index.text in self.bound:
            raise ParseError("bad index of \\bigcup")
        self.expect("=")
        lower = self.additive()
        self.expect("}")
        self.expect("^")
        upper = self.exponent()
        if lower != -sympy.oo or upper != sympy.oo:
            raise ParseError("\\bigcup over other than all integers is not supported")
        self.bound[index.text] = PERIOD_INDEX
        try:
            if self.peek().kind == "lset":  # `\\{[a, b] \\cup (c, d)\\}`: braces group a union
                self.next()
                body = self.setexpr()
                if self.next().kind != "rset":
                    raise ParseError("unbalanced set braces after \\bigcup")
            else:
                body = self.power()
        finally:
            self.bound.pop(index.text, None)
        body = as_interval(body)
        if not body.has(PERIOD_INDEX):
            raise ParseError("\\bigcup of a set that does not depend on its index")
        return PeriodicUnion(body)

    def function(self, name: str):
        base = None
        if name == "\\log" and self.accept("_"):
            base = require_expr(self.latex_arg(), "logarithm base")
        power = None
        if self.accept("^"):
            power = self.exponent()
        if self.at("("):
            argument = self.primary()
        elif self.at("{"):
            argument = self.primary()
        else:  # \sin 2x: the argument is the implicit product that follows
            argument = self.power()
            while implicit_start(self.peek()) and not (
                    self.peek().kind == "cmd" and self.peek().text in FUNCTIONS):
                argument = mul(argument, self.power())
        argument = require_expr(argument, "function argument")
        if power is not None and power == -1 and name in INVERSE:
            return INVERSE[name](argument)
        value = (sympy.log(argument, base) if base is not None
                 else FUNCTIONS[name](argument))
        return value if power is None else safe_pow(value, power)

    def items_until(self, closer: str) -> list:
        """Comma-separated relations up to the closing token (consumed)."""
        if self.at(closer):
            raise ParseError("empty brackets")
        items = self.items()
        self.expect(closer)
        return items

    def bracketed(self):
        """`(a)` grouping, `(a, b)` tuple, `[a, b]` / `(a, b]` / `[a, b)` intervals."""
        opener = self.next().text
        if self.peek().text in ")]":
            raise ParseError("empty brackets")
        items = self.items(separators=(",",))
        closer = self.next()
        if closer.text not in (")", "]") or closer.kind != "op":
            raise ParseError("unbalanced brackets")
        if len(items) == 1:
            if opener + closer.text in ("()", "[]"):
                return items[0]
            raise ParseError("half-open bracket around one value")
        if len(items) == 2 and opener + closer.text != "()":
            interval = make_interval(items[0], items[1], opener == "(", closer.text == ")")
            if interval is not None:
                return interval
            if opener + closer.text != "[]":
                raise ParseError("invalid interval")
        if _solution_list(items):  # `[x=1, y=5, z=3]`: a system's solution, as a list
            return BareList(tuple(items))
        for item in items:
            if not isinstance(item, sympy.Basic):
                raise ParseError("unsupported element in a tuple")
        return sympy.Tuple(*items)

    def set_literal(self):
        self.next()
        if self.peek().kind == "begin" and self.peek().text == "array":
            # `\\left\\{\\begin{array}{ll} f & x<0 \\\\ g & x \\ge 0\\end{array}\\right.`
            piecewise = self.piecewise()
            self.accept("\\}")
            return piecewise
        if self.peek().kind == "rset":
            self.next()
            return sympy.EmptySet
        if self.peek().kind == "id" and (self.peek(1).text in ("|", ":", "\\mid")):
            # `\{x \mid -2 \le x < 1\}`: the set is its condition, read as a set;
            # `\{x \mid x \ge 0, x \ne 1\}`: conditions that all hold
            self.i += 2
            condition = self.relation()
            while self.accept(","):
                condition = sympy.And(condition, self.relation())
            if self.next().kind != "rset":
                raise ParseError("unbalanced set braces")
            return condition
        items = self.items(separators=(",",))
        if self.next().kind != "rset":
            raise ParseError("unbalanced set braces")
        if _solution_list(items):  # `\{g=60, b=200\}`
            return BareList(tuple(items))
        for item in items:
            if not isinstance(item, (sympy.Expr, sympy.Tuple)):
                raise ParseError("unsupported set element")
        return sympy.FiniteSet(*items)

    def piecewise(self):
        """`\\begin{cases}` (or an array after `\\{`) of rows `value & condition`: a
        Piecewise. A condition is a relation (`1 \\le p \\le 5`, `m > 500`); `\\text{if}`
        was dropped by the normalizer; "otherwise" is a word, so such a gold is not read."""
        environment = self.next().text
        if environment == "array" and self.at("{"):
            self._raw_group()  # column specification
        pieces = []
        while self.peek().kind != "end":
            value = require_expr(self.additive(), "value of a piece")
            self.expect("&")
            condition = self.relation()
            if not isinstance(condition, sympy.Basic) or isinstance(condition, sympy.Expr):
                raise ParseError("condition of a piece is not a relation")
            pieces.append((value, condition))
            if len(pieces) > MAX_COLLECTION:
                raise ParseError("too many pieces")
            if self.peek().kind == "row":
                self.next()
            elif self.peek().kind != "end":
                raise ParseError("bad piece separator")
        if self.next().text != environment or not pieces:
            raise ParseError("mismatched \\end or no pieces")
        return Piecewise(tuple(pieces))

    def matrix(self):
        if self.peek().text == "cases":
            return self.piecewise()
        environment = self.next().text
        if environment not in MATRICES:
            raise ParseError(f"unsupported environment {environment}")
        if environment == "array" and self.at("{"):
            self._raw_group()  # column specification
        rows, row = [], []
        while True:
            if self.peek().kind == "end":
                break
            row.append(require_expr(self.additive(), "matrix entry"))
            if self.accept("&"):
                continue
            if self.peek().kind == "row":
                self.next()
                rows.append(row)
                row = []
                continue
            if self.peek().kind != "end":
                raise ParseError("bad matrix entry separator")
        if self.next().text != environment:
            raise ParseError("mismatched \\end")
        if row:
            rows.append(row)
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise ParseError("ragged matrix")
        if len(rows) * len(rows[0]) > MAX_MATRIX_CELLS:
            raise ParseError("matrix too large")
        matrix = sympy.ImmutableMatrix(rows)
        if environment in ("vmatrix", "Vmatrix"):
            if not matrix.is_square or matrix.rows > MAX_DETERMINANT_SIZE:
                raise ParseError("determinant of a non-square or large matrix")
            return matrix.det()
        return matrix


# --- Entry point --------------------------------------------------------------------

_PLUS_MINUS_RE = re.compile(r"\\(pm|mp)(?![A-Za-z])")

def _matrix_power(matrix, exponent):
    """`A^{T}` the transpose; `A^{-1}`, `A^{2}`: integer powers of a square matrix of at
    most MAX_DETERMINANT_SIZE rows (an inverse needs a non-zero determinant)."""
    if exponent == sympy.Symbol("T"):
        return matrix.T
    rows, columns = matrix.shape
    if not (getattr(exponent, "is_Integer", False) and abs(exponent) <= MAX_DETERMINANT_SIZE
            and rows == columns <= MAX_DETERMINANT_SIZE):
        raise ParseError("unsupported power of a matrix")
    if exponent < 0 and matrix.det() == 0:
        raise ParseError("inverse of a singular matrix")
    return sympy.ImmutableMatrix(matrix ** int(exponent))


def _solution_list(items: list) -> bool:
    """Two or more assignments to distinct variables: the solution of a system."""
    targets = [item.target for item in items if isinstance(item, Assignment)
               and item.op == "=" and isinstance(item.target, sympy.Symbol)]
    return len(items) > 1 and len(targets) == len(items) == len(set(targets))


def parse_answer(text: str) -> Parsed:
    """Parse one normalized answer into a `Parsed`; raise `ParseError` for anything else.

    `\\pm` / `\\mp` (at most `MAX_PLUS_MINUS` of them) expand into the two branches
    (`\\pm` takes the sign s, `\\mp` takes -s), returned as a BareList.
    """
    if len(text) > MAX_PARSE_CHARS:
        raise ParseError("answer too long to parse")
    if not text.strip():
        raise ParseError("empty answer")
    if _EVALUATED_RE.search(text):  # `\lim_{n \to \infty} a_n = 1/2`: the value
        text = ", ".join(_evaluated_value(part) for part in _split_top_level(text))
    signs = _PLUS_MINUS_RE.findall(text)
    if not signs:
        return _parse_one(text)
    parts = _split_top_level(text)
    if len(parts) > 1:  # `\pm 1, \pm 7`: each element has its own signs
        if len(parts) > MAX_COLLECTION:
            raise ParseError("too many elements")
        items, decimals = [], {}
        for part in parts:
            parsed = parse_answer(part)
            value = parsed.value
            items.extend(value.items if isinstance(value, BareList) else [value])
            decimals.update(parsed.decimals)
        return Parsed(BareList(tuple(items)), decimals)
    if len(signs) > MAX_PLUS_MINUS:
        raise ParseError("too many \\pm")
    branches, decimals = [], {}
    for sign in ("+", "-"):
        other = "-" if sign == "+" else "+"
        variant = _PLUS_MINUS_RE.sub(lambda m: sign if m.group(1) == "pm" else other, text)
        parsed = _parse_one(variant)
        if isinstance(parsed.value, BareList):
            raise ParseError("\\pm inside a list is not supported")
        branches.append(parsed.value)
        decimals.update(parsed.decimals)
    if branches[0] == branches[1]:
        return Parsed(branches[0], decimals)
    return Parsed(BareList(tuple(branches)), decimals)


# A limit, integral, sum or probability evaluated: `\lim ... = 1/2`, `P(X=5) = 0.45`.
_EVALUATED_RE = re.compile(r"(?:^|,)\s*(?:\\(?:lim|int|iint|oint|sum|prod|Pr)(?![A-Za-z])"
                           r"|P\s*\()")


def _evaluated_value(part: str) -> str:
    """What follows the last top-level `=` of an evaluated limit, integral, sum or
    probability; any other part unchanged. The left side is not read: it names the
    quantity, the right side is the answer."""
    if not _EVALUATED_RE.match(part):
        return part
    depth, cut = 0, -1
    for i, ch in enumerate(part):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            cut = i
    return part[cut + 1:] if cut > 0 and part[cut + 1:].strip() else part


def _split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside every bracket, brace and set brace."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


def _parse_one(text: str) -> Parsed:
    parser = _Parser(tokenize(text))
    try:
        value = parser.answer()
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("nesting too deep") from None
    except Exception as err:  # any failure of sympy while building: not an answer
        raise ParseError(f"cannot build: {type(err).__name__}") from None
    return Parsed(value, parser.decimals)
