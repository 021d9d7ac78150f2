"""Where a run's training and held-out problems come from.

A config names dataset files in the problem schema (`data.train_files`), hub datasets read
through adapters (`data.train_hub`), or nothing: then the offline tiny world is used, the
fixed synthetic world the tiny base model was made for (world seed 0, whatever the run's
seed). `train_limit` / `eval_limit` keep N problems per domain: a seeded random subset for
training (the run's seed) and always the same subset for evaluation (seed 0), so runs
with different seeds are evaluated on the same problems. A math gold answer the verifier
cannot read is an error here, naming file, row and gold (`check_math_golds`); a caller may
ask to drop such problems instead, with their count shown.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter

from .schema import DataError, Problem, load_problem_files

TINY_WORLD_SEED = 0


def _subset(problems: list[Problem], limit: int | None, seed: int) -> list[Problem]:
    """At most `limit` problems of each domain, a seeded random subset in original order."""
    if limit is None:
        return problems
    keep: set[str] = set()
    for domain in sorted({p.domain for p in problems}):
        ids = [p.id for p in problems if p.domain == domain]
        if len(ids) > limit:
            ids = random.Random(f"{seed}-{domain}").sample(ids, limit)
        keep.update(ids)
    return [p for p in problems if p.id in keep]


def check_math_golds(problems: list[Problem], file: str, rows: list[int] | None = None, *,
                     drop_ungradable: bool = False) -> list[Problem]:
    """The problems, after checking that the math verifier can read every math gold.

    A gold it cannot read (`GoldCheck.kind` says why: free text, proof, garbled: ...,
    notation unsupported: ...) would give every rollout of its problem reward 0, silently;
    so by default it raises `DataError` naming file, row and gold. With
    `drop_ungradable=True` those problems are dropped instead, with a warning that counts
    them by kind. `rows[i]` is the row of problems[i] in `file` (default: i + 1).
    """
    from ..verifiers.math import check_golds

    math = [(i, p) for i, p in enumerate(problems) if p.domain == "math"]
    checks = check_golds([p.answer for _, p in math])
    bad = [(i, p, c) for (i, p), c in zip(math, checks) if not c.readable]
    if bad and not drop_ungradable:
        i, problem, check = bad[0]
        raise DataError(f"the math verifier cannot read the gold answer {problem.answer!r} "
                        f"({check.kind}; {check.reason}); {len(bad)} of {len(math)} math "
                        f"golds here cannot, and every rollout of such a problem would get "
                        f"reward 0. Fix or remove those rows (srpo_mini.verifiers.math."
                        f"check_golds lists them)", file=file,
                        row=rows[i] if rows else i + 1, field="answer")
    if bad:
        kinds = Counter(c.kind for _, _, c in bad)
        warnings.warn(f"{file}: dropped {len(bad)} of {len(math)} math problems whose gold "
                      f"answer the math verifier cannot read (" + ", ".join(
                          f"{kind} {n}" for kind, n in sorted(kinds.items())) + ")",
                      stacklevel=2)
    dropped = {i for i, _, _ in bad}
    return [p for i, p in enumerate(problems) if i not in dropped]


def _from_files(files, drop_ungradable: bool = False) -> list[Problem]:
    """Problems of schema files, every math gold checked (the error names file and row).
    Every file is read and validated (ids unique across files) before any gold is checked."""
    return [problem for name, problems in load_problem_files(files)
            for problem in check_math_golds(problems, name, drop_ungradable=drop_ungradable)]


def _from_hub(entries, drop_ungradable: bool = False) -> list[Problem]:
    from .adapters import load_hub_dataset

    problems: list[Problem] = []
    for entry in entries:
        loaded = load_hub_dataset(entry.path, adapter=entry.adapter, config=entry.subset,
                                  split=entry.split, limit=entry.limit)
        problems += check_math_golds(loaded, entry.path, drop_ungradable=drop_ungradable)
    return problems


def load_run_problems(data, seed: int = 0) -> tuple[list[Problem], list[Problem]]:
    """(train, eval) problems for a `config.DataConfig`.

    With `data.drop_ungradable_golds` the math problems whose gold the verifier cannot
    read are dropped, with a warning that counts them (`check_math_golds`); otherwise
    Raises `schema.DataError` (file, row, field) for bad files and unreadable golds,
    ValueError when the training set is empty or shares ids with the held-out set.
    """
    drop = data.drop_ungradable_golds
    if data.train_files or data.train_hub:
        train = (_from_files(data.train_files, drop) if data.train_files else []) \
            + _from_hub(data.train_hub, drop)
        held_out = (_from_files(data.eval_files, drop) if data.eval_files else []) \
            + _from_hub(data.eval_hub, drop)
    else:
        from .synthetic import make_tiny_world

        world = make_tiny_world(seed=TINY_WORLD_SEED, easy_share=data.easy_share)
        train, held_out = world.problems("train"), world.problems("eval")
        if data.eval_files or data.eval_hub:
            held_out = (_from_files(data.eval_files, drop) if data.eval_files else []) \
                + _from_hub(data.eval_hub, drop)
    train = _subset(train, data.train_limit, seed)
    held_out = _subset(held_out, data.eval_limit, 0)
    if not train:
        raise ValueError("data: no training problems")
    overlap = {p.id for p in train} & {p.id for p in held_out}
    if overlap:
        raise ValueError(f"data: {len(overlap)} problem ids are in both the training and the "
                         f"held-out set, e.g. {sorted(overlap)[:3]}")
    return train, held_out
