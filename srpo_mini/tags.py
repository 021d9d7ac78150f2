"""The tags that carry reasoning and answers in a completion, and their parsers.

    <think> reasoning </think> <answer> final answer </answer>

the completion shape of the R1-Zero template (DeepSeek-R1 paper, Table 1), used by SRPO.
A leaf module (it imports nothing from srpo_mini): `prompts.py` writes these tags into
templates, the tiny tokenizer makes each one a token, and the verifiers and the format
reward parse them, all from this one definition.
"""

from __future__ import annotations

import re

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def format_completion(reasoning: str, answer: str) -> str:
    """A completion in the template's shape: ` <think> r </think> <answer> a </answer>`."""
    return f" {THINK_OPEN} {reasoning} {THINK_CLOSE} {ANSWER_OPEN} {answer} {ANSWER_CLOSE}"


_ANSWER_RE = re.compile(re.escape(ANSWER_OPEN) + r"(.*?)" + re.escape(ANSWER_CLOSE), re.S)
_FORMAT_RE = re.compile(
    r"^\s*" + re.escape(THINK_OPEN) + r"(?:(?!" + re.escape(THINK_OPEN) + r").)*?"
    + re.escape(THINK_CLOSE) + r"\s*" + re.escape(ANSWER_OPEN) + r"(.*?)"
    + re.escape(ANSWER_CLOSE) + r"\s*$", re.S)


def extract_answer_tag(text: str) -> str | None:
    """Content of the last complete `<answer> ... </answer>` pair, stripped; None if absent."""
    matches = _ANSWER_RE.findall(text)
    return matches[-1].strip() if matches else None


def has_format(text: str) -> bool:
    """True when the completion is exactly `<think> ... </think> <answer> ... </answer>`
    (whitespace around the tags allowed, nothing after the answer, one think block)."""
    return _FORMAT_RE.match(text) is not None
