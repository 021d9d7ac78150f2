"""What `srpo-mini check-data` (in `srpo_mini.cli`) reports about dataset files.

Every row of every file is validated (see `schema.py`); the first fault stops the check
with one message naming file, row and field, and a non-zero exit code. Then every math
gold answer is read the way the math verifier reads it (`verifiers.math.check_golds`):
the counts per kind are printed, and each gold the verifier cannot read (a problem whose
every rollout would get reward 0) is an error line naming file, row and gold, with a
non-zero exit code.
"""

from __future__ import annotations

from collections import Counter

from .schema import counts_by, load_problems


def format_counts(problems) -> str:
    """A small table: problems per domain, then per (domain, difficulty)."""
    counts = counts_by(problems)
    lines = [f"{len(problems)} problems"]
    for domain, n in sorted(counts["domain"].items()):
        lines.append(f"  {domain:<5} {n:>7}")
        levels = [(d, c) for (dom, d), c in counts["difficulty"].items() if dom == domain]
        # Levels in order, problems without a difficulty ("-") last.
        for level, count in sorted(levels, key=lambda x: (x[0] is None, x[0] or 0)):
            label = "-" if level is None else str(level)
            lines.append(f"    difficulty {label:<4} {count:>7}")
    return "\n".join(lines)


READABLE_KINDS = ("math", "choice", "words")


def kind_order(kinds) -> list[str]:
    """The kinds of `verifiers.math.GoldCheck` present in `kinds`: the readable ones, then
    the others (free text, proof, garbled: ..., notation unsupported: ...) alphabetically."""
    return [k for k in READABLE_KINDS if kinds[k]] + sorted(k for k in kinds
                                                            if k not in READABLE_KINDS)


def gold_report(files) -> tuple[str, list[str]]:
    """Read every math gold of `files`: (one line of counts per kind, one error line per
    gold the verifier cannot read, naming file, 1-based row and gold)."""
    from ..verifiers.math import check_golds

    kinds, errors = Counter(), []
    for file in files:
        problems = load_problems([file])  # one file at a time: rows are that file's
        math = [(row, p) for row, p in enumerate(problems, start=1) if p.domain == "math"]
        for (row, problem), check in zip(math, check_golds([p.answer for _, p in math])):
            kinds[check.kind] += 1
            if not check.readable:
                errors.append(f"error: {file}, row {row}, field 'answer': the math verifier "
                              f"cannot read the gold answer {problem.answer!r} "
                              f"({check.kind}; {check.reason})")
    readable = sum(kinds[k] for k in READABLE_KINDS)
    detail = ", ".join(f"{kind} {kinds[kind]}" for kind in kind_order(kinds))
    line = (f"math golds: {readable} of {sum(kinds.values())} readable"
            + (f" ({detail})" if detail else ""))
    return line, errors
