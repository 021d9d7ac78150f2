# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 6 — An end-to-end run on the tiny model
#
# Everything so far, put together by `srpo_mini.trainer`: the loop reads top to bottom
# with numbered stages that match the chapters,
#
#     1. pick prompts      PromptPool, history resampling at epoch boundaries  (chapter 4)
#     2. sample            G completions per prompt with HF generate
#     3. verify            math and code verifiers -> rewards                  (chapters 2, 3)
#     4. record history    every group's outcome -> resampler and ledger       (chapter 4)
#     5. advantages        group-relative                                       (chapter 1)
#     6. update            mu AdamW steps on the clipped, token-level loss      (chapter 1)
#     7. observe           metrics, stage switch, evaluation, checkpoint        (chapter 5)
#
# This chapter launches a short run with a few config overrides, reads what it wrote
# (metrics, the history ledger, the summary, the plots), then kills it — on paper — after
# a checkpoint and resumes it, checking that the resumed run ends exactly where the
# uninterrupted one did.
#
# The default run (`srpo-mini train`, no overrides) is the same code with the `tiny`
# preset's larger sizes (120 steps of maths, then 50 of maths + code, 16 prompts x 8
# completions per step); section 5 reads the record of one such run. The run here is cut down to a few steps; the cells print how long each part
# took.

# %%
import shlex
import shutil
import tempfile
import time
from pathlib import Path

import torch

from srpo_mini import checkpoint as ckpt
from srpo_mini.config import resolve_config
from srpo_mini.metrics import read_metrics
from srpo_mini.ledger import read_ledger
from srpo_mini.trainer import Run

torch.set_num_threads(1)
chapter_start = time.perf_counter()

# %% [markdown]
# ## 1. Launch
#
# A config is the `tiny` preset plus `KEY=VALUE` overrides (the same strings the command
# line takes; `srpo_mini/config.py` documents every field). The overrides below make the
# run small: B = 4 prompts x G = 4 completions per step, 8 training problems per domain
# (so an epoch of maths is two steps and history resampling has boundaries to act at),
# four steps of maths and four of maths + code, a small held-out set evaluated before and
# after, and a checkpoint every two steps, on the CPU even where a GPU is present (so the
# exact-resume check below holds everywhere). The model is the cached tiny base
# (`model.name_or_path: null`). The cell prints the equivalent command line.

# %%
workdir = Path(tempfile.mkdtemp(prefix="srpo_tutorial_"))
OVERRIDES = [
    f"run.output_dir={workdir}", "run.name=tutorial", "run.device=cpu",
    "sampling.prompts_per_step=4", "sampling.group_size=4", "sampling.max_new_tokens=64",
    "data.train_limit=8", "data.eval_limit=8",
    "stages.0.steps=4", "stages.1.steps=4",
    "eval.n_samples=2", "eval.k_values=[1, 2]", "eval.every_steps=0",
    "checkpoint.every_steps=2", "checkpoint.keep_last=10",
    "logging.progress=false",
]
config = resolve_config("tiny", overrides=OVERRIDES)
print("srpo-mini train " + " ".join(shlex.quote(o) for o in OVERRIDES))

start = time.perf_counter()
run = Run(config)
summary = run.train()
print(f"trained {summary['steps']} steps in {time.perf_counter() - start:.1f} s; "
      f"run directory {summary['run_dir']}")
print("stage switches:", summary["stage_switches"])

# %% [markdown]
# `Run(config).train()` is the whole job (`srpo_mini.trainer.train(config)` is the same
# in one call); keeping the `Run` object lets us look inside afterwards: `run.model`,
# `run.pool`, `run.schedule`, `run.resampler`, `run.state`.
#
# ## 2. What the run wrote
#
# The run directory holds `config.yaml` (the resolved config, each field with its doc),
# `metrics.jsonl` (one JSON record per step, plus evaluation records), `ledger.jsonl`
# (one row per prompt served: its epoch, stage and number of correct rollouts),
# `summary.txt`, `plots/` and `checkpoints/`.

# %%
run_dir = Path(summary["run_dir"])
for path in sorted(run_dir.rglob("*")):
    if path.is_file() and "checkpoints" not in path.parts:
        print(f"  {path.relative_to(run_dir)}  ({path.stat().st_size:,} bytes)")
print("checkpoints:", [p.name for p in ckpt.list_checkpoints(run_dir)])

# %% [markdown]
# ### Metrics
#
# Every key is documented once, in `srpo_mini.metrics.METRIC_KEYS`. The ones to watch in
# an SRPO run: `reward` and `accuracy` (per domain too), `zero_std_fraction` (groups with
# no learning signal — what history resampling exists to lower), `completion_length`,
# the update's `loss` (near 0 by construction with mu = 1, chapter 1) and `grad_norm`,
# and the pool's size at epoch boundaries. The cell prints them per step.

# %%
records = read_metrics(run_dir / "metrics.jsonl")
train_records = [r for r in records if "reward" in r]
COLUMNS = ["step", "stage", "epoch", "reward", "accuracy", "zero_std_fraction",
           "completion_length", "loss", "grad_norm", "pool_size", "generated_tokens"]
print(" ".join(f"{c[:10]:>10s}" for c in COLUMNS))
for r in train_records:
    cells = []
    for c in COLUMNS:
        value = r.get(c)
        cells.append(f"{value:10.4f}" if isinstance(value, float) else f"{value!s:>10s}")
    print(" ".join(cells))
evaluations = [r for r in records if any(k.startswith("eval/") for k in r)]
for r in evaluations:
    print(f"evaluation at step {r['step']}:",
          {k: round(v, 3) for k, v in r.items() if k.startswith("eval/")})

# %% [markdown]
# ### The history ledger
#
# The ledger is the raw material of history resampling: one row per prompt per time it
# was served, with the number of its G rollouts that were correct. The cell counts the
# rows of each epoch by outcome; the pool of the next epoch is decided from exactly
# these counts (`srpo_mini.resampling`).

# %%
ledger = read_ledger(run_dir / "ledger.jsonl")
print("first row:", ledger[0])
by_epoch = {}
for row in ledger:
    counts = by_epoch.setdefault((row["epoch"], row["stage"]),
                                 {"all correct": 0, "mixed": 0, "all wrong": 0})
    kind = ("all correct" if row["correct"] == row["group_size"]
            else "all wrong" if row["correct"] == 0 else "mixed")
    counts[kind] += 1
for (epoch, stage), counts in by_epoch.items():
    print(f"epoch {epoch} ({stage}): {counts}")

# %% [markdown]
# ### Summary and plots
#
# At the end the trainer writes `summary.txt` (evaluation before and after, the training
# averages at the start and the end, where the time went) and, when matplotlib is
# installed, the figures of `srpo_mini.plots` (`srpo-mini plot RUN_DIR` redraws them).
# Reward and evaluation curves are drawn against generated tokens — the cost — rather
# than steps. In a notebook, display the PNGs; here the cell prints the summary and the
# list of figures.

# %%
print((run_dir / "summary.txt").read_text())
try:
    import matplotlib  # noqa: F401
    figures = sorted(p.name for p in (run_dir / "plots").glob("*.png"))
    print("figures:", figures)
except ImportError:
    print("matplotlib is not installed: no figures (pip install 'srpo_mini[plot]')")

# %% [markdown]
# ## 3. Resume from a checkpoint
#
# A checkpoint holds everything an exact resume needs: weights, optimizer and scheduler
# states, RNG states, the step, the stage schedule, the prompt pool with its order,
# position and history, and how many ledger rows were written. Rollouts are sampled with
# a seed derived from (run seed, step), so a resumed run draws the same completions.
#
# To simulate a crash after step 4, the cell deletes the checkpoints written after it
# (as if the process had been killed before writing them) and runs
# `Run(config, resume=True).train()` — `srpo-mini train ... --resume` on the command line.
# The resumed run truncates `metrics.jsonl` and the ledger back to step 4 and trains the
# remaining steps. The cell then compares it with the uninterrupted run: the reward of
# every step after the checkpoint, the ledger, and the final parameters.

# %%
uninterrupted_params = [p.detach().clone() for p in run.model.parameters()]
uninterrupted_rewards = {r["step"]: r["reward"] for r in train_records}
uninterrupted_ledger = ledger
crash_after = 4
for path in ckpt.list_checkpoints(run_dir):
    if int(path.name.split("_")[-1]) > crash_after:
        shutil.rmtree(path)
print("checkpoints left:", [p.name for p in ckpt.list_checkpoints(run_dir)])

start = time.perf_counter()
resumed = Run(config, resume=True)
print(f"resuming from {resumed.resumed_from.name} at step {resumed.state.step}, "
      f"stage {resumed.schedule.current_stage.name!r}")
resumed_summary = resumed.train()
print(f"resumed run: {resumed_summary['steps']} steps, "
      f"{time.perf_counter() - start:.1f} s for the last {resumed_summary['steps'] - crash_after}")

resumed_records = [r for r in read_metrics(run_dir / "metrics.jsonl") if "reward" in r]
for r in resumed_records:
    if r["step"] > crash_after:
        print(f"step {r['step']}: reward {r['reward']:.4f} (uninterrupted "
              f"{uninterrupted_rewards[r['step']]:.4f})")
largest = max((a - b).abs().max().item()
              for a, b in zip(uninterrupted_params, resumed.model.parameters()))
print(f"largest parameter difference from the uninterrupted run: {largest:.3g}")
print("ledger identical:", read_ledger(run_dir / "ledger.jsonl") == uninterrupted_ledger)
assert all(r["reward"] == uninterrupted_rewards[r["step"]] for r in resumed_records)
assert largest == 0.0

# %% [markdown]
# Zero difference, not "close": on the same machine a resumed run repeats the
# uninterrupted one bit for bit (the trainer's tests kill a run with SIGKILL and check
# the same). On a GPU, nondeterministic kernels can make two *uninterrupted* runs differ
# already; resuming adds nothing to that.
#
# ## 4. From here
#
# * `srpo-mini train` runs the default; `srpo-mini train --print-config` shows every
#   setting with its documentation.
# * The same `KEY=VALUE` overrides switch the recipe: `resampling.strategy=dapo` or
#   `none`, `loss.aggregation=sequence`, `loss.beta=0.04` (chapter 0).
# * `srpo-mini eval --model RUN_DIR/checkpoints/step_N/model` evaluates any checkpoint.

# ## 5. What the full default run did
#
# A few steps show the machinery, not learning. `benchmarks/results/default_run/seed0/`
# keeps the record of one full default run, seed 0, evaluated every 30 steps (BENCHMARKS.md
# gives the command; evaluations do not change the training, so its last evaluation is
# the one `srpo-mini train` prints). The tiny base
# answers 70% of sums directly (an empty `<think>`), which a 1M-parameter model gets
# wrong on sums of three or more numbers; the cell reads seed 0's record and prints the
# mean maths completion length over the first and last ten steps of stage 1, and the
# held-out maths pass@1 and greedy accuracy before and after. Length and accuracy rise
# together: RL taught the policy to work the sums out.

# %%
record = read_metrics(Path("benchmarks/results/default_run/seed0/metrics.jsonl"))
stage1 = [r["completion_length/math"] for r in record
          if r.get("stage_index") == 0 and "completion_length/math" in r]
evals = [r for r in record if "eval/math/pass@1" in r]
print(f"default run, seed 0: math completion length {sum(stage1[:10]) / 10:.1f} -> "
      f"{sum(stage1[-10:]) / 10:.1f} tokens over stage 1")
print(f"held-out math pass@1 {evals[0]['eval/math/pass@1']:.3f} -> "
      f"{evals[-1]['eval/math/pass@1']:.3f}, greedy "
      f"{evals[0]['eval/math/greedy_accuracy']:.3f} -> "
      f"{evals[-1]['eval/math/greedy_accuracy']:.3f}")

# %%
shutil.rmtree(workdir, ignore_errors=True)
print(f"chapter time: {time.perf_counter() - chapter_start:.0f} s")
print("chapter 6 done")
