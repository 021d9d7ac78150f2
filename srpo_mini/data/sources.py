"""Where a run's training and held-out problems come from.

A config names dataset files in the problem schema (`data.train_files`), hub datasets read
through adapters (`data.train_hub`), or nothing: then the offline tiny world is used, the
fixed synthetic world the tiny base model was made for (world seed 0, whatever the run's
seed). `train_limit` / `eval_limit` keep N problems per domain: a seeded random subset for
training (the run's seed) and always the same subset for evaluation (seed 0), so runs
with different seeds are evaluated on the same problems.
"""

from __future__ import annotations

import random

from .schema import Problem, load_problems

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


def _from_hub(entries) -> list[Problem]:
    from .adapters import load_hub_dataset

    problems: list[Problem] = []
    for entry in entries:
        problems += load_hub_dataset(entry.path, adapter=entry.adapter, config=entry.subset,
                                     split=entry.split, limit=entry.limit)
    return problems


def load_run_problems(data, seed: int = 0) -> tuple[list[Problem], list[Problem]]:
    """(train, eval) problems for a `config.DataConfig`.

    Raises `schema.DataError` (file, row, field) for bad files, ValueError when the
    training set is empty or shares ids with the held-out set.
    """
    if data.train_files or data.train_hub:
        train = (load_problems(data.train_files) if data.train_files else []) \
            + _from_hub(data.train_hub)
        held_out = (load_problems(data.eval_files) if data.eval_files else []) \
            + _from_hub(data.eval_hub)
    else:
        from .synthetic import make_tiny_world

        world = make_tiny_world(seed=TINY_WORLD_SEED, easy_share=data.easy_share)
        train, held_out = world.problems("train"), world.problems("eval")
        if data.eval_files or data.eval_hub:
            held_out = (load_problems(data.eval_files) if data.eval_files else []) \
                + _from_hub(data.eval_hub)
    train = _subset(train, data.train_limit, seed)
    held_out = _subset(held_out, data.eval_limit, 0)
    if not train:
        raise ValueError("data: no training problems")
    overlap = {p.id for p in train} & {p.id for p in held_out}
    if overlap:
        raise ValueError(f"data: {len(overlap)} problem ids are in both the training and the "
                         f"held-out set, e.g. {sorted(overlap)[:3]}")
    return train, held_out
