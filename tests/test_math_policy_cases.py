"""Case tables for the answer forms real datasets and models write, and regressions for
the red-team findings (precision, word case, superscripts, sampled equivalence).

Each row is (gold, candidate, expected): the candidate is a bare answer (no extraction).
The policy is in docs/math_verifier.md.

    python -m pytest tests/test_math_policy_cases.py -q
"""

from functools import reduce
from math import lcm

import pytest

from srpo_mini.verifiers.math import verify_math_batch

L = reduce(lcm, range(97, 114))  # every denominator the old fixed sample points used

CASES = {
    "relations": [
        (r"x \geq 5", "x >= 5", True), (r"x \le 5", "x <= 5", True),
        (r"x \neq 5", "x != 5", True), (r"x \ge 5", "x > 5", False),
        (r"x \geq 5", r"[5, \infty)", True),
    ],
    "percent": [
        (r"28\%", "28 percent", True), (r"28\%", r"28 \text{ percent}", True),
        (r"28\%", "0.28", True), (r"28\%", "29 percent", False),
    ],
    "times of day": [
        (r"4:30 \text{ p.m.}", "4:30 p.m.", True), (r"4:30 \text{ p.m.}", "16:30", True),
        (r"4:30 \text{ p.m.}", r"4:30 \text{ a.m.}", False),
        (r"4:30 \text{ p.m.}", "4:30", False), ("1:58 am", r"1:58 \text{ a.m.}", True),
    ],
    "text words": [
        (r"5 \text{ cm}", "5", True),  # a unit the policy ignores
        (r"3.2 \mathrm{~m} / \mathrm{s}", "3.2", True),  # a compound unit
        (r"3 \text{ red balls}", "3", False),  # words are compared, not dropped
        (r"3 \text{ red balls}", r"3 \text{ Red Balls}", True),
        (r"\text{no solution}", "No Solution", True),
    ],
    "word case": [
        ("no", "No", True), ("no", "NO", True), ("no", r"\text{No}", True),
        ("yes", r"\textbf{Yes}", True), ("no", "yes", False),
    ],
    "superscript digits": [
        ("4", "2²", True), ("x^{2}", "x²", True), ("8", "2³", True), ("9", "2²", False),
    ],
    "separated answers": [
        ("2, 3", r"2 \quad 3", True), ("2, 3", r"3 \text{ and } 2", True),
        ("2, 3", r"2 \quad 4", False), (r"\pm 1, \pm 7", "1, -1, 7, -7", True),
        (r"\pm 1, \pm 7", "1, -1, 7", False),
        (r"x=2 \text{ or } x=3", "2, 3", True),
    ],
    "trailing punctuation": [("5", "5.", True), ("(1, 2)", "(1, 2);", True)],
    "matrices": [
        (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
         r"\left[\begin{array}{rr} 1 & 2 \\ 3 & 4 \end{array}\right]", True),
        (r"B^{-1}=\left[\begin{array}{rr}3 & 7 \\ 5 & 12\end{array}\right]",
         r"\begin{bmatrix} 3 & 7 \\ 5 & 12 \end{bmatrix}", True),
        (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
         r"\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}", False),
    ],
    "set-builder and worked steps": [
        (r"\{x \mid -2 \le x < 1\}", "[-2, 1)", True),
        (r"\{x | -2 \le x < 1\}", "(-2, 1)", False),
        (r"t = \frac{\ln 18}{0.1} = 10 \ln 18", r"10 \ln 18", True),
        (r"\omega_{d}^{2} + \sigma", r"\sigma + \omega_{d}^2", True),
    ],
    "precision at 25 digits": [
        (r"\pi", r"\pi + 10^{-20}", False), (r"\sqrt{2}", r"\sqrt{2}+10^{-18}", False),
        ("e", "e+10^{-17}", False), ("x", "x+10^{-20}", False),
        (r"\pi", r"\pi + 10^{-30}", True),  # below the 25 digits the policy compares
        (r"\sqrt{8}", r"2\sqrt{2}", True), (r"\sqrt{3+2\sqrt{2}}", r"1+\sqrt{2}", True),
    ],
    "sampled equivalence": [
        ("x", r"\max(x,-5)", False), ("x", r"\min(x, 5)", False),
        ("x^2", rf"x^2+\sin({L}\pi x)", False), ("0", "e^{-100}", False),
        ("0", "10^{-50}", False), (r"\sin^2 x + \cos^2 x", "1", True),
        ("(x+1)^2", "x^2+2x+1", True), (r"\sqrt{x^2}", "x", False),
    ],
}
ROWS = [(category, *case) for category, cases in CASES.items() for case in cases]


@pytest.fixture(scope="module")
def verdicts():
    results = verify_math_batch([row[2] for row in ROWS], [row[1] for row in ROWS],
                                extract=False, workers=2)
    return {row: result for row, result in zip(ROWS, results)}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]}: {r[1]} vs {r[2]}")
def test_policy_case(row, verdicts):
    category, gold, candidate, expected = row
    result = verdicts[row]
    assert result.correct is expected, (
        f"[{category}] gold {gold!r}, answer {candidate!r}: expected "
        f"{'equal' if expected else 'unequal'}, got {result.reason!r}")


def test_sample_points_are_reproducible():
    """Sample points depend on the two answers only: the same pair, the same verdict."""
    pair = ([r"\max(x,-5)"] * 3, ["x"] * 3)
    reasons = {r.reason for r in verify_math_batch(*pair, extract=False, workers=2)}
    assert len(reasons) == 1 and reasons.pop().startswith("unequal: differs at x=-")
