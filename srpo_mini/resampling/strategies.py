"""Resampling strategies: SRPO's history resampling and two baselines behind one interface.

Every strategy records each group's outcome under its prompt (`observe`) and is asked at
each epoch boundary which prompts make up the next epoch (`rebuild`). With n_p rollouts
of prompt p in an epoch and c_p of them correct, history resampling (SRPO) drops p when

    c_p == n_p > 0       all correct: every advantage (r - mean) / std of its groups is 0

and keeps mixed, all-wrong (a curriculum: they may become solvable) and unseen prompts.
DAPO's dynamic sampling keeps the pool whole and, inside each batch, keeps a group of G
rewards only if max(r) - min(r) > atol, refilling the batch with more prompts. `none`
(vanilla GRPO) filters nothing. How epochs and refills are counted: docs/resampling.md.

Reference: SRPO (arXiv 2504.14286), "History Resampling"; DAPO (arXiv 2503.14476)
section 3.2, "Dynamic Sampling".

Differences from the paper:
- A dropped prompt may be re-admitted after `readmit_after_epochs` epochs, or at each
  boundary with probability `readmit_prob` (beyond the paper; both off by default).
- If a rebuild would leave a stage with no prompt, every dropped prompt of the stage is
  re-admitted and the epoch's stats say `all_solved` (the schedule's `end` rule reads it).
- A prompt counts as correct by its verifier (`correct`), not by the shaped reward, so
  format or length terms cannot make an unsolved prompt look easy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch


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


def rng_state(rng: random.Random) -> list:
    """`random.Random` state as JSON-friendly lists."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


class Resampler:
    """The interface, and the `none` strategy (vanilla GRPO): nothing is ever filtered.

    Every strategy records per-prompt outcomes (`observe`), returns ledger rows and reports
    per-epoch stats, so runs with different strategies can be compared on the same terms.
    """

    name = "none"
    max_extra_rounds = 0

    def __init__(self, seed: int = 0):
        self.epoch = 0
        self.stage: str | int | None = None
        self.epoch_stats: list[EpochStats] = []
        self._tally: dict[str, list[int]] = {}     # prompt id -> [correct, rollouts], this epoch
        self._rng = random.Random(seed)

    # --- during an epoch -------------------------------------------------------------
    def observe(self, problem_ids: Sequence[str], correct, group_size: int, *,
                step: int | None = None) -> list[dict]:
        """Record the outcomes of B groups.

        problem_ids: B prompt ids; correct: (B*G,) bools, or 0/1 floats (a value counts as
        correct when >= 1), row i*G + j belonging to problem_ids[i]; step: the training
        step, written into the ledger rows when given. Returns the B ledger rows
        {prompt_id, epoch, stage, correct (count of G), group_size[, step]}.
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
            row = {"prompt_id": prompt_id, "epoch": self.epoch, "stage": self.stage,
                   "correct": n_correct, "group_size": group_size}
            rows.append(row if step is None else {**row, "step": step})
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
                "epoch_stats": [asdict(s) for s in self.epoch_stats],
                "rng": rng_state(self._rng)}

    def load_state_dict(self, state: dict) -> None:
        # Checkpoints written before the strategy took the config's name call SRPO
        # "history"; their "pending_rows" were always empty (the caller took them at once).
        name = "srpo" if state["name"] == "history" else state["name"]
        if name != self.name:
            raise ValueError(f"resampler state is for {name!r}, not {self.name!r}")
        self.epoch, self.stage = state["epoch"], state["stage"]
        self._tally = {k: list(v) for k, v in state["tally"].items()}
        self.epoch_stats = [EpochStats(**s) for s in state["epoch_stats"]]
        set_rng_state(self._rng, state["rng"])


class HistoryResampling(Resampler):
    """SRPO: at each epoch boundary drop the prompts whose rollouts were all correct.

    readmit_after_epochs: a dropped prompt is back after this many epochs out (None: never).
    readmit_prob: at each boundary each dropped prompt is back with this probability.
    Both are options beyond the paper (off by default): a model can forget.
    """

    name = "srpo"

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


RESAMPLERS = {"srpo": HistoryResampling, "none": Resampler, "dapo": DynamicSampling}


def make_resampler(name: str, **options) -> Resampler:
    """A strategy by name: "srpo" (history resampling), "none" (GRPO), "dapo" (DAPO)."""
    if name not in RESAMPLERS:
        renamed = " ('history' is now called 'srpo')" if name == "history" else ""
        raise ValueError(f"unknown resampling strategy {name!r}{renamed}; choose from "
                         f"{sorted(RESAMPLERS)}")
    return RESAMPLERS[name](**options)


def resampler_from_config(resampling, seed: int = 0) -> Resampler:
    """The strategy named by a `ResamplingConfig` (strategy, readmit_after_epochs,
    readmit_prob, dapo_max_rounds), seeded with the run's seed."""
    options = {"srpo": {"readmit_after_epochs": resampling.readmit_after_epochs,
                        "readmit_prob": resampling.readmit_prob},
               "dapo": {"max_extra_rounds": resampling.dapo_max_rounds}}
    return make_resampler(resampling.strategy, seed=seed,
                          **options.get(resampling.strategy, {}))
