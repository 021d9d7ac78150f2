# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 5 — The two-stage schedule
#
# ## Why maths first
#
# SRPO trains on two domains whose rewards shape reasoning differently. Maths problems
# with a single checkable answer reward *thinking longer*: re-checking a step,
# backtracking, trying another route. Code problems, trained from the start alongside
# maths, reward getting a program out, and the SRPO authors observed that mixing them
# from step one gave shorter responses and weaker reflection than training maths alone.
# So SRPO splits training in two:
#
# * **stage 1** — maths only, until the model has the habit of long, self-checking chains
#   of thought;
# * **stage 2** — maths and code together, so the reasoning habit carries over to code
#   while maths keeps it alive.
#
# The paper switches stages by hand. `srpo_mini/schedule.py` makes the switch a rule,
# part of the run's state (it is checkpointed like everything else), with four rules:
#
#     steps     after `steps` steps in the stage
#     epochs    after `epochs` full passes over the stage's prompt pool
#     plateau   when the moving average of the training reward stops rising
#     end       last stage only: when history resampling has solved every prompt
#
# plus a `max_steps` cap that any rule obeys. This chapter feeds one reward sequence to
# each rule and prints where it switches.

# %%
import json

import torch

from srpo_mini.config import ConfigError, apply_overrides, get_preset, validate
from srpo_mini.data.schema import Problem
from srpo_mini.resampling import HistoryResampling, PromptPool
from srpo_mini.schedule import StageConfig, StageSchedule, default_stages

torch.set_num_threads(1)

# %% [markdown]
# ## A reward sequence
#
# The rules only read the step count, the epoch count, the mean reward of each step and
# whether the pool is solved. A training curve that rises and flattens, with noise, is
# enough to exercise them: `reward_t = 0.2 + 0.5 (1 - exp(-t / 6)) + noise`, generated
# with a fixed seed. The cell prints it every fifth step.

# %%
generator = torch.Generator().manual_seed(0)
STEPS = 60
t = torch.arange(1, STEPS + 1, dtype=torch.float32)
rewards = (0.2 + 0.5 * (1 - torch.exp(-t / 6)) + 0.03 * torch.randn(STEPS, generator=generator))
rewards = rewards.tolist()
print("step   " + " ".join(f"{s:5d}" for s in range(5, STEPS + 1, 5)))
print("reward " + " ".join(f"{rewards[s - 1]:5.2f}" for s in range(5, STEPS + 1, 5)))

STEPS_PER_EPOCH = 8     # e.g. a pool of 64 prompts served 8 per step


def run_schedule(first_stage: StageConfig):
    """Feed the reward sequence to a two-stage schedule; return (schedule, switch step)."""
    schedule = StageSchedule([first_stage,
                              StageConfig("math+code", ["math", "code"],
                                          {"math": 0.5, "code": 0.5}, switch="steps", steps=10)])
    for step in range(1, STEPS + 1):
        switched = schedule.update(step, epoch=step // STEPS_PER_EPOCH,
                                   reward=rewards[step - 1])
        if switched:
            return schedule, step
    return schedule, None


# %% [markdown]
# ## The `steps`, `epochs` and `plateau` rules
#
# The same first stage (maths) under each rule. For the plateau rule the moving average
# covers W = 5 steps and must rise by at least 0.02 above its best within 5 checks; a
# `max_steps` cap of 40 is required for it (a plateau may never come). The cell prints,
# per rule, the step at which the schedule moved to stage 2, and the `switches` record
# the schedule keeps (it goes into every checkpoint).

# %%
RULES = {
    "steps=30": StageConfig("math", ["math"], switch="steps", steps=30),
    "epochs=3": StageConfig("math", ["math"], switch="epochs", epochs=3),
    "plateau W=5": StageConfig("math", ["math"], switch="plateau", plateau_window=5,
                               plateau_min_delta=0.02, max_steps=40),
    "plateau, cap 12": StageConfig("math", ["math"], switch="plateau", plateau_window=5,
                                   plateau_min_delta=0.02, max_steps=12),
}
for label, stage in RULES.items():
    schedule, switch_step = run_schedule(stage)
    print(f"{label:16s} switched at step {switch_step}:  {schedule.switches}")

# %% [markdown]
# ## Inside the plateau rule
#
# Precisely (from the module docstring): from step W on, each step computes the W-step
# moving average m_t; if it beats the best so far by more than `min_delta` it becomes the
# new best and the count of bad checks resets, otherwise the count grows; the stage ends
# when the count reaches the patience (W by default). The cell replays the plateau stage
# and prints the rule's own state after each step from W on, so the switch can be traced.

# %%
schedule = StageSchedule([RULES["plateau W=5"],
                          StageConfig("math+code", ["math", "code"], switch="steps", steps=10)])
for step in range(1, STEPS + 1):
    switched = schedule.update(step, step // STEPS_PER_EPOCH, rewards[step - 1])
    rule = schedule.rule
    if switched:
        print(f"step {step:2d}: switched to {schedule.current_stage.name!r}")
        break
    if len(rule.recent) == rule.window:
        moving_average = sum(rule.recent) / rule.window
        print(f"step {step:2d}: moving average {moving_average:.3f}  best {rule.best:.3f}  "
              f"bad checks {rule.bad_checks}")

# %% [markdown]
# ## The `end` rule: stop when history resampling has solved everything
#
# The last stage can end when nothing is left to learn from: history resampling drops
# every prompt whose rollouts were all correct (chapter 4), and when a rebuild would
# leave the pool empty the pool re-admits everything and reports `all_solved`. Below, a
# pool of 8 stand-in problems (difficulty 0 to 7), B = 4, G = 4, and a policy whose
# skill grows by two difficulty levels per epoch: a prompt at or below the skill level is
# solved by all 4 rollouts, a prompt above it by half of them. The cell prints the pool
# at each epoch boundary and the step at which the schedule says the run is done.

# %%
problems = [Problem(id=f"p{level}", domain="math", prompt=f"problem {level}", answer="0",
                    difficulty=level) for level in range(8)]
pool = PromptPool(problems, HistoryResampling(seed=0), batch_size=4, seed=0)
schedule = StageSchedule([StageConfig("math", ["math"], switch="end", max_steps=100)])
pool.set_stage(schedule.current_stage.name, schedule.current_stage.domains)
G = 4
step = 0
while not schedule.done:
    batch = pool.next_prompts()
    skill = pool.epoch * 2                       # two levels more per epoch
    correct = []
    for problem in batch:
        solved = G if problem.difficulty <= skill else G // 2
        correct += [1.0] * solved + [0.0] * (G - solved)
    pool.resampler.observe([p.id for p in batch], correct, G)
    step += 1
    schedule.update(step, pool.epochs_completed, sum(correct) / len(correct),
                    all_solved=pool.all_solved)
    if pool.position == len(batch) or schedule.done:   # the first batch of an epoch
        stats = pool.resampler.epoch_stats[-1]
        print(f"step {step:2d} epoch {pool.epoch}: pool {stats.pool_size} prompts, "
              f"dropped so far {stats.dropped_total}, all_solved={stats.all_solved}")
print(f"the run is done after step {step} (schedule.done={schedule.done})")

# %% [markdown]
# ## The schedule is part of the checkpoint
#
# A resumed run must switch at the same step as an uninterrupted one, so the rule's
# state (for the plateau rule: the recent rewards, the best average, the bad-check
# count) is saved with `state_dict()` and restored with `load_state_dict()`. The cell
# stops the plateau schedule halfway, sends its state through JSON (as a checkpoint
# does), restores it into a fresh schedule and continues: the switch step printed must
# equal the uninterrupted one above.

# %%
def plateau_schedule():
    return StageSchedule([RULES["plateau W=5"],
                          StageConfig("math+code", ["math", "code"], switch="steps", steps=10)])


first_half = plateau_schedule()
for step in range(1, 13):
    first_half.update(step, step // STEPS_PER_EPOCH, rewards[step - 1])
saved = json.loads(json.dumps(first_half.state_dict()))
resumed = plateau_schedule()
resumed.load_state_dict(saved)
for step in range(13, STEPS + 1):
    if resumed.update(step, step // STEPS_PER_EPOCH, rewards[step - 1]):
        break
uninterrupted = run_schedule(RULES["plateau W=5"])[1]
print(f"resumed switch step {step}, uninterrupted {uninterrupted}")
assert step == uninterrupted

# %% [markdown]
# ## In a run's config
#
# The default run (`tiny` preset) uses `steps` for both stages; the stages are a list in
# the config, so any rule is an override away. Mistakes are caught before any work:
# a plateau or end rule without a `max_steps` cap, or `end` on a stage that is not the
# last. The cell prints the default stages, then the errors `validate` reports.

# %%
print([(s.name, s.domains, s.switch, s.steps) for s in get_preset("tiny").stages])
print("the TRL integration's default is the same list:",
      default_stages() == get_preset("tiny").stages)
bad = apply_overrides(get_preset("tiny"), ["stages.0.switch=end"])
try:
    validate(bad)
except ConfigError as err:
    print(err)

# %% [markdown]
# ## What the schedules did on the tiny world
#
# `benchmarks/bench_training.py stages` trains the default run's 170 steps under three
# schedules: two stages (the default), maths and code mixed half and half from the first
# step, and maths only throughout (BENCHMARKS.md gives the command and says which seeds
# ran). The cell reads the record and prints, per schedule, the medians over seeds of the
# maths completion length over the first 10 steps, steps 111-120 (the end of stage 1) and
# the last 10 steps, the code completion length over the last 10 steps, and the final
# held-out pass@1 of each domain.

# %%
import statistics
from pathlib import Path

record = json.loads(Path("benchmarks/results/tiny_world_v4/training_stages.json").read_text())


def median_length(runs, domain, first, last):
    """Median over seeds of the mean completion length over steps first..last."""
    means = [statistics.mean(v for step, v in run["length"][domain] if first <= step <= last)
             for run in runs if any(first <= step <= last for step, _ in run["length"][domain])]
    return statistics.median(means) if means else float("nan")


for name, runs in record["runs"].items():
    end = max(step for step, _ in runs[0]["length"]["math"])
    code = median_length(runs, "code", end - 9, end)
    code_length = "   -" if code != code else f"{code:4.1f}"  # NaN: no code trained
    print(f"{name:16s} seeds {len(runs)}: maths length "
          f"{median_length(runs, 'math', 1, 10):4.1f} / {median_length(runs, 'math', 111, 120):4.1f}"
          f" / {median_length(runs, 'math', end - 9, end):4.1f}, code length "
          f"{code_length}; final pass@1 maths "
          f"{statistics.median(r['math'][-1][2] for r in runs):.3f}, code "
          f"{statistics.median(r['code'][-1][2] for r in runs):.3f}")
two = record["runs"]["two_stages"]
at_90 = statistics.median(next(acc for step, _, acc in r["math"] if step == 90) for r in two)
print(f"two_stages after 85 steps (as many maths prompts as 170 mixed steps): maths length "
      f"{median_length(two, 'math', 76, 85):4.1f}; maths pass@1 at step 90 {at_90:.3f}")

# %% [markdown]
# How to read it. Maths only and two stages end stage 1 alike (they are the same run up
# to step 120); after it, maths only keeps lengthening the maths completions and ends at
# the same maths accuracy, while stage 2's code lifts the code pass@1 a little above what
# the untrained-on-code run keeps. Mixing code in from the first step leaves the maths completions shorter
# at the end of stage 1 and at the end of the run, and the final maths pass@1 lower, while
# code ends about where it does under two stages (its base is already high): the shape of
# what the SRPO authors report. The last line says why, at this scale: a mixed step spends
# half its batch on code, so after 170 steps the policy has seen as many maths prompts as
# the two-stage run had after 85, and there its maths length and accuracy are about the
# same. Here mixing slows the growth of reasoning by halving the maths it trains on; that
# code *interferes* with the maths habit, beyond that, is not visible in the tiny world.

# %%
print("chapter 5 done")
