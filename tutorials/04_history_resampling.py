# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 4 — History resampling
#
# A group whose G rewards are all equal has advantage zero in every row (chapter 1): its
# rollouts were generated, verified, scored by a forward and a backward pass, and moved
# the parameters by exactly nothing. This chapter
#
# 1. measures that waste on real rollouts of the tiny base model;
# 2. shows SRPO's answer, history resampling: record each prompt's outcomes during an
#    epoch, and at the epoch boundary drop the prompts that were *all correct* while
#    keeping the *all wrong* ones;
# 3. compares its cost with DAPO's dynamic sampling, which filters inside every batch and
#    generates more prompts to refill it.
#
# All three strategies live behind one interface in `srpo_mini.resampling`
# (`Resampler` = none / vanilla GRPO, `HistoryResampling` = srpo, `DynamicSampling` =
# dapo); the `PromptPool` serves the prompts and asks its strategy at each epoch
# boundary which prompts make up the next epoch, and `collect_groups` is one step's
# collection phase, the same function the trainer calls.

# %%
import random
import time

import torch

from srpo_mini.base import ensure_tiny_base
from srpo_mini.config import get_preset
from srpo_mini.data.synthetic import make_tiny_world
from srpo_mini.grpo import group_advantages
from srpo_mini.model import load_model
from srpo_mini.prompts import format_completion, render_prompt
from srpo_mini.resampling import (
    DynamicSampling,
    HistoryResampling,
    PromptPool,
    Resampler,
    collect_groups,
)
from srpo_mini.rewards import compute_rewards
from srpo_mini.sampler import generate_rollouts

torch.set_num_threads(1)
chapter_start = time.perf_counter()

# %% [markdown]
# ## 1. Zero-advantage waste on real rollouts
#
# The tiny base model (`srpo_mini.base.ensure_tiny_base`: a small Qwen2 given a short cold
# start that answers most sums directly and works the others out; shipped with the
# package, or built in a few minutes on a laptop CPU) samples G completions for each of B
# maths problems of the tiny world's train split, with the default run's settings (`tiny`
# preset). The rewards
# come from the real verifier (`srpo_mini.rewards.compute_rewards`), the advantages from
# `group_advantages`. The cell prints how the groups split into all-correct, mixed and
# all-wrong, and which share of the rollouts and of the generated tokens got advantage
# exactly zero.

# %%
preset = get_preset("tiny")
G, B = preset.sampling.group_size, 32
model, tokenizer = load_model(ensure_tiny_base(progress=False), device="cpu",
                              dtype=torch.float32)
model.eval()
world = make_tiny_world(seed=0)
problems = world.train["math"][:B]           # round-robin over levels: every level present
prompts = [render_prompt(p, preset.model.template, tokenizer) for p in problems]

start = time.perf_counter()
rollout = generate_rollouts(model, tokenizer, prompts, group_size=G,
                            max_new_tokens=preset.sampling.max_new_tokens,
                            temperature=preset.sampling.temperature, seed=0)
scores = compute_rewards(problems, rollout.texts, truncated=rollout.truncated,
                         completion_lengths=rollout.completion_lengths)
advantages = group_advantages(scores.rewards, G)
print(f"{B} prompts x G={G} rollouts in {time.perf_counter() - start:.1f} s; "
      f"accuracy {scores.correct.float().mean():.3f}")

correct_per_group = scores.correct.view(B, G).sum(dim=1)            # (B,)
kinds = {"all correct": correct_per_group == G,
         "mixed": (correct_per_group > 0) & (correct_per_group < G),
         "all wrong": correct_per_group == 0}
for kind, groups in kinds.items():
    print(f"  {kind:12s} {int(groups.sum()):3d} groups")
zero = advantages == 0                                               # (B*G,)
tokens = rollout.completion_lengths.float()
print(f"rollouts with zero advantage: {zero.float().mean():.1%}")
print(f"generated tokens in them:     {tokens[zero].sum() / tokens.sum():.1%}")

# %% [markdown]
# Which kind of group dominates the waste depends on the model: early in training most
# zero-advantage groups are all wrong (the problems are out of reach), late in training
# most are all correct (the problems are mastered). The two call for opposite treatment,
# which is the point of SRPO's rule: an all-correct prompt will keep producing nothing,
# while an all-wrong prompt may become solvable and then produce the most useful
# gradients of all.
#
# The cell hands these real outcomes to `HistoryResampling` as one epoch's history and
# prints what the epoch boundary does with them.

# %%
pool = PromptPool(problems, HistoryResampling(seed=0), batch_size=B, seed=0)
pool.set_stage("math", ["math"])
served = pool.next_prompts()                         # the whole epoch is one batch here
by_id = dict(zip([p.id for p in problems], scores.correct.view(B, G)))
pool.resampler.observe([p.id for p in served], torch.cat([by_id[p.id] for p in served]), G)
pool.next_prompts()                                  # exhausted: the boundary rebuilds
stats = pool.resampler.epoch_stats[-1]
print(f"epoch {stats.epoch}: pool {stats.pool_size} of {B} prompts; dropped (all correct) "
      f"{stats.dropped_easy}, kept mixed {stats.kept_mixed}, kept all wrong "
      f"{stats.kept_all_wrong}")

# %% [markdown]
# ## 2. The pool over several epochs
#
# To watch the pool shrink over epochs we need a policy that improves. Training the
# tiny model long enough for that is chapter 6's job; here a *scripted* policy stands in,
# so that the mechanism can be seen in seconds. It writes each completion in one of the
# two habits the tiny base was given: worked out as running sums (right 98% of the time,
# the model's own slips aside) or answered directly (right 70% of the time on a two-term
# sum, 5% on longer ones, which a tiny model cannot add in one token). A wrong answer is
# off by one. The share of worked-out completions grows with training, the easy levels
# first, as RL teaches the model that working it out pays:
#
#     work(level, step) = clip(0.4 + 0.05 * step - 0.2 * (level - 1), 0, 1)
#
# so level-1 problems are soon solved every time, and level-4 and level-5 problems start
# out almost never solved and become solvable later. Every completion is judged by the
# real verifier. The loop below is the trainer's step (`Run.step`, stages 1–4) without
# the model: pick prompts, then `collect_groups` samples, verifies and records the history
# (the scripted policy returns rewards and no rollout batch, hence the `None`).

# %%
def scripted_completion(worked, step, rng):
    """One completion of the scripted policy: worked out or direct, right or off by one."""
    level = worked.problem.difficulty
    work = min(1.0, max(0.0, 0.4 + 0.05 * step - 0.2 * (level - 1)))
    worked_out = rng.random() < work
    right = rng.random() < (0.98 if worked_out else 0.7 if level == 1 else 0.05)
    answer = worked.answer if right else rng.choice(worked.slips)
    return format_completion(worked.reasoning if worked_out else "", answer)


def scripted_rollouts(batch, step, rng):
    """G completions per problem from the scripted policy, verified for real:
    (no rollout batch, RewardBatch), as `collect_groups` expects of its sampler."""
    texts = [scripted_completion(world.worked[problem.id], step, rng)
             for problem in batch for _ in range(G)]
    return None, compute_rewards(batch, texts)


pool_problems = world.train["math"][:40]              # 8 problems of each of the 5 levels
B_POOL = 8
rng = random.Random(0)
pool = PromptPool(pool_problems, HistoryResampling(seed=0), batch_size=B_POOL, seed=0)
pool.set_stage("math", ["math"])
step = 0
while pool.epoch < 6:
    batch = pool.next_prompts()
    collect_groups(batch, pool, lambda problems, round_: scripted_rollouts(problems, step, rng),
                   group_size=G)
    step += 1
print(f"{'epoch':>5} {'pool':>5} {'steps':>6} {'dropped':>8} {'mixed':>6} {'all wrong':>10} "
      f"{'unseen':>7}")
for stats in pool.resampler.epoch_stats:
    print(f"{stats.epoch:5d} {stats.pool_size:5d} {stats.epoch_length // B_POOL:6d} "
          f"{stats.dropped_easy:8d} {stats.kept_mixed:6d} {stats.kept_all_wrong:10d} "
          f"{stats.kept_unseen:7d}")
levels_left = sorted(pool.problems[pid].difficulty for pid in pool.order)
print("levels of the prompts in the last epoch:", levels_left)

# %% [markdown]
# Read the table row by row: `dropped` counts the prompts removed at that boundary
# because all their rollouts in the epoch before were correct; `all wrong` counts prompts
# kept although nothing was solved; `unseen` counts prompts with no history yet (the
# first epoch, and prompts cut from the previous epoch to make whole batches of B).
# The pool — and with it the generation cost of an epoch — shrinks towards the problems
# that still teach something, while the hardest levels stay in it until the policy can
# solve them.
#
# ## 3. Cost against DAPO dynamic sampling and vanilla GRPO
#
# Same scripted policy, same pool, same number of training steps, three strategies:
#
# * **none** (vanilla GRPO): trains on every group, zero-advantage ones included;
# * **srpo** (history resampling): trains on every group of the current pool; the pool
#   shrinks at epoch boundaries;
# * **dapo** (DAPO): drops the groups whose rewards all match from *this* batch and
#   samples more prompts to refill it (`refill_size` estimates how many from the keep rate
#   so far, at most `max_extra_rounds` extra rounds); the pool itself never changes.
#
# Each step calls `collect_groups`, as `Run.step` does (stages 2–4), including DAPO's
# refill rounds and the trim of the surplus, so the batch has at most B groups. The
# cell prints, per strategy, the rollouts generated, the groups trained on, how many of
# those had a learning signal, and the rollouts generated per informative group — the
# price of one useful group.

# %%
def run_strategy(resampler, steps=30, seed=0):
    rng = random.Random(seed)
    pool = PromptPool(pool_problems, resampler, batch_size=B_POOL, seed=seed)
    pool.set_stage("math", ["math"])
    generated = trained = informative = 0
    for step in range(steps):
        # 1. pick prompts; 2. sample, 3. verify, 4. record history (and DAPO's filter)
        batch = collect_groups(pool.next_prompts(), pool,
                               lambda problems, round_: scripted_rollouts(problems, step, rng),
                               group_size=G)
        # 5. advantages of what is trained on
        trained_advantages = group_advantages(batch.rewards.rewards, G).view(-1, G)
        generated += len(batch.generated_rewards.rewards)
        trained += trained_advantages.shape[0]
        informative += int((trained_advantages.abs().sum(dim=1) > 0).sum())
    return {"generated": generated, "trained": trained, "informative": informative,
            "epochs": pool.epoch}


results = {"none": run_strategy(Resampler(seed=0)),
           "srpo": run_strategy(HistoryResampling(seed=0)),
           "dapo": run_strategy(DynamicSampling(seed=0, max_extra_rounds=3))}
print(f"{'strategy':9s} {'rollouts':>9s} {'groups trained':>15s} {'informative':>12s} "
      f"{'rollouts per informative group':>31s}")
for name, r in results.items():
    per_group = r["generated"] / max(r["informative"], 1)
    print(f"{name:9s} {r['generated']:9d} {r['trained']:15d} {r['informative']:12d} "
          f"{per_group:31.1f}")

# %% [markdown]
# How to read it:
#
# * **none** generates one batch per step and trains on all of it, zero-advantage groups
#   included: the gap between its "groups trained" and "informative" columns.
# * **dapo** trains only on informative groups, by construction, and pays in the
#   "rollouts" column: every filtered group was generated and thrown away, the all-wrong
#   ones included, every time they come up.
# * **srpo** generates one batch per step like none (a smaller one once the pool
#   holds fewer than B prompts), but from a pool that no longer serves mastered prompts;
#   it never filters inside a batch, so groups that turn out all-correct during an epoch
#   are still trained on (with zero advantage) before the boundary removes their prompts.
#
# Which costs least per useful group depends on how fast prompts become mastered and how
# many stay out of reach, which is why the trainer logs `zero_std_fraction`,
# `generated_tokens` and the pool statistics at every step (chapter 6), and why the plots
# put training curves against generated tokens rather than steps.

# %% [markdown]
# ## 4. In full training runs
#
# The scripted policy does not learn, so it cannot say what the strategies cost when the
# policy improves under them. `benchmarks/bench_training.py resampling` trains the tiny base
# for the 120 maths steps of stage 1 with each strategy, five seeds each, evaluates every
# 10 steps and records when held-out maths pass@1 first reaches the base's + 0.30, and how
# many tokens had been generated by then (BENCHMARKS.md gives the command). The cell
# reads that record and prints, per strategy, the medians over seeds: tokens and steps to
# the target, the ratio of tokens to GRPO's (seed by seed), the share of zero-std groups
# over the second half of the stage (before DAPO's filter) and the final pass@1.

# %%
import json
import statistics
from pathlib import Path

record = json.loads(Path("benchmarks/results/tiny_world_v4/training_resampling.json").read_text())
grpo = {run["seed"]: run["to_target"] for run in record["runs"]["none"]}
print(f"target: held-out maths pass@1 >= {record['target']:.3f}")
for name, runs in record["runs"].items():
    reached = [run for run in runs if run["to_target"]]
    ratios = [run["to_target"][1] / grpo[run["seed"]][1] for run in reached
              if grpo.get(run["seed"])]
    print(f"{name:5s} seeds {len(runs)}, reached {len(reached)}: "
          f"tokens to target {statistics.median(r['to_target'][1] for r in reached):9,.0f} "
          f"(steps {statistics.median(r['to_target'][0] for r in reached):3.0f}), "
          f"ratio to GRPO {statistics.median(ratios):.2f}, "
          f"zero-std 2nd half {statistics.median(r['zero_std_late'] for r in runs):.2f}, "
          f"final pass@1 {statistics.median(r['curve'][-1][2] for r in runs):.3f}")

# %% [markdown]
# How to read it. The regime the paper describes is there: under GRPO about 40% of the
# groups in the second half of the stage have identical rewards, and history resampling
# cuts that to about a quarter. Yet SRPO reaches the target for about the same number of
# tokens as GRPO, and DAPO for more. The first epoch is the same for SRPO and GRPO (there
# is no history yet); after it, the prompts SRPO drops are the solved ones, here the
# two-term sums, which are also the cheapest to generate, so the pool it keeps asks for
# longer worked answers and each of its steps costs more tokens while gaining about as
# much. History resampling saves steps spent on zero-advantage groups, not tokens, unless
# the solved prompts are as expensive as the rest: BENCHMARKS.md gives the full table.

# %% [markdown]
# ## 5. When it pays: the share of easy prompts
#
# If dropping cheap solved prompts is what cancels the saving, the saving should appear
# when solved prompts are most of the pool. `data.easy_share` sets the share of two-term
# sums in the maths pool (0.5 by default; at most 0.77, the easy level's 462 distinct
# training problems). `bench_training.py sweep` repeats the SRPO / GRPO comparison at
# several shares, five seeds each; the cell reads its record and prints, per share, the
# zero-std fraction of both over the second half of the stage, SRPO / GRPO tokens to the
# target seed by seed (median and range) and the steps to it.

# %%
sweep = json.loads(Path("benchmarks/results/tiny_world_v4/training_sweep.json").read_text())
for share, entry in sweep["shares"].items():
    runs = entry["runs"]
    zero_std = {name: statistics.median(r["zero_std_late"] for r in runs[name])
                for name in ("none", "srpo")}
    steps = {name: statistics.median(r["to_target"][0] for r in runs[name] if r["to_target"])
             for name in ("none", "srpo")}
    print(f"easy share {float(share):.2f}: seeds {len(entry['ratios'])}, "
          f"zero-std GRPO {zero_std['none']:.2f} SRPO {zero_std['srpo']:.2f}, "
          f"tokens SRPO/GRPO {statistics.median(entry['ratios']):.2f} "
          f"({min(entry['ratios']):.2f}-{max(entry['ratios']):.2f}), "
          f"steps to target SRPO {steps['srpo']:.0f} GRPO {steps['none']:.0f}")

# %% [markdown]
# How to read it. GRPO's zero-std fraction climbs with the easy share, from under a
# quarter to nearly a half of the groups, and history resampling keeps it near a quarter
# at every share. The tokens follow only at the top: up to half the pool easy, SRPO costs
# what GRPO costs (a single seed can land 0.2-0.3 either side, one evaluation interval);
# with three quarters easy it needs about 0.9x GRPO's tokens and reaches the target
# sooner. Skipping solved prompts pays when they are most of each epoch, which is the
# paper's mid-to-late regime; in this world it never comes near 0.67x of GRPO's tokens,
# the goal this experiment was set.

# %%
print(f"chapter time: {time.perf_counter() - chapter_start:.0f} s")
print("chapter 4 done")
