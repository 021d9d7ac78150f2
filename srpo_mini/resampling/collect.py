"""One step's collection phase: sample, verify, observe, filter, refill, merge.

`collect_groups` turns the step's prompts into the batch the update trains on. Every
generated group is observed (the history and the ledger see it); the strategy's filter
keeps whole groups, and while it wants more (DAPO) further prompts are drawn from the pool
and sampled in refill rounds. The kept groups of all rounds are merged, in order, and
trimmed to at most B:

    batch = first B kept groups of  round 0 + round 1 + ... + round R,   R <= max_extra_rounds

For `srpo` and `none` the filter keeps everything and R = 0, so the batch is exactly the
step's B groups. The trainer's `Run.step` and tutorial 4 both call it.

Reference: DAPO (arXiv 2503.14476) section 3.2 and Algorithm 1 ("Dynamic Sampling":
over-sample and filter until the batch is full); SRPO (arXiv 2504.14286), "History
Resampling" (every rollout recorded).

Differences from the paper:
- DAPO samples until the batch is full; here at most `max_extra_rounds` refill rounds
  run, then the step trains on the groups it has (possibly none).
- A refill asks for ceil(missing / keep rate so far) prompts (`DynamicSampling.refill_size`)
  rather than a fixed generation batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..rewards import RewardBatch, concat_reward_batches
from ..sampler import RolloutBatch, concat_rollouts
from .pool import PromptPool


@dataclass
class CollectedGroups:
    """The groups a step trains on, and what collecting them cost.

    rollout: the trained rows, at most B whole groups; None when `sample` returns no
        rollouts (a scripted policy that only scores texts, as in tutorial 4).
    rewards: the trained rows' rewards, row for row with `rollout`.
    generated_rewards: every generated row's rewards, refill rounds and filtered groups
        included.
    refill_rounds: extra generation rounds (DAPO; 0 for the other strategies).
    dropped_groups: generated groups left out of the batch (DAPO's filter and trim).
    ledger_rows: one finished ledger row per generated group, in generation order.
    """

    rollout: RolloutBatch | None
    rewards: RewardBatch
    generated_rewards: RewardBatch
    refill_rounds: int
    dropped_groups: int
    ledger_rows: list[dict]


def select_group_rows(keep, group_size: int, max_groups: int | None = None) -> torch.Tensor:
    """Row indices of the first `max_groups` kept groups: (K*G,) long, K <= max_groups.

    keep: (N,) bool from `filter_groups` (whole groups). DAPO trims the refill surplus so
    the batch has exactly the wanted number of groups.
    """
    group_keep = torch.as_tensor(keep, dtype=torch.bool).view(-1, group_size)[:, 0]   # (N/G,)
    groups = group_keep.nonzero().flatten()[:max_groups]                               # (K,)
    return (groups[:, None] * group_size + torch.arange(group_size)).flatten()       # (K*G,)


Sample = Callable[[Sequence, int], tuple[RolloutBatch | None, RewardBatch]]


def collect_groups(problems: Sequence, pool: PromptPool, sample: Sample, *, group_size: int,
                   step: int | None = None) -> CollectedGroups:
    """Sample, verify and observe `problems`; refill and merge as the pool's strategy says.

    problems: the step's prompts, from `pool.next_prompts()`.
    pool: where they came from; its resampler observes every group, and refill rounds
        draw more prompts from it (never across an epoch boundary).
    sample: (problems, round) -> (rollout, rewards) with G completions per problem, row
        i*G + j answering problems[i]; round is 0 for the step's prompts, then 1, 2, ...
    group_size: G.
    step: the training step, written into the ledger rows (None: no step).
    Returns the merged batch, at most `pool.batch_size` groups (B).
    """
    resampler, G, B = pool.resampler, group_size, pool.batch_size
    rollouts, scored, keeps, ledger_rows = [], [], [], []
    generated_groups = kept_groups = 0
    while True:
        rollout, rewards = sample(problems, len(rollouts))
        ledger_rows += resampler.observe([p.id for p in problems], rewards.correct, G, step=step)
        keep = resampler.filter_groups(rewards.rewards, G)   # (n*G,); all True but for dapo
        rollouts.append(rollout)
        scored.append(rewards)
        keeps.append(keep)
        generated_groups += len(problems)
        kept_groups += int(keep.sum()) // G
        if not resampler.needs_more(kept_groups, B, len(rollouts) - 1):
            break
        problems = pool.next_prompts(resampler.refill_size(kept_groups, generated_groups, B))

    generated_rewards = concat_reward_batches(scored)
    rows = select_group_rows(torch.cat(keeps), G, max_groups=B)   # DAPO trims the surplus
    rollout = concat_rollouts(rollouts).select(rows) if rollouts[0] is not None else None
    return CollectedGroups(rollout=rollout, rewards=generated_rewards.select(rows),
                           generated_rewards=generated_rewards,
                           refill_rounds=len(rollouts) - 1,
                           dropped_groups=generated_groups - len(rows) // G,
                           ledger_rows=ledger_rows)
