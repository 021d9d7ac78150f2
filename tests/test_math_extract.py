"""The extraction chain of the math verifier, strict and lenient, and its bounds.

Case tables (completion, strict, lenient): what each mode reads as the final answer.
Strict reads a box or an <answer> tag only; lenient then tries "final answer is" /
"the answer is", an "Answer:" / "A:" / "####" line, the last math span, the last number.

    python -m pytest tests/test_math_extract.py -q
"""

import time
import tracemalloc

import pytest

from srpo_mini.verifiers.math import verify_math
from srpo_mini.verifiers.math_extract import extract_answer, gold_answer

CHAIN = [
    # completion                                   strict   lenient
    (r"so \boxed{7}. Answer: 8", "7", "7"),  # 1. the box wins over every later step
    (r"<answer>9</answer> The answer is 3", "9", "9"),  # 2. then the tag
    ("The final answer is $\\frac{3}{4}$.", None, "\\frac{3}{4}"),  # 3. the phrase
    ("Thus the answer is 12. Done, $5$", None, "12"),
    ("Natalia sold 48 + 24 = 72 clips.\nA: 72", None, "72"),  # 4. answer lines
    ("work...\n#### 1,234", None, "1,234"),
    ("**Answer:** $x \\ge 5$", None, "x \\ge 5"),
    ("Answer: 18 apples.", None, "18 apples"),
    ("so we get $x = 3$ and $$y = 4$$", None, "y = 4"),  # 5. the last math span
    ("hence \\[ \\frac{1}{2} \\] holds", None, "\\frac{1}{2}"),
    ("hence \\( 2\\sqrt{3} \\)", None, "2\\sqrt{3}"),
    ("Total: 3 boxes of 12, so 36 eggs", None, "36"),  # 6. the last number
    ("there are -4.5 degrees", None, "-4.5"),
    ("no numbers at all", None, None),
    ("", None, None),
]


@pytest.mark.parametrize("completion,strict,lenient", CHAIN)
def test_extraction_chain(completion, strict, lenient):
    assert extract_answer(completion, "strict") == strict, f"strict read {completion!r}"
    assert extract_answer(completion, "lenient") == lenient, f"lenient read {completion!r}"


MODES = [
    # completion, gold, correct under strict, correct under lenient
    ("Natalia sold 72 clips.\nA: 72", "72", False, True),
    ("The answer is $\\frac{1}{2}$", "0.5", False, True),
    ("I got 42", "42", False, True),
    (r"<think>...</think><answer>\boxed{42}</answer>", "42", True, True),
    ("#### 18", "18", False, True),
    ("#### 18", "19", False, False),
]


@pytest.mark.parametrize("completion,gold,strict,lenient", MODES)
def test_modes_decide_the_reward(completion, gold, strict, lenient):
    """Strict (training rewards) gives nothing for an answer outside a box or a tag."""
    assert verify_math(completion, gold, mode="strict").correct is strict, completion
    assert verify_math(completion, gold, mode="lenient").correct is lenient, completion


def test_unknown_mode_is_an_error_result():
    result = verify_math(r"\boxed{1}", "1", mode="loose")
    assert (result.correct, result.reason.startswith("error: extraction mode")) == (False, True)
    with pytest.raises(ValueError, match="extraction mode"):
        extract_answer(r"\boxed{1}", "loose")


GOLDS = [
    # gold label as a dataset writes it,              what is compared
    (r"\boxed{2} and \boxed{3}", "2, 3"),
    (r"x \in \boxed{[1, 2]}", "[1, 2]"),
    ("$x=1$ and $y=2$", "x=1, y=2"),
    ("$2$, $3$ \\quad $4$", "2, 3, 4"),
    ("No. It is not closed under addition.", "No"),
    ("The mode is $1 / 3$.", "$1 / 3$"),
    ("Solution is: $x=5$", "$x=5$"),
    ("$(-3 t+4, t)$ for all real numbers $t$", "$(-3 t+4, t)$"),
    ("$56 x^{6}+$ $60 x^{2}$", "$56 x^{6}+ 60 x^{2}$"),
    ("$\\frac{1}{2}$", "$\\frac{1}{2}$"),
    ("$\\min$ at $x=-1, \\max$ at $x=1$", "(-1, 1)"),  # labelled extrema: the points
    ("$\\max$ at $x=63 / 64$", "63 / 64"),
    ("local min. $(0,0) $", "(0,0)"),
    ("$\\max(3,5)$", "$\\max(3,5)$"),  # a function, not a label
    ("$\\min$ at $x=7 \\pi / 12+k \\pi$, for integer $k$",  # words: not a label list
     "$\\min$ at $x=7 \\pi / 12+k \\pi$, for integer $k$"),
    ("No solution : $\\oslash$", "$\\emptyset$"),
    ("np.arcsin(10/13)", "\\arcsin(10/13)"),
    ("$2: 15$ PM", "2:15 PM"),
    ("$\\bullet k=5$", "$k=5$"),
    ('Ciphertext: "ZRUJPZVAEJTWOXGJZV".', "ZRUJPZVAEJTWOXGJZV"),
    ("$\\frac{a}{b} /$ $2$", "$\\frac{a}{b} / 2$"),
]


@pytest.mark.parametrize("gold,expected", GOLDS)
def test_gold_labels(gold, expected):
    assert gold_answer(gold) == expected, f"gold {gold!r}"


@pytest.mark.parametrize("completion", ["{" * 20_000_000, "\\boxed{" * 3_000_000,
                                        "$" * 20_000_000, "1" * 20_000_000])
def test_extraction_is_bounded(completion):
    """20 MB completions: no answer, in well under a second and a few MB of memory
    (a completion past MAX_EXTRACT_CHARS is not scanned)."""
    tracemalloc.start()
    start = time.process_time()  # CPU time: a machine shared with other jobs does not count
    result = verify_math(completion, "1")
    seconds = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (result.correct, result.reason.startswith("completion too long")) == (False, True)
    assert seconds < 0.5, f"{seconds:.2f} s"
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("completion", ["{" * 900_000, "\\boxed{" * 120_000,
                                        "$" * 900_000, "\\[" * 400_000, "Answer:" * 120_000])
def test_extraction_under_the_limit_is_linear(completion):
    """Just under the limit every step still runs in linear time (a quadratic scan of 1 MB
    would take minutes; CPU time, so a machine shared with other jobs does not count)."""
    start = time.process_time()
    extract_answer(completion, "lenient")
    assert time.process_time() - start < 1.0
