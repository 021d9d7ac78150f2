"""The prompt pool: the stage's problems in epoch order, with the epoch boundary.

`PromptPool` serves B problems per step from a seeded shuffle of the stage's active
prompts. When an epoch is exhausted, the next call first asks the strategy
(`Resampler.rebuild`, strategies.py) which prompts make up the next epoch, so every batch
of an epoch has been observed before the pool is rebuilt. With a mixture
{domain: weight} an epoch is one pass over the most plentiful domain for its weight,

    L = max_d floor(n_d / w_d),   k_d = round(w_d * L) prompts of domain d

(n_d active prompts, w_d normalized weights), the other domains repeated to keep the
weights and interleaved evenly. The full epoch rules (drop_last, stage switches,
`epochs_completed`) are in docs/resampling.md. `state_dict` holds the order, position,
counters, RNG and the strategy's history, so a resumed run draws the same prompts.

Reference: SRPO (arXiv 2504.14286), "History Resampling" (the epoch boundary).

Differences from the paper:
- The paper does not say how an epoch is defined for a mixture of domains; the rule
  above is this implementation's.
- A stage switch ends the current epoch early: its history so far is applied.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from ..config import ConfigError, stage_domain_errors
from .strategies import Resampler, rng_state, set_rng_state


class PromptPool:
    """The stage's problems in epoch order, with the epoch boundary and its rebuild.

    problems: every training problem (all stages); ids must be unique.
    resampler: the strategy asked at each epoch boundary (default: none).
    batch_size: prompts per step (B); with `drop_last` an epoch is cut to a multiple of it.
    seed: seeds the epoch shuffles.
    """

    def __init__(self, problems, resampler: Resampler | None = None, *, batch_size: int,
                 seed: int = 0, drop_last: bool = True):
        self.problems = {p.id: p for p in problems}
        if len(self.problems) != len(problems):
            raise ValueError("PromptPool: problem ids must be unique")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.resampler = resampler if resampler is not None else Resampler(seed)
        self.batch_size, self.drop_last = batch_size, drop_last
        self._rng = random.Random(seed)
        self.stage: str | int | None = None
        self.domains: tuple[str, ...] = ()
        self.mixture: dict[str, float] | None = None
        self.epoch = -1              # index of the current epoch (stage switches count)
        self._full_passes = 0        # epochs ended by exhaustion
        self.order: list[str] = []   # this epoch's prompt ids, in serving order
        self.position = 0

    # --- stages and epochs -----------------------------------------------------------
    def set_stage(self, stage, domains: Sequence[str], mixture: dict[str, float] | None = None):
        """Train on `domains` from now on, in proportions `mixture` (None: as the data has).

        Ends the current epoch (its history is applied) and starts a new one.
        """
        domains, mixture = tuple(domains), mixture or None    # {} means no mixture
        errors = stage_domain_errors(stage, domains, mixture,
                                     {p.domain for p in self.problems.values()})
        if errors:
            raise ConfigError(errors)
        if self.stage is not None and self.exhausted:
            self._full_passes += 1
        self.stage, self.domains = stage, domains
        self.mixture = dict(mixture) if mixture is not None else None
        self._start_epoch()

    @property
    def exhausted(self) -> bool:
        """True when the current epoch has nothing left to serve."""
        return self.position >= len(self.order)

    @property
    def all_solved(self) -> bool:
        """True when this epoch's rebuild found every prompt of the stage solved."""
        stats = self.resampler.epoch_stats
        return bool(stats) and stats[-1].all_solved

    @property
    def epochs_completed(self) -> int:
        """Full passes so far, the current one included once exhausted (cut ones excluded)."""
        return self._full_passes + int(self.stage is not None and self.exhausted)

    def _start_epoch(self) -> None:
        self.epoch += 1
        candidates = [pid for pid, p in self.problems.items() if p.domain in self.domains]
        active = self.resampler.rebuild(candidates, self.epoch, self.stage)
        self.order = self._epoch_order(active)
        # drop_last: whole batches only; the cut prompts (a random few, the order being
        # shuffled) are not seen this epoch and count as unseen at the next boundary.
        if self.drop_last and len(self.order) >= self.batch_size:
            self.order = self.order[: len(self.order) // self.batch_size * self.batch_size]
        self.resampler.epoch_stats[-1].epoch_length = len(self.order)
        self.position = 0

    def _epoch_order(self, active: list[str]) -> list[str]:
        if self.mixture is None:   # one pass over the active prompts in a fresh shuffle
            order = list(active)
            self._rng.shuffle(order)
            return order
        by_domain = {d: [pid for pid in active if self.problems[pid].domain == d]
                     for d in self.domains}
        # A domain with no active prompt left drops out; the other weights renormalize.
        weights = {d: w for d, w in self.mixture.items() if w > 0 and by_domain[d]}
        total = sum(weights.values())
        if not weights:
            return []
        # L = max_d floor(n_d / w_d): one pass over the most plentiful domain for its
        # weight. (L = min_d would shrink the epoch, down to a few prompts, as the scarcest
        # domain's prompts are solved and dropped.) Every active prompt is served at least
        # once; a scarcer domain's prompt may come several times, each rollout counting.
        length = max(math.floor(len(by_domain[d]) * total / w) for d, w in weights.items())
        keyed = []
        for rank, (d, w) in enumerate(weights.items()):
            count = max(1, round(w / total * length))           # k_d = round(w_d * L)
            chosen = []
            while len(chosen) < count:  # fresh shuffles back to back, the last one cut
                chosen += self._rng.sample(by_domain[d], len(by_domain[d]))
            chosen = chosen[:count]
            # Spread each domain at fractional positions (j + u_d) / k_d, so that every
            # batch carries the mixture within one prompt per domain.
            offset = self._rng.random()
            keyed += [((j + offset) / count, rank, pid) for j, pid in enumerate(chosen)]
        return [pid for _, _, pid in sorted(keyed)]

    # --- serving ---------------------------------------------------------------------
    def next_prompts(self, n: int | None = None) -> list:
        """The next `n` problems (default `batch_size`), never crossing an epoch boundary.

        If the current epoch is exhausted it first rebuilds (the resampler's boundary).
        Returns fewer than `n` only when the epoch has fewer left.
        """
        if self.stage is None:
            raise RuntimeError("PromptPool: call set_stage(...) before next_prompts()")
        n = self.batch_size if n is None else n
        if self.exhausted:
            self._full_passes += 1
            self._start_epoch()
        if not self.order:
            raise RuntimeError(f"stage {self.stage!r}: the epoch has no prompts to serve")
        ids = self.order[self.position:self.position + n]
        self.position += len(ids)
        return [self.problems[pid] for pid in ids]

    # --- state -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Order, position, epoch counters, RNG and the strategy's state (JSON-friendly)."""
        return {"stage": self.stage, "domains": list(self.domains), "mixture": self.mixture,
                "epoch": self.epoch, "full_passes": self._full_passes,
                "order": list(self.order), "position": self.position,
                "batch_size": self.batch_size, "drop_last": self.drop_last,
                "rng": rng_state(self._rng), "resampler": self.resampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        unknown = [pid for pid in state["order"] if pid not in self.problems]
        if unknown:
            raise ValueError(f"pool state names {len(unknown)} prompt ids absent from the "
                             f"training data, e.g. {unknown[:3]}")
        self.stage, self.domains = state["stage"], tuple(state["domains"])
        self.mixture = state["mixture"]
        self.epoch, self._full_passes = state["epoch"], state["full_passes"]
        self.order, self.position = list(state["order"]), state["position"]
        self.batch_size, self.drop_last = state["batch_size"], state["drop_last"]
        set_rng_state(self._rng, state["rng"])
        self.resampler.load_state_dict(state["resampler"])
