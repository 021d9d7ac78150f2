"""Every gold answer of the real benchmark files in ../shared/data/real, read by the math
verifier: each parses or is classified (words, free text, proof, unreadable), with the
counts printed; each readable gold equals itself in every written form the verifier
supports and differs from a perturbed copy (a number changed, a sign flipped, an element
removed). The files must be present: a missing file fails, it does not skip.

    python -m pytest tests/test_real_math_golds.py -q -s      # -s shows the counts
"""

import re
from collections import Counter
from pathlib import Path

import pytest

from srpo_mini.data.adapters import GOLD_FIELDS, read_golds
from srpo_mini.verifiers.math import check_golds, verify_math_batch
from srpo_mini.verifiers.math_extract import gold_answer, unwrap_answer
from srpo_mini.verifiers.math_parse import _split_top_level

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
# Golds the parser cannot read yet (series, piecewise functions, `\cdots`, ODE solutions
# with vector coefficients, ...): counted, listed, and not allowed to grow.
UNREADABLE_CEILING = {"college_math.jsonl": 224, "gaokao2023en.jsonl": 3,
                      "minerva_math.jsonl": 4, "olympiadbench.jsonl": 3}


@pytest.fixture(scope="module")
def golds():
    missing = [name for name in GOLD_FIELDS if not (REAL / name).is_file()]
    assert not missing, f"real data missing from {REAL.resolve()}: {missing}"
    return {name: read_golds(REAL / name) for name in GOLD_FIELDS}


@pytest.fixture(scope="module")
def checks(golds):
    return {name: check_golds(values, workers=2) for name, values in golds.items()}


def test_every_gold_is_read_or_classified(checks):
    lines, unreadable = [], {}
    for name, results in checks.items():
        counts = Counter(check.kind for check in results)
        lines.append(f"{name:<22} {len(results):>5} golds: " + ", ".join(
            f"{kind} {counts[kind]}" for kind in ("math", "choice", "words", "free text",
                                                  "proof", "unreadable") if counts[kind]))
        unreadable[name] = [c for c in results if c.kind == "unreadable"]
    print("\n" + "\n".join(lines))
    for name, bad in unreadable.items():
        ceiling = UNREADABLE_CEILING.get(name, 0)
        shown = "\n".join(f"  {c.gold[:100]!r}: {c.reason}" for c in bad[:20])
        assert len(bad) <= ceiling, f"{name}: {len(bad)} unreadable golds (at most " \
                                    f"{ceiling}):\n{shown}"
    assert sum(len(r) for r in checks.values()) == 5539


def _readable_math(golds, checks):
    return [(name, gold) for name in golds for gold, check in zip(golds[name], checks[name])
            if check.kind == "math"]


def _forms(gold: str) -> list[tuple[str, str, bool]]:
    """(form name, text, extract?) of one gold: boxed, bare, $...$, "The answer is"."""
    answer = unwrap_answer(gold_answer(gold))
    forms = [("boxed", f"So the final result is \\boxed{{{answer}}}.", True),
             ("bare", answer, False)]
    if "$" not in answer and "\n" not in answer:
        forms += [("inline math", f"We find ${answer}$", True),
                  ("answer is", f"Therefore, the answer is {answer}", True)]
    return forms


def test_each_gold_equals_itself_in_every_form(golds, checks):
    rows = [(name, gold, *form) for name, gold in _readable_math(golds, checks)
            for form in _forms(gold)]
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


# A whole number or decimal that is not an exponent, a root index or part of a name.
_NUMBER = re.compile(r"(?<![\w\\{_^.\[])\d+(?:\.\d+)?(?![\d.]|\s*\^)")


def _perturbed(gold: str) -> list[tuple[str, str]]:
    """(kind, copy) pairs that must not equal the gold."""
    answer = unwrap_answer(gold_answer(gold))
    copies = []
    tail = answer.rfind("=") + 1  # after the last `=`: worked steps end in the answer
    number = None
    for number in _NUMBER.finditer(answer, tail):
        pass
    if number:
        whole, dot, fraction = number.group().partition(".")
        changed = str(int(whole) + 1) + dot + fraction  # past any decimal tolerance
        copies.append(("number changed",
                       answer[:number.start()] + changed + answer[number.end():]))
    parts = _split_top_level(answer)
    if len(parts) > 1:
        copies.append(("element removed", ",".join(parts[:-1])))
    elif not re.search(r"^-|=|<|>|\\[lg]e|\\pm|\\mp", answer.strip()) \
            and re.search("[1-9]", answer):  # -0 is 0; a relation has no sign to flip
        copies.append(("sign flipped", f"-({answer})"))
    return copies


@pytest.mark.slow
def test_each_gold_differs_from_a_perturbed_copy(golds, checks):
    rows = [(name, gold, kind, copy) for name, gold in _readable_math(golds, checks)
            for kind, copy in _perturbed(gold)]
    results = verify_math_batch([r[3] for r in rows], [r[1] for r in rows], extract=False,
                                workers=2)
    wrong = [(row, result) for row, result in zip(rows, results) if result.correct]
    print(f"\n{len(rows)} perturbed copies checked, {len(wrong)} judged equal")
    shown = "\n".join(f"  {row[0]} [{row[2]}] gold {row[1]!r} vs {row[3]!r}: {res.reason}"
                      for row, res in wrong[:20])
    assert not wrong, f"{len(wrong)} perturbed copies judged equal:\n{shown}"
