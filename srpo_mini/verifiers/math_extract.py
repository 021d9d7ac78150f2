"""Find the final answer in a completion, and strip the wrappers off a gold answer.

Two extraction modes (the first step that finds something wins):

    strict   1. the last complete `\\boxed{...}` / `\\fbox{...}` (braces matched, `\\{`
                and `\\}` do not count), or `\\boxed 5` without braces;
             2. the content of the last complete `<answer> ... </answer>` pair.
    lenient  1-2 as strict, then
             3. the text after the last "final answer is" / "the answer is" / "final
                answer:", up to the end of its line or sentence;
             4. the last line that opens with "Answer:", "A:" or "####";
             5. the last math span: `$$...$$`, `\\[...\\]`, `\\(...\\)` or `$...$`;
             6. the last number written in the text.

Strict is for training rewards where the answer format is part of the task (a number
that happens to appear in the text earns nothing); lenient reads answers the way people
and other models write them, for evaluation and `srpo-mini verify-math`. Which mode each
entry point uses by default, and why, is in docs/math_verifier.md.

Bounded: a completion longer than `MAX_EXTRACT_CHARS` has no answer (it is not scanned:
a window would cut a box in two), and every function here is a linear scan (no
backtracking regular expression, no nested loop), so extraction runs in the calling
process on inputs of any size.
"""

from __future__ import annotations

import re

from ..tags import ANSWER_CLOSE, extract_answer_tag
from .math_policy import MAX_ANSWER_CHARS, MAX_EXTRACT_CHARS

EXTRACTION_MODES = ("strict", "lenient")
_BOX_COMMANDS = ("\\boxed", "\\fbox")
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_FINAL_ANSWER_RE = re.compile(r"(?:final\s+answer|\bthe\s+answer)\s*(?:is\b\s*:?|:|=)\s*"
                              r"|final\s+answer\s*", re.IGNORECASE)
_UNBRACED_BOX_RE = re.compile(r"\s+([^\s$]+)")
# "Answer: 18", "**Answer:** 18", "A: 18", "#### 18" at the start of a line.
_ANSWER_LINE_RE = re.compile(
    r"^[ \t>*_#]*(?:(?:final\s+)?answer|A)[ \t*_]*[:：][ \t*_]*(.*)$|^[ \t]*####[ \t]*(.*)$",
    re.IGNORECASE | re.MULTILINE)
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$([^$]+?)\$",
                           re.DOTALL)
_NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?")


def match_braces(text: str) -> dict[int, int]:
    """Map the index of every `{` to the index of its matching `}` (unmatched: absent).

    Escaped braces `\\{` and `\\}` (LaTeX set braces) are skipped. One pass, one stack.
    """
    pairs, stack = {}, []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # `\{`, `\}` and `\\` are never grouping braces
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def all_boxed(text: str) -> list[str]:
    """Contents of every complete `\\boxed{...}` / `\\fbox{...}` in `text`, in order,
    outermost boxes only (a box inside a box is part of its content)."""
    found, end_of_last = [], -1
    pairs = None
    for match in _BOX_RE.finditer(text):
        start = match.start()
        if start < end_of_last:
            continue  # inside the previous box
        j = match.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            pairs = match_braces(text) if pairs is None else pairs
            if j in pairs:
                found.append(text[j + 1:pairs[j]])
                end_of_last = pairs[j]
            continue
        unbraced = _UNBRACED_BOX_RE.match(text, match.end())
        if unbraced:  # `\boxed 5` (TeX takes one token; models write the whole answer)
            found.append(unbraced.group(1).rstrip(".,;"))
            end_of_last = unbraced.end()
    return found


def last_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` / `\\fbox{...}` in `text`, or None.

    A box whose closing brace is missing (a truncated completion) is skipped in favour of
    the one before it.
    """
    boxes = all_boxed(text)
    return boxes[-1] if boxes else None


def _last_match(pattern: re.Pattern, text: str) -> re.Match | None:
    """The last match of `pattern` in `text` (one linear scan), or None."""
    last = None
    for last in pattern.finditer(text):
        pass
    return last


def final_answer_phrase(text: str) -> str | None:
    """The answer after the last "final answer is" / "the answer is", or None."""
    last = _last_match(_FINAL_ANSWER_RE, text)
    if last is None:
        return None
    return _answer_in_line(text[last.end():last.end() + 2000].split("\n", 1)[0])


def _answer_in_line(line: str) -> str | None:
    """The answer a line states: its first math span if it opens with one, else the
    line up to the end of its first sentence."""
    line = line.strip().strip("*_").strip()
    span = _MATH_SPAN_RE.match(line)
    if span:
        return next(group for group in span.groups() if group is not None).strip()
    sentence = re.split(r"\.(?:\s|$)", line, maxsplit=1)[0]
    return sentence.strip().rstrip(".") or None


def answer_line(text: str) -> str | None:
    """The answer on the last line opening with "Answer:", "A:" or "####", or None."""
    last = _last_match(_ANSWER_LINE_RE, text)
    if last is None:
        return None
    body = last.group(1) if last.group(1) is not None else last.group(2)
    return _answer_in_line(body)


def last_math_span(text: str) -> str | None:
    """Content of the last `$$..$$`, `\\[..\\]`, `\\(..\\)` or `$..$` span, or None.

    Found from the end with `rfind` (linear): the latest closing delimiter, then the
    opener before it.
    """
    dollar = _last_unescaped(text, "$", len(text))
    ends = [(text.rfind("\\]"), "\\["), (text.rfind("\\)"), "\\("), (dollar, "$")]
    close, opener = max(ends)
    if close < 0:
        return None
    if opener == "$" and close > 0 and text[close - 1] == "$":
        opener, close = "$$", close - 1
        start = text.rfind("$$", 0, close)
    elif opener == "$":
        start = _last_unescaped(text, "$", close)
    else:
        start = text.rfind(opener, 0, close)
    if start < 0:
        return None
    content = text[start + len(opener):close].strip()
    return content or None


def _last_unescaped(text: str, char: str, end: int) -> int:
    """Index of the last `char` before `end` that is not escaped by a backslash, or -1."""
    index = text.rfind(char, 0, end)
    while index > 0 and text[index - 1] == "\\":
        index = text.rfind(char, 0, index - 1)
    return index


def last_number(text: str) -> str | None:
    """The last number written in the text (`1,234`, `-0.5`, `3/4`), or None."""
    last = _last_match(_NUMBER_RE, text)
    return None if last is None else last.group(0)


def extract_answer(completion: str, mode: str = "lenient") -> str | None:
    """The final answer stated in a completion, by the steps of `mode` (module docstring).

    mode: "strict" (box or answer tag only) or "lenient" (the full fallback chain).
    Returns the answer text, or None when no step finds one.
    """
    if not isinstance(completion, str):
        return None
    if mode not in EXTRACTION_MODES:
        raise ValueError(f"extraction mode {mode!r} is not one of {EXTRACTION_MODES}")
    if len(completion) > MAX_EXTRACT_CHARS:
        return None
    text = completion
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    close = text.rfind(ANSWER_CLOSE)
    if close >= 0:  # search only up to the last close tag: keeps the regex linear
        tagged = extract_answer_tag(text[:close + len(ANSWER_CLOSE)])
        if tagged is not None:
            boxed = last_boxed(tagged)
            return boxed if boxed is not None else tagged
    if mode == "strict":
        return None
    for step in (final_answer_phrase, answer_line, last_math_span, last_number):
        found = step(text)
        if found is not None:
            return found
    return None


_SPAN_OR_TEXT_RE = re.compile(r"\$\$?([^$]*)\$\$?|([^$]+)")
_SEPARATOR_PROSE_RE = re.compile(r"[\s,;.]*(?:(?:and|or|\\quad|\\qquad)[\s,;.]*)*",
                                 re.IGNORECASE)
_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z ]{0,40}(?:is|are)?\s*:\s*(?=[$\\(\[\d-])")
_SENTENCE_SPAN_RE = re.compile(r"[A-Za-z][A-Za-z ,]{0,60}\b(?:is|are|equals)\s*(\$[^$]+\$)\s*\.?")
_BROKEN_SPAN_RE = re.compile(r"(?<=[-+=(,/]) ?\$\s+\$ ?")  # `$56 x^6 +$ $60 x^2$`: one span
_QUALIFIER_RE = re.compile(r"(?<=\$)\s*,?\s*(?:for\s+(?:all|any|every|each)|where)\b[^$]*"
                           r"(?:\$[^$]*\$[^$]*)?$", re.IGNORECASE)
_YES_NO_RE = re.compile(r"(yes|no)\b\s*[.,;:!]\s*\S", re.IGNORECASE)
# `tip: $6$, length: $5/2$`: a label (words, or a count and a word) opening each part
_PART_LABEL_RE = re.compile(r"(?:^|[,;]\s*)(?:[A-Za-z][A-Za-z ]{0,30}|\d+\s+[A-Za-z]+)\s*:\s*")
_DOLLAR_SPAN_RE = re.compile(r"\$[^$]*\$")


def gold_answer(gold: str) -> str:
    """The answer a dataset's gold label states, in the form `normalize` reads.

    Every `\\boxed{}` of the label, joined by commas (`\\boxed{2} and \\boxed{3}`,
    `x \\in \\boxed{[1, 2]}`); else the label without a leading "Solution is:"; math
    spans separated only by "and" / "or" / commas / `\\quad` joined by commas
    (`$x=1$ and $y=2$`); the span of "The mode is $1/3$."; a "Yes." / "No." that opens an explanation, alone.
    A qualifier after the answer ("for all real numbers $t$") is dropped. Anything else
    is returned as it is.
    """
    text = gold.strip()
    boxes = all_boxed(text) if len(text) <= MAX_EXTRACT_CHARS else []
    if boxes:
        return ", ".join(box.strip() for box in boxes)
    yes_no = _YES_NO_RE.match(text)
    if yes_no:
        return yes_no.group(1)
    extrema = _extremum_labels(text)
    if extrema:
        return extrema
    labelled = _labelled_parts(text)
    if labelled:
        return labelled
    text = _CODE_PREFIX_RE.sub("\\\\", _NO_SOLUTION_RE.sub(r"\\emptyset", text))
    text = _LEADING_BULLET_RE.sub("$", _SPLIT_TIME_RE.sub(r"\1:\2 \3", text))
    quoted = _QUOTED_WORDS_RE.fullmatch(text)
    if quoted:  # `Ciphertext: "ZRUJ..."`: the quoted words
        return quoted.group(1)
    text = _LABEL_RE.sub("", text)
    text = _QUALIFIER_RE.sub("", _BROKEN_SPAN_RE.sub(" ", text))
    sentence = _SENTENCE_SPAN_RE.fullmatch(text)
    if sentence:  # "The mode is $1/3$."
        return sentence.group(1)
    if text.count("$") >= 4:  # several spans: an answer list if only separators sit between
        spans, prose = [], []
        for match in _SPAN_OR_TEXT_RE.finditer(text):
            (spans if match.group(1) is not None else prose).append(match.group(0))
        if all(_SEPARATOR_PROSE_RE.fullmatch(p) for p in prose):
            return ", ".join(span.strip("$").strip() for span in spans)
    return text


# `$\\min$ at $x=1$`, `local min. $(0,0)$`, `$\\max$ at $-1, \\min$ at 1`: extrema by kind
# (a label ends in "at" or "."; `\\min(3, 5)` is a function, not a label)
_EXTREMUM_RE = re.compile(r"(?:^|,\s*)(?:local\s+)?\\?(?:min|max)\b"
                          r"(?:\s*\.\s*(?:at\b\s*)?|\s+at\b\s*)(?:x\s*=\s*)?")
# `No solution : $\\oslash$` (an OCR of the empty-set sign), `np.arcsin(10/13)` (code)
_NO_SOLUTION_RE = re.compile(r"(?<=\$)\s*\\oslash\s*(?=\$)")
# `$2: 15$ PM`: a time of day split by the source's math span
_SPLIT_TIME_RE = re.compile(r"^\$\s*(\d{1,2})\s*:\s*(\d{2})\s*\$\s*([AaPp]\.?\s*[Mm]\.?)$")
_LEADING_BULLET_RE = re.compile(r"^\$\s*\\bullet\s*")  # a list bullet before the answer
_QUOTED_WORDS_RE = re.compile(r"[A-Za-z][A-Za-z ]{0,30}:\s*\"([A-Za-z][A-Za-z ]*)\"\.?")
_CODE_PREFIX_RE = re.compile(r"^(?:np|numpy|math)\."
                             r"(?=(?:arc)?(?:sin|cos|tan)\(|sqrt\(|log\(|exp\()")


def _extremum_labels(text: str) -> str | None:
    """`$\\min$ at $x=-1, \\max$ at $x=1$` -> `(-1, 1)`; `$\\min$ at $x=1$` -> `1`: the
    points of labelled extrema, a tuple in the gold's order when there are several (as for
    `_labelled_parts`, the labels name the parts, so a candidate gives them in that order).
    None unless the whole label is such a list and every value is math, not words."""
    bare = text.replace("$", " ").strip().rstrip(".").strip()
    labels = list(_EXTREMUM_RE.finditer(bare))
    if not labels or labels[0].start() != 0:
        return None
    values = []
    for label, following in zip(labels, labels[1:] + [None]):
        value = bare[label.end():following.start() if following else len(bare)].strip()
        if not value or _PROSE_WORD_RE.search(value) or "\\pm" in value and len(labels) > 1:
            return None  # words ("for integer $k$") or several points in one part
        values.append(value)
    return values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"


def _labelled_parts(text: str) -> str | None:
    """`radius: 1, center: $(2,3,5)$` -> `(1, (2,3,5))`: two or more labelled values, the
    first at the start, as a tuple in the gold's order (the labels name the parts, so a
    candidate gives the values in that order). None when the text is not of that form."""
    masked = _DOLLAR_SPAN_RE.sub(lambda m: "\x00" * len(m.group()), text)  # labels outside math
    labels = list(_PART_LABEL_RE.finditer(masked))
    if len(labels) < 2 or labels[0].start() != 0:
        return None
    values = []
    for label, following in zip(labels, labels[1:] + [None]):
        value = text[label.end():following.start() if following else len(text)]
        value = unwrap_answer(value.strip().rstrip(",;. ").strip())
        if not value or "$" in value:
            return None
        values.append(value)
    return "(" + ", ".join(values) + ")"


_PROSE_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_ARGUMENT_WORDS = frozenset("because since thus therefore hence suppose let proof prove "
                            "otherwise contradiction if then consider".split())


def prose_kind(gold: str) -> str | None:
    """"proof" or "free text" when a gold label is prose, not an answer; else None.

    Prose: at least five words of two or more letters outside math spans (`$...$`) and
    commands, or three around a math span ("The mode is ... $x$"). "proof" when the
    prose argues (because, since, suppose, ...).
    """
    outside = re.sub(r"\$[^$]*\$|\\[A-Za-z]+", " ", gold)
    words = [w.lower() for w in _PROSE_WORD_RE.findall(outside)]
    if len(words) < (3 if "$" in gold else 5):
        return None
    return "proof" if _ARGUMENT_WORDS.intersection(words) else "free text"


# Golds the parser cannot read, by what they are (`gold_class`); first match wins. None of
# these is read on purpose: each would need a rule that judges a different answer equal.
_UNSUPPORTED_NOTATION = [(name, re.compile(pattern)) for name, pattern in [
    ("several sentences", r"\$\s*\.\s+[A-Za-z]"),
    ("limit", r"\\lim(?![A-Za-z])"),
    ("binomial written as a column", r"\(\s*\\begin\{array\}\{[lc]\}\s*\d+\s*\\\\\s*\d+\s*"
                                     r"\\end\{array\}"),
    ("probability", r"\\sim(?![A-Za-z])|\\operatorname\s*\{(?:Cov|Corr|Var)\}|\\Phi|"
                    r"\bP\(|[fF]_\{[XY]|I_\{|UMVU"),
    ("series elided with dots", r"\\[cl]?dots"),
    ("series inside an expression", r"\\sum_\{[^{}]*\}\^\{?\\infty|\\prod_\{[^{}]*\}\^\{?[a-z]"),
    ("symbolic sum", r"\\sum_\{[^{}]*\}\^\{?[a-z]"),
    ("union over k", r"\\bigcup_"),
    ("piecewise function", r"\\begin\{cases\}|\\text\s*\{\s*if\s*\}|\$\s*if\s*\$"),
    ("derivative", r"\\prime|y'"),
    ("system of equations", r"\\begin\{align"),
    ("geometry relation", r"\\perp|\\angle"),
    ("vector calculus", r"\\operatorname\s*\{(?:div|curl)\}"),
    ("coordinate vector", r"\]_\{"),
    ("set over the integers", r"\\mathbb\s*\{Z\}"),
    ("domain and range", r"(?i)domain\s*:"),
    ("named sets", r"\\mathbb\s*\{[RC]\}"),
    ("subscript in words", r"_\{\\text"),
    ("units the gold does not separate", r"\\mathrm\s*\{(?:ft|hr|mi|min)\}"),
    ("words as variables", r"(?<![A-Za-z])[A-Za-z]{3,}\s*\$?\s*="),
    ("approximate value in words", r"^(?:About|Approximately)\s"),
    ("ratio", r"^\$?\s*\d+\s*:\s*\d+\s*\$?$"),
    ("several points for one label", r"(?:min|max)\$?\s*at\s*\$?\s*x\s*=\s*\\pm"),
]]
# Typos of the source: a truncated expression, unbalanced brackets, OCR'd symbols, a bar
# written as `\\mid`, a union sign without its sets, a value with its relation lost.
_GARBLED_RE = re.compile(r"[-+/(]\s*\$\s*$|\\propto|\\oslash|\\cup\s*,|\$\s*!|\\ln\s*\\mid|"
                         r"\\bigcup\s*\(|^\$?[a-z]\s*\([^()]*\]")
_GARBLED_REASON_RE = re.compile(r"end of answer|unbalanced|half-open bracket around one value|"
                                r"absolute value is not a number")
# `5 4.6`, `200 \\cos(\\pi/6) 20`, `2 \\ln(3) x 3^{x^2}`, `2|x|`: a value written after a
# value, which the parser refuses (is `2 3` 23, 6 or a list?)
_JUXTAPOSED_REASON_RE = re.compile(r"unexpected '(?:\d|\|)")


def gold_class(gold: str, reason: str) -> str:
    """The class of a gold label the parser could not read (reason: the parser's message):
    "free text" / "proof" (`prose_kind`), "garbled: ..." (empty, or a typo of the source),
    "notation unsupported: <what>", or "unreadable" when none of these fits."""
    if not gold.strip():
        return "garbled: empty"
    if len(gold) > MAX_ANSWER_CHARS:  # (and the patterns below scan bounded text)
        return "notation unsupported: too long to parse"
    prose = prose_kind(gold)
    if prose is not None:
        return prose
    if _GARBLED_RE.search(gold):
        return "garbled: typo"
    for name, pattern in _UNSUPPORTED_NOTATION:
        if pattern.search(gold):
            return f"notation unsupported: {name}"
    if _GARBLED_REASON_RE.search(reason):
        return "garbled: typo"
    if _JUXTAPOSED_REASON_RE.search(reason):
        return "notation unsupported: juxtaposed values"
    return "unreadable"


_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def unwrap_answer(answer: str) -> str:
    """Strip math delimiters and a whole-answer `\\boxed{}` from an answer.

    `$x$`, `$$x$$`, `\\(x\\)`, `\\[x\\]`, `\\boxed{x}`, `\\fbox{x}` and nestings of them
    become `x`; anything else is returned stripped.
    """
    text = answer.strip()
    for _ in range(4):
        before = text
        for left, right in _WRAPPERS:
            if len(text) >= len(left) + len(right) and text.startswith(left) \
                    and text.endswith(right):
                inner = text[len(left):len(text) - len(right)]
                if left == "$" and "$" in inner:
                    break  # `$a$ and $b$`: two spans, not one wrapper
                text = inner.strip()
                break
        for command in _BOX_COMMANDS:
            if text.startswith(command + "{") and text.endswith("}"):
                brace = len(command)
                if match_braces(text).get(brace) == len(text) - 1:
                    text = text[brace + 1:-1].strip()
                break
        if text == before:
            break
    return text
