"""Tokens of the answer language: numbers, letters, commands, operators.

The tokenizer is the first layer of the math verifier's parser (`math_parse`). It reads
the normalized answer left to right once; every token is a number (`12`, `0.5`, `1.5e3`),
a single letter (`xy` is x then y: implicit multiplication), a command (`\\frac`, `\\pi`;
bare function words such as `sin` or `pi` become commands too), an operator, the set
braces `\\{` `\\}`, a matrix row break `\\\\`, or `\\begin{env}` / `\\end{env}`. Any
other character is a `ParseError`: nothing is skipped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ParseError(ValueError):
    """The answer is not in the answer language, or is too large to build safely."""


@dataclass
class Token:
    kind: str  # num, id, cmd, op, lset, rset, row, begin, end, eof
    text: str
    pos: int


NUMBER_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+)(?![\d.]))?")
_ENV_RE = re.compile(r"\\(begin|end)\s*\{\s*([A-Za-z]+\*?)\s*\}")
_WORDS = sorted("arcsin arccos arctan arccot arcsec arccsc sinh cosh tanh coth sech csch "
                "sin cos tan sec csc cot log ln exp "
                "sqrt pi lcm gcd max min".split(), key=len, reverse=True)
_OPS = set("+-*/^_!()[]{},;=<>|&'")


def tokenize(text: str) -> list[Token]:
    """Split a normalized answer into tokens; letters are single-letter symbols except the
    function words in `_WORDS` (`sinx` is sin x, `xy` is x y)."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            m = NUMBER_RE.match(text, i)
            tokens.append(Token("num", m.group(0), i))
            i = m.end()
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            k = i
            while k < j:
                word = next((w for w in _WORDS if text.startswith(w, k) and k + len(w) <= j),
                            None)
                if word:
                    tokens.append(Token("cmd", "\\" + word, k))
                    k += len(word)
                else:
                    tokens.append(Token("id", text[k], k))
                    k += 1
            i = j
        elif ch == "\\":
            env = _ENV_RE.match(text, i)
            if env:
                tokens.append(Token(env.group(1), env.group(2), i))
                i = env.end()
                continue
            j = i + 1
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            if j > i + 1:
                tokens.append(Token("cmd", text[i:j], i))
                i = j
            elif j < n and text[j] in "{}":
                tokens.append(Token("lset" if text[j] == "{" else "rset", text[i:j + 1], i))
                i = j + 1
            elif j < n and text[j] == "\\":
                tokens.append(Token("row", "\\\\", i))
                i = j + 1
            elif j < n and text[j] == "%":
                tokens.append(Token("cmd", "\\%", i))
                i = j + 1
            elif j < n and text[j] in ",;:! ":
                i = j + 1
            elif j < n and text[j] == "|":
                tokens.append(Token("op", "|", i))
                i = j + 1
            else:
                raise ParseError(f"unexpected backslash at {i}")
        elif ch in _OPS:
            tokens.append(Token("op", ch, i))
            i += 1
        else:
            raise ParseError(f"unexpected character {ch!r}")
    tokens.append(Token("eof", "", n))
    return tokens


RELATION_WORDS = {"=", "<", ">", "\\le", "\\ge", "\\ne", "\\approx", "\\in"}
TIMES = {"*", "\\cdot", "\\times"}
DIVIDE = {"/", "\\div"}


def implicit_start(token: Token) -> bool:
    """Can this token start the right factor of an implicit product (`2x`, `3\\sqrt2`)?"""
    if token.kind in ("id", "begin"):
        return True
    if token.kind == "op":
        return token.text in "({["  # `x^2[c_1 \\cos x]`: square brackets group too
    if token.kind == "cmd":
        return token.text not in TIMES | DIVIDE | RELATION_WORDS | {
            "\\cup", "\\cap", "\\setminus", "\\pm", "\\mp", "\\%", "\\degree", "\\rfloor",
            "\\rceil", "\\to", "\\dots", "\\ldots", "\\cdots"}
    return False
