"""Bounded string normalization of math answers, and the checks that need no parser.

`normalize` rewrites an answer into the small LaTeX dialect that `math_parse` reads:
delimiters and `\\boxed{}` stripped, unicode symbols spelled as commands, spacing and
sizing commands (`\\,`, `\\left`, `\\displaystyle`) dropped, `\\dfrac` / `\\tfrac` read as
`\\frac`, degree and percent signs made into the tokens `\\degree` and `\\%`, units and
other words in `\\text{}` removed, thousands separators removed from a lone number.
Every step is a linear regular-expression pass or a table lookup, so normalization runs
in the calling process on any input.

Three decisions are made here without a parser, because they cannot hang:
    - equal normalized strings (ignoring whitespace) are equal answers;
    - multiple-choice letters and word answers are compared as strings;
    - two plain rational numbers (`-12`, `0.75`, `3/4`, `\\frac{3}{4}`, `75\\%`, `x = 5`)
      are compared exactly with Python fractions (`simple_number`, `numbers_agree`),
      which is the whole reward of the offline tiny world.
The rule for decimals (`within_tolerance`) is shared with the full comparator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .math_extract import unwrap_answer
from .math_policy import IGNORED_UNITS, RELATIVE_TOLERANCE

_UNICODE = str.maketrans({
    "\u2212": "-", "\u2013": "-", "\u00d7": "\\times ", "\u22c5": "\\cdot ", "\u00b7": "\\cdot ",
    "\u00f7": "\\div ", "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u221a": "\\sqrt ",
    "\u2264": "\\le ", "\u2265": "\\ge ", "\u2260": "\\ne ", "\u00b0": "\\degree ",
    "\u222a": "\\cup ", "\u2229": "\\cap ", "\u2208": "\\in ", "\u00b1": "\\pm ",
    "\u2213": "\\mp ", "\u2205": "\\emptyset ", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
})

# (pattern, replacement) applied in order; each is a single linear pass.
_REWRITES = [(re.compile(p), r) for p, r in [
    (r"(?<=\d)\{,\}(?=\d)", ""),  # 1{,}000
    (r"(?<=\d)\\,(?=\d{3}(?!\d))", ""),  # 1\,000
    (r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr)\s*\.", ""),  # \left.
    (r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)"
     r"(?![A-Za-z])", ""),
    (r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|!)(?![A-Za-z])", ""),
    (r"\\(?:enspace|thinspace|medspace|thickspace|negthinspace)(?![A-Za-z])", " "),
    (r"\\[,;: ]|~", " "),
    (r"\\[dtc]frac(?![A-Za-z])", r"\\frac"),
    (r"\\operatorname\*?\s*\{\s*([A-Za-z]+)\s*\}", r"\\\1 "),
    (r"\\[dt]binom(?![A-Za-z])", r"\\binom"),
    (r"\\(?:leqslant|leq|le)(?![A-Za-z])", r"\\le "),
    (r"\\(?:geqslant|geq|ge)(?![A-Za-z])", r"\\ge "),
    (r"\\(?:neq|ne)(?![A-Za-z])", r"\\ne "),
    (r"\\bullet(?![A-Za-z])", r"\\cdot "),  # `u \bullet v`: a dot product
    (r"&\s*\\text\s*\{\s*if\s*\}\s*&?", "&"),  # `f & \text{if} & x > 0`: a piece's condition
    (r"\\ell(?![A-Za-z])", "l "),
    (r"\\equiv(?![A-Za-z])", "="),  # `y \equiv 0`: identically zero, a solution
    (r"\\lt(?![A-Za-z])", "<"),
    (r"\\gt(?![A-Za-z])", ">"),
    (r"\\(?:lvert|rvert|vert)(?![A-Za-z])", "|"),
    (r"\\lbrace(?![A-Za-z])", r"\\{"),
    (r"\\rbrace(?![A-Za-z])", r"\\}"),
    (r"\\langle(?![A-Za-z])", "("),
    (r"\\rangle(?![A-Za-z])", ")"),
    (r"\\varnothing(?![A-Za-z])", r"\\emptyset"),
    (r"\\infin(?![A-Za-z])", r"\\infty"),
    (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\circ(?![A-Za-z])", r"\\degree "),
    (r"\\?%", r"\\% "),
    (r"\\\$|\$", ""),
    (r"(?<![A-Za-z\\])(?:infinity|inf)(?![A-Za-z])", r"\\infty "),
]]

_TEXT_COMMAND = r"\\(?:text|textbf|textit|textrm|textsf|texttt|textnormal|mbox|hbox)"
_FONT_COMMAND = r"\\(?:mathrm|mathbf|mathit|mathsf|mathtt|boldsymbol|bm)"
_TEXT_RE = re.compile(r"(" + _TEXT_COMMAND + "|" + _FONT_COMMAND + r")\s*\{([^{}]*)\}"
                      r"(\s*\^\s*\{?\s*[23]\s*\}?)?")
_WHOLE_TEXT_RE = re.compile(r"\s*" + _TEXT_COMMAND + r"\s*\{([^{}]*)\}\s*\.?\s*")
_UNIT_RE = re.compile(r"(?:" + IGNORED_UNITS + r")\.?")
_UNIT = "\x01"  # a dropped unit, until compound units (`m / s`, `N-m`) are removed whole
_UNIT_RUN_RE = re.compile(_UNIT + r"(?:\s*(?:/|-|\\cdot)\s*" + _UNIT + ")*")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z .'\-]*")
_TRAILING_UNIT_RE = re.compile(r"(?<=[\d}\s])\s+(?=[A-Za-z]{2})(" + IGNORED_UNITS
                               + r")(\^\{?[23]\}?)?\s*$")
_PERCENT_WORD_RE = re.compile(r"\s*\b(?:percent|per\s+cent)\b", re.IGNORECASE)
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPERSCRIPT_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
# `4:30 p.m.`, `16:30`, `1:58 am`: a time of day, compared as minutes after midnight.
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})\s*(?:\\text\s*\{\s*)?(?:([AaPp])\.?\s*[Mm]\.?)?"
                      r"\s*\}?\s*\.?")
_ASCII_RELATIONS = [(re.compile(p), r) for p, r in [
    (r">=|=>(?!>)", r"\\ge "), (r"<=|=<", r"\\le "), (r"!=|<>", r"\\ne ")]]
_COMMAS_RE = re.compile(r"\s*[,;](?:\s*[,;])+\s*")  # `; \quad` separates once
# `63^\circ 45' 36''`: degrees, minutes and seconds, read as (63 + 45/60 + 36/3600) degrees
_NUM = r"(\d+(?:\.\d+)?)"
_MINUTES = r"(?:\^\s*\{\s*\\prime\s*\}|\^\s*\\prime|'|′)"
_SECONDS = r"(?:\^\s*\{\s*\\prime\s*\\prime\s*\}|''|″|\")"
_DMS_RE = re.compile(r"(?<![\d.])" + _NUM + r"\s*\\degree\s*" + _NUM + r"\s*" + _MINUTES
                     + r"(?:\s*" + _NUM + r"\s*" + _SECONDS + ")?")
# `3000 @ 11\%, 24000 @ 7\%`: amounts at rates (of interest, or prices), each a pair; the
# numbers end where their digits end and pairs need a separator, so no backtracking blows up
_AT_PAIR = r"(\d+(?:\.\d+)?)(?![\d.])\s*@\s*(\d+(?:\.\d+)?(?![\d.])\s*(?:\\%)?)"
_AT_PAIRS_RE = re.compile(r"\s*" + _AT_PAIR + r"(?:(?:\s*[,;]\s*|\s+)" + _AT_PAIR + r")*\s*")
_AT_PAIR_RE = re.compile(_AT_PAIR)
# `-1 < x \le 1 : (-1, 1]`: an inequality restated as an interval; the interval is read
_RELATION_RE = re.compile(r"<|>|\\le|\\ge")
_INTERVAL_TEXT_RE = re.compile(r"\s*[(\[][^:]*[)\]]\s*")
_APPROX_RE = re.compile(r"^\\approx\s*")
_QUAD_RE = re.compile(r"\\(?:quad|qquad)(?![A-Za-z])")
_SPACES_RE = re.compile(r"\s+")
_MATHY_RE = re.compile(r"[\d=\\]")
_AND_OR_RE = re.compile(r" (?:and|or) ")
_ROW = "\x00"
_GROUPED_NUMBER_RE = re.compile(
    r"((?:[A-Za-z]\s*=\s*)?[+-]?)(\d{1,3}(?:,\d{3})+)((?:\.\d+)?(?:\s*(?:\\%|\\degree))?\s*)")
_CHOICE_RE = re.compile(r"\(?\s*([A-J])\s*\)?")
_LEADING_CHOICE_RE = re.compile(r"\(\s*([A-J])\s*\)|([A-J])\)|([A-J])(?:\s*$|[\s:.,])")
_MATH_WORDS = frozenset(
    "sin cos tan sec csc cot arcsin arccos arctan sinh cosh tanh log ln exp sqrt pi "
    "infty lcm gcd".split())


@dataclass(frozen=True)
class Normalized:
    """An answer after normalization.

    text:  the LaTeX-dialect string handed to the parser.
    key:   `text` without whitespace (or lower-cased words for `kind="text"`), plus the
           kept words; equal keys mean equal answers.
    kind:  "math", "choice" (a multiple-choice letter, the letter is `text`) or "text"
           (a word answer such as "Monday", "no solution", or a time of day).
    words: the words of `\\text{}` that are not units (lower-cased, in order); two math
           answers with different words are different answers.
    """

    text: str
    key: str
    kind: str
    words: tuple = ()


def _after_value(before: str) -> bool:
    """Does `before` end with a value a unit can follow (`5`, `}`, `)`, a unit, `m /`)?"""
    before = before.rstrip()
    if before.endswith(("/", "-", "\\cdot")):
        before = before.rstrip("/-").removesuffix("\\cdot").rstrip()
        return before.endswith(_UNIT)
    return bool(before) and (before[-1].isdigit() or before[-1] in "})" or
                             before.endswith(_UNIT))


def _replace_text_commands(text: str, words: list) -> str:
    """`\\text{..}` and font commands: units dropped (after a value), `or` / `and` made
    separators, other words moved to `words`, math content kept (module docstring)."""
    out, last = [], 0
    for match in _TEXT_RE.finditer(text):
        out.append(text[last:match.start()])
        last = match.end()
        command, content, power = match.group(1), match.group(2), match.group(3) or ""
        bare = content.replace("~", " ").strip()
        lowered = bare.lower().rstrip(".")
        font = not re.match(_TEXT_COMMAND, command)
        if lowered in ("or", "and", ",", "or,", "and,"):
            out.append(" , ")
        elif not bare:
            out.append(" ")
        elif lowered.rstrip("s") == "degree":
            out.append(" \\degree ")
        elif lowered in ("percent", "per cent"):
            out.append(" \\% ")
        elif _UNIT_RE.fullmatch(bare) and _after_value("".join(out)):
            out.append(_UNIT)  # a unit, dropped with its square or cube
        elif font or (len(bare) == 1 and bare.isalpha()) or not _WORD_RE.fullmatch(bare):
            out.append(f" {bare}{power} ")  # \mathrm{e}, \mathbf{v}, \text{5}: math
        else:
            words.append(" ".join(lowered.replace(".", "").split()))
            out.append(" ")
    out.append(text[last:])
    return _UNIT_RUN_RE.sub(" ", "".join(out))


def _time_of_day(text: str) -> str | None:
    """`4:30 p.m.` -> "16:30", `16:30` -> "16:30" (no a.m./p.m.: a 24-hour time); None
    when the whole answer is not a time of day."""
    match = _TIME_RE.fullmatch(text)
    if not match:
        return None
    hours, minutes, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if minutes >= 60 or hours > (12 if half else 24) or (half and hours == 0):
        return None
    if half:
        hours = hours % 12 + (12 if half in "Pp" else 0)
    return f"{hours % 24:02d}:{minutes:02d}"


def _is_text_answer(text: str) -> bool:
    """Words only, and at least one of 3+ letters that is not a function name (or `no`)."""
    words = text.replace("-", " ").replace("'", " ").split()
    return (bool(words) and all(w.isalpha() for w in words)
            and (any(len(w) >= 3 and w.lower() not in _MATH_WORDS for w in words)
                 or text.lower() == "no"))


def normalize(answer: str) -> Normalized:
    """Normalize one answer (gold or extracted candidate); see the module docstring."""
    text = _SUPERSCRIPT_RE.sub(lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}",
                               unwrap_answer(answer.replace(_ROW, "")))
    text = _SPACES_RE.sub(" ", text.translate(_UNICODE)).strip()
    time = _time_of_day(text)
    if time is not None:  # `4:30 \text{ p.m.}`: the half of the day is part of the answer
        return Normalized(time, "time " + time, "text")
    whole = _WHOLE_TEXT_RE.fullmatch(text)
    if whole:  # the whole answer is \text{...}: a word answer, a letter or wrapped math
        text = whole.group(1).strip()
    text = _PERCENT_WORD_RE.sub("%", text)  # `28 percent` is `28\%`
    text = text.replace("\\\\", _ROW)  # protect matrix row breaks from the rewrites
    for pattern, replacement in _ASCII_RELATIONS + _REWRITES:
        text = pattern.sub(replacement, text)
    text = text.replace(_ROW, " \\\\ ")
    if "\\degree" in text:
        text = _DMS_RE.sub(lambda m: f"({m.group(1)} + {m.group(2)}/60 + {m.group(3) or 0}/3600)"
                                     " \\degree ", text)
    text = _QUAD_RE.sub(" , ", text)  # `2 \quad 3` lists two answers, it is not 6
    words: list[str] = []
    for _ in range(2):  # \text{\textbf{B}} needs two passes
        text = _replace_text_commands(text, words)
    text = _SPACES_RE.sub(" ", text).strip()
    if _MATHY_RE.search(text):  # `2 and 3`, `x = 1 or x = 2`; word answers keep their words
        text = _AND_OR_RE.sub(" , ", text)
    text = _COMMAS_RE.sub(", ", text).strip(" ,")
    text = _APPROX_RE.sub("", text).rstrip(" .,;:")
    if "@" in text and _AT_PAIRS_RE.fullmatch(text):
        text = ", ".join(f"({a}, {b.strip()})" for a, b in _AT_PAIR_RE.findall(text))
    if text.count(":") == 1:
        relation, interval = text.split(":")
        if _RELATION_RE.search(relation) and _INTERVAL_TEXT_RE.fullmatch(interval):
            text = interval.strip()
    unit = _TRAILING_UNIT_RE.search(text)
    if unit:  # `5 cm`, `30 degrees`; a unit glued to a number (`5cm`) is not a unit
        degree = "degree" in unit.group(1).lower()
        text = text[:unit.start()].rstrip() + (" \\degree" if degree else "")
    grouped = _GROUPED_NUMBER_RE.fullmatch(text)
    if grouped:
        text = grouped.group(1) + grouped.group(2).replace(",", "") + grouped.group(3)
    text = _SPACES_RE.sub(" ", text).strip()
    if not text and words:  # `\text{no solution}` written inside math
        text, words = " ".join(words), []
    choice = _CHOICE_RE.fullmatch(text)
    if choice and not words:
        return Normalized(choice.group(1), choice.group(1), "choice")
    if _is_text_answer(text) and not words:
        key = " ".join(text.lower().replace("-", " ").split())
        return Normalized(text, key, "text")
    key = _SPACES_RE.sub("", text) + ("|" + "|".join(words) if words else "")
    return Normalized(text, key, "math", tuple(words))


def leading_choice(text: str) -> str | None:
    """The multiple-choice letter an answer opens with: `(B)`, `B)`, `B: 42`; else None."""
    match = _LEADING_CHOICE_RE.match(text.strip())
    if not match:
        return None
    return next(group for group in match.groups() if group)


# --- Plain rational numbers: decided in process -----------------------------------

_SIMPLE_NUMBER_RE = re.compile(
    r"(?:[A-Za-z](?:_\{?\w{1,8}\}?)?\s*=\s*)?"  # an optional `x =` (dropped by the policy)
    r"([+-]?)\s*(?:"
    r"(\d{1,200}(?:\.\d{0,200})?|\.\d{1,200})"  # 12, 0.75, .5, 3.
    r"|(\d{1,200})\s*/\s*(\d{1,200})"  # 3/4
    r"|\\frac\s*\{\s*([+-]?\d{1,200})\s*\}\s*\{\s*([+-]?\d{1,200})\s*\}"  # \frac{3}{4}
    r"|\\frac\s*(\d)\s*(\d)"  # \frac34
    r")\s*(\\%|\\degree)?")


@dataclass(frozen=True)
class Reading:
    """One value an answer may stand for; `ulp` is set for a written decimal."""

    value: Fraction
    ulp: Fraction | None


def simple_number(text: str) -> list[Reading] | None:
    """The readings of a plain rational answer, or None if the answer is anything else.

    `75\\%` has two readings (75 and 3/4), `30\\degree` one (30: the radian reading is
    irrational, so it cannot equal a rational), `0.75` one with `ulp = 1/100`.
    """
    match = _SIMPLE_NUMBER_RE.fullmatch(text)
    if not match:
        return None
    sign, decimal, num, den, fnum, fden, dnum, dden, suffix = match.groups()
    ulp = None
    if decimal is not None:
        whole, _, fraction = decimal.partition(".")
        value = Fraction(int((whole or "0") + fraction), 10 ** len(fraction))
        if "." in decimal:
            ulp = Fraction(1, 10 ** len(fraction))
    else:
        top, bottom = (num, den) if num else (fnum, fden) if fnum else (dnum, dden)
        if int(bottom) == 0:
            return None
        value = Fraction(int(top), int(bottom))
    if sign == "-":
        value = -value
    readings = [Reading(value, ulp)]
    if suffix == "\\%":
        readings.append(Reading(value / 100, None if ulp is None else ulp / 100))
    return readings


def within_tolerance(x, y, ulp=None) -> bool:
    """The decimal rule: |x - y| <= RELATIVE_TOLERANCE * max(|x|, |y|) (and <= ulp if given).

    x, y: Fractions, floats or mpmath numbers (real or complex, via abs).
    """
    diff = abs(x - y)
    scale = max(abs(x), abs(y))
    tolerance = Fraction(RELATIVE_TOLERANCE) * scale if isinstance(diff, Fraction) \
        else RELATIVE_TOLERANCE * scale
    return diff <= tolerance and (ulp is None or diff <= ulp)


def numbers_agree(gold: list[Reading], candidate: list[Reading]) -> bool:
    """True when some reading of the gold matches some reading of the candidate.

    Exact equality always matches; when one side is a written decimal, the decimal rule
    (`within_tolerance` with the coarser of the written units in the last place) applies.
    """
    if len(gold) > 1 and len(candidate) > 1:  # 75% vs 0.75%: compare as written
        gold, candidate = gold[:1], candidate[:1]
    for a in gold:
        for b in candidate:
            if a.value == b.value:
                return True
            ulps = [u for u in (a.ulp, b.ulp) if u is not None]
            if ulps and within_tolerance(a.value, b.value, max(ulps)):
                return True
    return False
