"""Every gold answer of the real benchmark files in ../shared/data/real, read by the math
verifier: each parses or is classified (words; free text, proof, garbled: ..., notation
unsupported: ...), with the counts per file and kind printed; each readable gold equals
itself in every written form the verifier supports and differs from a perturbed copy (a
number changed, a sign flipped, an element removed); each class has a row in a case
table. The files must be present: a missing file fails, it does not skip.

    python -m pytest tests/test_real_math_golds.py -q -s      # -s shows the counts
"""

import sys
from collections import Counter
from pathlib import Path

import pytest

from srpo_mini.data.adapters import GOLD_FIELDS, read_golds
from srpo_mini.data.check import kind_order
from srpo_mini.verifiers.math import check_golds, verify_math_batch

# The written forms and the perturbations are the benchmark's (one definition for both).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_math_verifier import REAL, perturbed_copies, written_forms  # noqa: E402
# Golds the verifier does not grade, per file: prose (free text, proof), garbled (empty, or
# a typo of the source) and notations it does not read on purpose (`gold_class` names them;
# docs/math_verifier.md says why). Counted and printed, never to grow.
NOT_GRADED_CEILING = {"college_math.jsonl": 330, "gaokao2023en.jsonl": 3,
                      "minerva_math.jsonl": 3, "olympiadbench.jsonl": 4}
# Golds that fit none of those classes. One college_math gold (a union of eight intervals
# with pi endpoints) takes about the whole parse time limit and is read or not depending on
# the machine's load; it is the only one allowed.
UNREADABLE_CEILING = {"college_math.jsonl": 1}


@pytest.fixture(scope="module")
def golds():
    missing = [name for name in GOLD_FIELDS if not (REAL / name).is_file()]
    assert not missing, f"real data missing from {REAL.resolve()}: {missing}"
    return {name: read_golds(REAL / name) for name in GOLD_FIELDS}


@pytest.fixture(scope="module")
def checks(golds):
    return {name: check_golds(values, workers=2) for name, values in golds.items()}


def test_every_gold_is_read_or_classified(checks):
    """Counts per file and kind (printed with -s); every gold not graded has a named class."""
    lines, failures = [], []
    for name, results in checks.items():
        counts = Counter(check.kind for check in results)
        lines.append(f"{name}: {len(results)} golds" + "".join(
            f"\n    {kind:<56} {counts[kind]:>5}" for kind in kind_order(counts)))
        not_graded = [c for c in results if not c.readable]
        unreadable = [c for c in results if c.kind == "unreadable"]
        shown = "\n".join(f"  {c.gold[:100]!r}: {c.kind}; {c.reason}" for c in not_graded[:20])
        if len(not_graded) > NOT_GRADED_CEILING.get(name, 0):
            failures.append(f"{name}: {len(not_graded)} golds not graded (at most "
                            f"{NOT_GRADED_CEILING.get(name, 0)}):\n{shown}")
        if len(unreadable) > UNREADABLE_CEILING.get(name, 0):
            failures.append(f"{name}: {len(unreadable)} golds in no class:\n" + "\n".join(
                f"  {c.gold[:100]!r}: {c.reason}" for c in unreadable[:20]))
    print("\n" + "\n".join(lines))
    assert not failures, "\n".join(failures)
    assert sum(len(r) for r in checks.values()) == 5539


# (gold as the file writes it, its class): one row per class the real files need
GOLD_CLASSES = [
    ("", "garbled: empty"),
    (r"$-3 b^{4}+13 b^{3}-7 b^{2}-$", "garbled: typo"),  # cut off after an operator
    (r"$\propto$ solutions", "garbled: typo"),  # an OCR'd infinity sign
    (r"$\sum_{n=0}^{\infty} x^{n} / n !, R=\infty$", "notation unsupported: series inside an "
                                                   "expression"),
    (r"$1-\frac{x^{2}}{2}+\cdots+\frac{x^{12}}{12 !}$",
     "notation unsupported: series elided with dots"),
    (r"$\bigcup_{k=0}^{\infty}(2 k \pi,(2 k+2) \pi)$", "notation unsupported: union over k"),
    (r"\begin{cases} 1 & x > 0 \\ 0 & \text{otherwise}\end{cases}",  # "otherwise" is a word
     "notation unsupported: piecewise function"),
    (r"y^{\prime}+r y-r x(t)=0", "notation unsupported: derivative"),
    (r"$\operatorname{Cov}(Z, W)=0, \operatorname{Corr}(Z, W)=0$",
     "notation unsupported: probability"),
    (r"$\min$ at $x= \pm 1, \max$ at $x=0$.", "notation unsupported: several points for one "
                                              "label"),
    ("5 4.6", "notation unsupported: juxtaposed values"),
    (r"$11: 4$", "notation unsupported: ratio"),
    (r"$\{x|x=3k,k\in \mathbb{Z}\}$", "notation unsupported: set over the integers"),
    ("The steady state current is 2 amps.", "free text"),
    ("1+" * 6000 + "1", "notation unsupported: too long to parse"),
]


@pytest.mark.parametrize("gold,kind", GOLD_CLASSES, ids=[k for _, k in GOLD_CLASSES])
def test_gold_classes(gold, kind):
    """A gold the parser cannot read gets the class that says why, with the parser's reason."""
    check = check_golds([gold], workers=1)[0]
    assert (check.kind, check.readable) == (kind, False), f"{gold!r}: {check}"
    assert check.reason, gold


def _readable_math(golds, checks):
    return [(name, gold) for name in golds for gold, check in zip(golds[name], checks[name])
            if check.kind == "math"]


def test_each_gold_equals_itself_in_every_form(golds, checks):
    rows = [(name, gold, *form) for name, gold in _readable_math(golds, checks)
            for form in written_forms(gold)]
    results = verify_math_batch([r[3] for r in rows], [r[1] for r in rows], workers=2)
    failed = Counter()
    examples = []
    for row, result in zip(rows, results):
        name, gold, form, text, extract = row
        if extract and not result.correct:
            failed[(name, form)] += 1
            examples.append(f"  {name} [{form}] {gold!r}: {result.reason}")
    bare_rows = [row for row in rows if not row[4]]
    bare = verify_math_batch([r[3] for r in bare_rows], [r[1] for r in bare_rows],
                             extract=False, workers=2)
    examples += [f"  {row[0]} [bare] {row[1]!r}: {r.reason}"
                 for row, r in zip(bare_rows, bare) if not r.correct]
    failed[("all", "bare")] += sum(not r.correct for r in bare)
    print(f"\n{len(rows)} (gold, form) pairs checked")
    failed = +failed  # drop zero counts
    assert not failed, f"{sum(failed.values())} forms not equal to their gold: " \
                       f"{dict(failed)}\n" + "\n".join(examples[:20])


@pytest.mark.slow
def test_each_gold_differs_from_a_perturbed_copy(golds, checks):
    rows = [(name, gold, kind, copy) for name, gold in _readable_math(golds, checks)
            for kind, copy in perturbed_copies(gold)]
    results = verify_math_batch([r[3] for r in rows], [r[1] for r in rows], extract=False,
                                workers=2)
    wrong = [(row, result) for row, result in zip(rows, results) if result.correct]
    print(f"\n{len(rows)} perturbed copies checked, {len(wrong)} judged equal")
    shown = "\n".join(f"  {row[0]} [{row[2]}] gold {row[1]!r} vs {row[3]!r}: {res.reason}"
                      for row, res in wrong[:20])
    assert not wrong, f"{len(wrong)} perturbed copies judged equal:\n{shown}"
