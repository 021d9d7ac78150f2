"""History resampling (SRPO) and its baselines behind one interface, and the prompt pool.

SRPO records every rollout's outcome for every prompt during an epoch. At the epoch
boundary it rebuilds the next epoch's pool from that history:

    n_p = rollouts of prompt p in the epoch,  c_p = how many of them were correct
    c_p == n_p > 0   all correct -> dropped: every advantage (r - mean) / std of its
                     group is 0, so it costs generation and teaches nothing
    0 < c_p < n_p    mixed       -> kept
    c_p == 0 < n_p   all wrong   -> kept (it may become solvable later: a curriculum)
    n_p == 0         unseen      -> kept (no evidence)

The pool only changes at an epoch boundary; inside an epoch nothing is filtered.
Two baselines share the interface:

    none   vanilla GRPO: keeps every prompt and every group.
    dapo   DAPO dynamic sampling: inside each batch, drop the groups whose rewards all
           match (0 < #correct < G must hold), generate more prompts to refill the batch,
           at most `max_extra_rounds` extra rounds; the pool itself never changes.

`PromptPool` owns the data order: the stage's problems, a seeded shuffle per epoch, the
position inside the epoch and the epoch boundary, where it asks its strategy which prompts
make up the next epoch. Its `state_dict` holds all of that plus the strategy's history, so
a resumed run draws the same prompts. How an epoch is defined:

- Without a mixture, an epoch is one pass over the stage's active (not dropped) prompts in
  a fresh seeded shuffle.
- With a mixture {domain: weight} an epoch is one pass over the most plentiful domain
  (for its weight), and the other domains are repeated to keep the weights: with n_d
  active prompts in domain d and weights w_d (normalized), L = max_d floor(n_d / w_d) and
  domain d contributes k_d = round(w_d * L) prompts, drawn as back-to-back fresh shuffles
  of its n_d prompts cut to k_d. Every active prompt is served at least once per epoch;
  a prompt of a scarcer domain may be served several times, and all its rollouts count
  toward its history. (Taking the scarcest domain's pass instead, L = min_d, would
  shrink the epoch as that domain's prompts are solved and dropped, down to batches of a
  few prompts.) Domains are interleaved evenly (each domain's prompts are spread at
  fractional positions (j + u_d) / k_d), so every batch carries the mixture within one
  prompt per domain. A domain with no active prompt left drops out of the mixture and the
  other weights are renormalized.
- With `drop_last` (the default) the epoch is cut to a whole number of batches; the cut
  prompts (a random few, the order being shuffled) are simply not seen in that epoch.
- A call to `next_prompts` never crosses an epoch boundary: when the epoch is exhausted the
  next call first rebuilds, then serves from the new epoch, and it returns fewer prompts
  than asked only when the epoch has fewer left (a pool smaller than a batch, `drop_last`
  off, or a DAPO refill). Because the rebuild happens at the start of the next call, every
  batch of the epoch has been observed when the pool is rebuilt.
- A stage switch (`set_stage`) ends the current epoch early: its history so far is applied
  (all-correct prompts are dropped) and a new epoch starts over the new stage's problems.
  Prompts dropped earlier stay dropped. `epochs_completed` counts only full passes.

How the trainer calls it, in order, each step:

    problems = pool.next_prompts(B)                        # 1. pick prompts
    ... sample G completions each, score them (rewards.compute_rewards)
    resampler.observe([p.id for p in problems], scores.correct, G)   # every group
    keep = resampler.filter_groups(scores.rewards, G)      # (B*G,) bool; all True but dapo
    rounds = 0
    while resampler.needs_more(int(keep.sum()) // G, B, rounds):      # dapo only
        extra = pool.next_prompts(resampler.refill_size(kept_groups, generated_groups, B))
        ... sample, score, observe, filter_groups, concatenate; rounds += 1
    rows = select_group_rows(keep, G, max_groups=B)        # DAPO trims the surplus
    ledger.write(resampler.pop_ledger_rows())              # JSONL, one row per group

and at a stage switch `pool.set_stage(stage.name, stage.domains, stage.mixture)`; a
checkpoint stores `pool.state_dict()` (which includes the strategy's) and `ledger.rows`.

Reference: SRPO (arXiv 2504.14286), "History Resampling"; DAPO (arXiv 2503.14476)
section 3.2, "Dynamic Sampling".

Differences from the paper:
- Options beyond the paper: a dropped prompt may be re-admitted after `readmit_after_epochs`
  epochs, or at each boundary with probability `readmit_prob`. Both are off by default.
- If a rebuild would leave a stage with no prompt at all, every dropped prompt of the
  stage is re-admitted (counted as `readmitted`) so training can go on, and the epoch's
  stats say `all_solved` (`PromptPool.all_solved`), which the schedule's `end` rule reads.
- The paper does not say how an epoch is defined for a mixture of domains; the rule above
  is this implementation's.
- A prompt is correct-for-history when its verifier says so (`correct`, not the shaped
  reward), so format or length terms cannot make an unsolved prompt look easy.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .config import ConfigError, stage_domain_errors

LEDGER_FIELDS = ("prompt_id", "epoch", "stage", "correct", "group_size")


@dataclass
class EpochStats:
    """What a rebuild did: the pool of `epoch` and why each candidate is (not) in it.

    The outcome counts classify the stage's candidates by the previous epoch's history;
    `kept_all_correct` is non-zero only for strategies that keep easy prompts (none, dapo).
    """

    epoch: int
    stage: str | int | None
    pool_size: int = 0          # prompts in this epoch's pool (before the drop_last cut)
    dropped_easy: int = 0       # newly dropped at this boundary: all rollouts correct
    kept_mixed: int = 0
    kept_all_wrong: int = 0
    kept_all_correct: int = 0
    kept_unseen: int = 0        # not served in the previous epoch (or new to the stage)
    readmitted: int = 0         # dropped earlier, back in this epoch
    dropped_total: int = 0      # the stage's prompts excluded from this epoch
    epoch_length: int = 0       # prompts this epoch will serve (mixture and drop_last applied)
    all_solved: bool = False    # every prompt of the stage was dropped: all re-admitted

    def count_kept(self, outcome: str) -> None:
        """Count one kept candidate by its outcome (mixed, all_wrong, all_correct, unseen)."""
        name = f"kept_{outcome}"
        setattr(self, name, getattr(self, name) + 1)


def _as_list(values) -> list:
    return values.tolist() if isinstance(values, torch.Tensor) else list(values)


def _rng_state(rng: random.Random) -> list:
    """`random.Random` state as JSON-friendly lists."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: list) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


class Resampler:
    """The interface, and the `none` strategy (vanilla GRPO): nothing is ever filtered.

    Every strategy records per-prompt outcomes (`observe`), writes ledger rows and reports
    per-epoch stats, so runs with different strategies can be compared on the same terms.
    """

    name = "none"
    max_extra_rounds = 0

    def __init__(self, seed: int = 0):
        self.epoch = 0
        self.stage: str | int | None = None
        self.epoch_stats: list[EpochStats] = []
        self._tally: dict[str, list[int]] = {}     # prompt id -> [correct, rollouts], this epoch
        self._pending_rows: list[dict] = []
        self._rng = random.Random(seed)

    # --- during an epoch -------------------------------------------------------------
    def observe(self, problem_ids: Sequence[str], correct, group_size: int) -> list[dict]:
        """Record the outcomes of B groups.

        problem_ids: B prompt ids; correct: (B*G,) bools, or 0/1 floats (a value counts as
        correct when >= 1), row i*G + j belonging to problem_ids[i]. Returns the B ledger
        rows {prompt_id, epoch, stage, correct (count of G), group_size}, also kept for
        `pop_ledger_rows`.
        """
        flags = [float(v) >= 1.0 for v in _as_list(correct)]
        if len(flags) != len(problem_ids) * group_size:
            raise ValueError(f"observe: {len(flags)} outcomes for {len(problem_ids)} prompts "
                             f"x group_size {group_size}")
        rows = []
        for i, prompt_id in enumerate(problem_ids):
            n_correct = sum(flags[i * group_size:(i + 1) * group_size])
            tally = self._tally.setdefault(prompt_id, [0, 0])
            tally[0] += n_correct
            tally[1] += group_size
            rows.append({"prompt_id": prompt_id, "epoch": self.epoch, "stage": self.stage,
                         "correct": n_correct, "group_size": group_size})
        self._pending_rows.extend(rows)
        return rows

    def pop_ledger_rows(self) -> list[dict]:
        """The ledger rows recorded since the last call (to append to the ledger file)."""
        rows, self._pending_rows = self._pending_rows, []
        return rows

    def filter_groups(self, rewards, group_size: int) -> torch.Tensor:
        """Which rows to train on: (B*G,) bool, whole groups at a time. Keeps all here."""
        return torch.ones(len(_as_list(rewards)), dtype=torch.bool)

    def needs_more(self, kept_groups: int, wanted_groups: int, rounds_done: int) -> bool:
        """Whether to generate another round to refill the batch. Never, here."""
        return False

    def refill_size(self, kept_groups: int, generated_groups: int, wanted_groups: int) -> int:
        """How many more prompts to sample in the next refill round (0 here)."""
        return 0

    # --- at an epoch boundary --------------------------------------------------------
    def rebuild(self, candidates: Sequence[str], epoch: int, stage) -> list[str]:
        """The prompts of epoch `epoch` among the stage's `candidates`, from the history.

        Called by `PromptPool` at every epoch start (the first included). Appends an
        `EpochStats` to `epoch_stats` and clears the epoch's history.
        """
        stats = EpochStats(epoch=epoch, stage=stage)
        outcomes = {pid: self._outcome(pid) for pid in candidates}
        active = self._select(list(candidates), outcomes, stats, epoch)
        stats.pool_size = len(active)
        stats.dropped_total = len(candidates) - len(active)
        self.epoch_stats.append(stats)
        self._tally = {}
        self.epoch, self.stage = epoch, stage
        return active

    def _outcome(self, prompt_id: str) -> str:
        n_correct, n_rollouts = self._tally.get(prompt_id, (0, 0))
        if n_rollouts == 0:
            return "unseen"
        if n_correct == n_rollouts:
            return "all_correct"
        return "all_wrong" if n_correct == 0 else "mixed"

    def _select(self, candidates: list[str], outcomes: dict[str, str], stats: EpochStats,
                epoch: int) -> list[str]:
        for outcome in outcomes.values():
            stats.count_kept(outcome)
        return candidates

    # --- state -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs (JSON-friendly)."""
        return {"name": self.name, "epoch": self.epoch, "stage": self.stage,
                "tally": {k: list(v) for k, v in self._tally.items()},
                "pending_rows": list(self._pending_rows),
                "epoch_stats": [asdict(s) for s in self.epoch_stats],
                "rng": _rng_state(self._rng)}

    def load_state_dict(self, state: dict) -> None:
        if state["name"] != self.name:
            raise ValueError(f"resampler state is for {state['name']!r}, not {self.name!r}")
        self.epoch, self.stage = state["epoch"], state["stage"]
        self._tally = {k: list(v) for k, v in state["tally"].items()}
        self._pending_rows = list(state["pending_rows"])
        self.epoch_stats = [EpochStats(**s) for s in state["epoch_stats"]]
        _set_rng_state(self._rng, state["rng"])



class HistoryResampling(Resampler):
    """SRPO: at each epoch boundary drop the prompts whose rollouts were all correct.

    readmit_after_epochs: a dropped prompt is back after this many epochs out (None: never).
    readmit_prob: at each boundary each dropped prompt is back with this probability.
    Both are options beyond the paper (off by default): a model can forget.
    """

    name = "history"

    def __init__(self, seed: int = 0, readmit_after_epochs: int | None = None,
                 readmit_prob: float = 0.0):
        super().__init__(seed)
        if readmit_after_epochs is not None and readmit_after_epochs < 1:
            raise ValueError(f"readmit_after_epochs must be >= 1 or None, got "
                             f"{readmit_after_epochs}")
        if not 0.0 <= readmit_prob <= 1.0:
            raise ValueError(f"readmit_prob must be in [0, 1], got {readmit_prob}")
        self.readmit_after_epochs, self.readmit_prob = readmit_after_epochs, readmit_prob
        self.dropped: dict[str, int] = {}          # prompt id -> first epoch it was left out of

    def _readmit(self, prompt_id: str, epoch: int) -> bool:
        after = self.readmit_after_epochs
        if after is not None and epoch - self.dropped[prompt_id] >= after:
            return True
        # Draws come in candidate order, so the RNG stream is the same in a resumed run.
        return self.readmit_prob > 0 and self._rng.random() < self.readmit_prob

    def _select(self, candidates, outcomes, stats, epoch):
        active = []
        for pid in candidates:
            if pid in self.dropped:
                if self._readmit(pid, epoch):
                    del self.dropped[pid]
                    stats.readmitted += 1
                    active.append(pid)
                continue
            outcome = outcomes[pid]
            if outcome == "all_correct":
                self.dropped[pid] = epoch
                stats.dropped_easy += 1
                continue
            stats.count_kept(outcome)
            active.append(pid)
        if candidates and not active:   # everything solved: start over rather than stop
            for pid in candidates:
                self.dropped.pop(pid, None)
            stats.readmitted += len(candidates)
            stats.all_solved = True
            active = list(candidates)
        return active

    def state_dict(self) -> dict:
        return {**super().state_dict(), "dropped": dict(self.dropped)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.dropped = dict(state["dropped"])


class DynamicSampling(Resampler):
    """DAPO: drop the groups whose rewards all match, refill with more prompts.

    max_extra_rounds: refill rounds per step at most (DAPO's `max_num_gen_batches` - 1);
        after that the step trains on the groups it has (none: the trainer skips it).
    min_keep_rate: floor on the keep rate used to size a refill, so a refill asks for at
        most (missing groups) / min_keep_rate prompts.
    atol: rewards within `atol` of each other count as equal.
    """

    name = "dapo"

    def __init__(self, seed: int = 0, max_extra_rounds: int = 3, min_keep_rate: float = 0.25,
                 atol: float = 1e-6):
        super().__init__(seed)
        if max_extra_rounds < 0:
            raise ValueError(f"max_extra_rounds must be >= 0, got {max_extra_rounds}")
        if not 0.0 < min_keep_rate <= 1.0:
            raise ValueError(f"min_keep_rate must be in (0, 1], got {min_keep_rate}")
        self.max_extra_rounds, self.min_keep_rate, self.atol = max_extra_rounds, min_keep_rate, atol

    def filter_groups(self, rewards, group_size: int) -> torch.Tensor:
        """(B*G,) bool: True for the rows of groups whose rewards are not all equal."""
        rewards = torch.as_tensor(_as_list(rewards), dtype=torch.float64).view(-1, group_size)
        spread = rewards.max(dim=1).values - rewards.min(dim=1).values    # (B,)
        return (spread > self.atol).repeat_interleave(group_size)          # (B*G,)

    def needs_more(self, kept_groups: int, wanted_groups: int, rounds_done: int) -> bool:
        return kept_groups < wanted_groups and rounds_done < self.max_extra_rounds

    def refill_size(self, kept_groups: int, generated_groups: int, wanted_groups: int) -> int:
        """ceil(missing / keep_rate), the keep rate measured so far this step (floored)."""
        missing = max(wanted_groups - kept_groups, 0)
        rate = kept_groups / generated_groups if generated_groups else 1.0
        return math.ceil(missing / max(rate, self.min_keep_rate))


# "srpo" is accepted as another name of "history" (the config's spelling).
RESAMPLERS = {"history": HistoryResampling, "srpo": HistoryResampling, "none": Resampler,
              "dapo": DynamicSampling}


def make_resampler(name: str, **options) -> Resampler:
    """A strategy by name: "history" or "srpo" (SRPO), "none" (GRPO), "dapo" (DAPO)."""
    if name not in RESAMPLERS:
        raise ValueError(f"unknown resampling strategy {name!r}; choose from {sorted(RESAMPLERS)}")
    return RESAMPLERS[name](**options)


def resampler_from_config(resampling, seed: int = 0) -> Resampler:
    """The strategy named by a `ResamplingConfig` (strategy, readmit_after_epochs,
    readmit_prob, dapo_max_rounds), seeded with the run's seed."""
    options = {"history": {"readmit_after_epochs": resampling.readmit_after_epochs,
                           "readmit_prob": resampling.readmit_prob},
               "dapo": {"max_extra_rounds": resampling.dapo_max_rounds}}
    strategy = RESAMPLERS.get(resampling.strategy)
    return make_resampler(resampling.strategy, seed=seed,
                          **options.get(getattr(strategy, "name", None), {}))


def select_group_rows(keep, group_size: int, max_groups: int | None = None) -> torch.Tensor:
    """Row indices of the first `max_groups` kept groups: (K*G,) long, K <= max_groups.

    keep: (N,) bool from `filter_groups` (whole groups). DAPO trims the refill surplus so
    the batch has exactly the wanted number of groups.
    """
    group_keep = torch.as_tensor(_as_list(keep), dtype=torch.bool).view(-1, group_size)[:, 0]
    groups = group_keep.nonzero().flatten()[:max_groups]                      # (K,)
    return (groups[:, None] * group_size + torch.arange(group_size)).flatten()


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
        if self.drop_last and len(self.order) >= self.batch_size:
            self.order = self.order[: len(self.order) // self.batch_size * self.batch_size]
        self.resampler.epoch_stats[-1].epoch_length = len(self.order)
        self.position = 0

    def _epoch_order(self, active: list[str]) -> list[str]:
        if self.mixture is None:
            order = list(active)
            self._rng.shuffle(order)
            return order
        by_domain = {d: [pid for pid in active if self.problems[pid].domain == d]
                     for d in self.domains}
        weights = {d: w for d, w in self.mixture.items() if w > 0 and by_domain[d]}
        total = sum(weights.values())
        if not weights:
            return []
        length = max(math.floor(len(by_domain[d]) * total / w) for d, w in weights.items())
        keyed = []
        for rank, (d, w) in enumerate(weights.items()):
            count = max(1, round(w / total * length))
            chosen = []
            while len(chosen) < count:  # fresh shuffles back to back, the last one cut
                chosen += self._rng.sample(by_domain[d], len(by_domain[d]))
            chosen = chosen[:count]
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
                "rng": _rng_state(self._rng), "resampler": self.resampler.state_dict()}

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
        _set_rng_state(self._rng, state["rng"])
        self.resampler.load_state_dict(state["resampler"])


class LedgerWriter:
    """Appends history-ledger rows to a JSONL file, one row per observed group.

    resume_rows: None starts a new file; an int (the `rows` stored in a checkpoint) keeps
    that many rows and discards any written after the checkpoint, so a resumed run's
    ledger equals an uninterrupted run's.
    """

    def __init__(self, path: str | Path, *, resume_rows: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if resume_rows is not None and self.path.exists():
            kept = self.path.read_text(encoding="utf-8").splitlines(keepends=True)[:resume_rows]
            if len(kept) < resume_rows:
                raise ValueError(f"{self.path}: {len(kept)} ledger rows, checkpoint expects "
                                 f"{resume_rows}")
        self.path.write_text("".join(kept), encoding="utf-8")
        self.rows = len(kept)

    def write(self, rows: Sequence[dict]) -> None:
        """Append `rows` (dicts with LEDGER_FIELDS) and flush."""
        write_ledger(self.path, rows)
        self.rows += len(rows)


def write_ledger(path: str | Path, rows: Sequence[dict]) -> None:
    """Append ledger rows to a JSONL file (created if absent).

    Each row needs LEDGER_FIELDS, written first; extra keys a caller adds (e.g. the
    trainer's `step`) follow.
    """
    for row in rows:   # check all before writing any, so the file stays whole
        missing = [k for k in LEDGER_FIELDS if k not in row]
        if missing:
            raise ValueError(f"ledger row {row} lacks {missing}")
    with Path(path).open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({**{k: row[k] for k in LEDGER_FIELDS}, **row}) + "\n")


def read_ledger(path: str | Path, *, skip_torn: bool = False) -> list[dict]:
    """All rows of a ledger file.

    A line that is not a JSON object with every LEDGER_FIELDS key raises ValueError naming
    the file and line; with `skip_torn=True` such lines are skipped instead (plots of a run
    that is still writing, or was killed mid-line).
    """
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict) and all(k in row for k in LEDGER_FIELDS):
                rows.append(row)
            elif not skip_torn:
                raise ValueError(f"{path}, line {number}: not a ledger row (a JSON object "
                                 f"with {', '.join(LEDGER_FIELDS)})")
    return rows
