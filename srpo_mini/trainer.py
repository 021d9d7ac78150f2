"""The SRPO training loop, readable top to bottom.

Each step follows the data (the numbered comments match the tutorials):

    1. pick prompts      the pool serves B problems of the current stage; at an epoch
                         boundary history resampling rebuilds the pool (resampling/)
    2. sample            G completions per prompt with HF generate (sampler.py)
    3. verify            rewards from the math / code verifiers (rewards.py)
    4. record history    every group's correct count goes to the resampler and the ledger;
                         DAPO dynamic sampling filters and refills here instead
                         (steps 2-4: resampling.collect_groups)
    5. advantages        A_i = (r_i - mean(r_group)) / (std(r_group) + eps)   (grpo.py)
    6. update            mu AdamW steps on the clipped surrogate, micro-batched (update.py)
    7. observe           metrics, stage switch (schedule.py), evaluation, checkpoint

Exact resume: each step's rollouts are sampled with a seed derived from (run seed, step,
round), the pool, schedule and ledger states live in the checkpoint with the weights,
optimizer, scheduler and RNG states, so a run killed after a checkpoint and resumed
reproduces the uninterrupted run's prompts, rewards, ledger and parameters.

Reference: SRPO (arXiv 2504.14286), sections 3-4; GRPO (DeepSeekMath, arXiv 2402.03300).

Differences from the paper:
- SRPO trains a 32B model with a large batch for hundreds of steps; the defaults here
  (the `tiny` preset) train a 1M-parameter model for a few dozen steps on a CPU.
- The learning rate warms up linearly, then stays constant (the paper does not state
  its schedule).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .config import Config, resolve_device, resolve_dtype, save_yaml, validate
from .data.sources import load_run_problems
from .evaluate import evaluate, flat_metrics, format_report
from .grpo import group_advantages
from .ledger import LEDGER_FILE, LedgerWriter
from .machine import describe_machine
from .metrics import MetricsLogger, format_postfix, format_summary, read_metrics
from .model import load_model
from .prompts import render_prompt
from .resampling import CollectedGroups, PromptPool, collect_groups, resampler_from_config
from .rewards import compute_rewards, reason_category
from .sampler import generate_rollouts
from .schedule import StageSchedule
from .update import optimize_policy
from .verifiers.sandbox import detect_isolation


class TrainingError(RuntimeError):
    """The run cannot go on (repeated non-finite losses, no prompts left, ...)."""


@dataclass
class TrainerState:
    """Counters that a checkpoint must carry besides the components' own states."""

    step: int = 0
    generated_tokens: int = 0
    nan_streak: int = 0
    nan_skips: int = 0
    elapsed: float = 0.0
    evals: list = field(default_factory=list)  # (step, flat eval metrics) per evaluation


def step_seed(run_seed: int, step: int, round_: int = 0) -> int:
    """The sampling seed of one generation round: a pure function of (seed, step, round),
    so a resumed run draws the same rollouts as an uninterrupted one."""
    return (run_seed * 1_000_003 + step * 101 + round_) % (2**31 - 1)


def warmup_then_constant(warmup_steps: int):
    """LR multiplier: linear from 1/warmup to 1 over `warmup_steps` optimizer steps, then 1."""
    return lambda s: 1.0 if warmup_steps <= 0 else min(1.0, (s + 1) / warmup_steps)


class Run:
    """Everything a training run holds: model, optimizer, data pool, schedule, logs.

    `Run(config).train()` is the whole job; the pieces are attributes so that tests and
    tutorials can look inside.
    """

    def __init__(self, config: Config, *, resume: bool = False, progress: bool | None = None):
        self.config = config
        self.run_dir = Path(config.run.output_dir) / config.run.name
        self.progress = config.logging.progress if progress is None else progress
        torch.manual_seed(config.run.seed)
        process_threads = torch.get_num_threads()  # torch's default unless the caller set it
        if config.run.threads is not None and self.device_is_cpu(config):
            torch.set_num_threads(config.run.threads)
        self.device = resolve_device(config.run.device)
        dtype = resolve_dtype(config.run.dtype, self.device)

        self.train_problems, self.eval_problems = load_run_problems(config.data, config.run.seed)
        domains = {p.domain for p in self.train_problems}
        validate(config, available_domains=domains)   # before any expensive work
        # The code sandbox fails closed: no usable level stops the run here, not at its
        # first code batch (SandboxUnavailable names the cause and the opt-in).
        needs_code = "code" in domains | {p.domain for p in self.eval_problems}
        self.code_isolation = detect_isolation() if needs_code else None

        model_path = config.model.name_or_path
        if model_path is None:
            from .base import ensure_tiny_base

            # A first build of the base is batched SFT, which every core speeds up (unlike
            # RL on the tiny model); 1 and 2 threads build bit-identical weights.
            run_threads = torch.get_num_threads()
            torch.set_num_threads(process_threads)
            try:
                model_path = ensure_tiny_base(progress=self.progress)
            finally:
                torch.set_num_threads(run_threads)
        self.model, self.tokenizer = load_model(
            model_path, device=self.device, dtype=dtype,
            gradient_checkpointing=config.model.gradient_checkpointing)
        self.model.train()
        # The reference model costs a second copy of the weights: load it only for KL.
        self.ref_model = None
        if config.loss.beta > 0:
            self.ref_model = load_model(model_path, device=self.device, dtype=dtype)[0].eval()

        optim = config.optim
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=optim.lr,
                                           betas=tuple(optim.betas),
                                           weight_decay=optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_then_constant(optim.warmup_steps))
        self.resampler = resampler_from_config(config.resampling, seed=config.run.seed)
        self.pool = PromptPool(self.train_problems, self.resampler,
                               batch_size=config.sampling.prompts_per_step, seed=config.run.seed)
        self.schedule = StageSchedule(config.stages, available_domains=domains)
        stage = self.schedule.current_stage
        self.pool.set_stage(stage.name, stage.domains, stage.mixture)
        self.state = TrainerState()

        self.run_dir.mkdir(parents=True, exist_ok=True)
        latest = ckpt.latest_checkpoint(self.run_dir) if resume else None
        if resume and latest is None:
            raise TrainingError(f"--resume: no checkpoint in {self.run_dir / 'checkpoints'}")
        if latest is not None:
            saved = ckpt.load_checkpoint(latest, self.model, self.optimizer, self.scheduler)
            self._load_state(saved)
        else:
            save_yaml(config, self.run_dir / "config.yaml")
        self.logger = MetricsLogger(self.run_dir, tensorboard=config.logging.tensorboard,
                                    resume_step=self.state.step if latest else None)
        machine = describe_machine(self.device)
        if self.logger.latest.get("machine") != machine:  # a fresh run, or another machine
            self.logger.log({"step": self.state.step, "machine": machine})
        if self.code_isolation not in (None, "namespaces"):  # a weaker level asked for
            self.logger.log({"step": self.state.step, "code_isolation": self.code_isolation})
        self.ledger = LedgerWriter(self.run_dir / LEDGER_FILE,
                                   resume_rows=saved["ledger_rows"] if latest else None)
        self.resumed_from = latest

    @staticmethod
    def device_is_cpu(config: Config) -> bool:
        return resolve_device(config.run.device).type == "cpu"

    # --- the loop ----------------------------------------------------------------------
    def train(self) -> dict:
        """Run every stage to its end; returns the summary (also printed)."""
        config = self.config
        if self.state.step == 0 and not self.state.evals:
            self.evaluate()                                   # the base, before training
        bar = self._stage_bar()
        try:
            while not self.schedule.done:
                started = time.perf_counter()
                record = self.step()
                switched = self.schedule.update(self.state.step, self.pool.epochs_completed,
                                                record["reward"], self.pool.all_solved)
                if switched:
                    stage = self.schedule.current_stage
                    self.pool.set_stage(stage.name, stage.domains, stage.mixture)
                every = config.eval.every_steps
                if (every and self.state.step % every == 0) or self.schedule.done:
                    record.update(self.evaluate(log=False))
                self.state.elapsed += time.perf_counter() - started
                record["time_step"] = time.perf_counter() - started
                record["elapsed"] = self.state.elapsed
                self.logger.log(record)
                save_every = config.checkpoint.every_steps
                if ((save_every and self.state.step % save_every == 0) or self.schedule.done
                        or (switched and config.checkpoint.at_stage_switch)):
                    self.save()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(format_postfix(self.logger.latest), refresh=False)
                    if switched and not self.schedule.done:
                        bar.close()
                        bar = self._stage_bar()
        finally:
            if bar is not None:
                bar.close()
            self.logger.close()
        return self.finish()

    def _stage_bar(self):
        """A tqdm bar over the current stage's steps (None without progress). One bar per
        stage, because stage 2's steps cost more (code runs in the sandbox): an ETA
        averaged across stages would not hold."""
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        schedule = self.schedule
        stage = schedule.current_stage
        return tqdm(total=stage.max_steps or stage.steps, dynamic_ncols=True, unit="step",
                    initial=self.state.step - schedule.stage_start_step,
                    desc=f"stage {schedule.index + 1}/{len(schedule.stages)} {stage.name}")

    def step(self) -> dict:
        """One RL step: prompts -> collect -> advantages -> update -> record."""
        config, state = self.config, self.state
        stage = self.schedule.current_stage
        times = {"time_generate": 0.0, "time_verify": 0.0}
        tokens_before = state.generated_tokens  # each round adds its tokens (_sample_and_score)

        # 1. pick prompts (an epoch boundary rebuilds the pool first: history resampling)
        problems = self.pool.next_prompts()
        # 2. sample, 3. verify, 4. record history; DAPO filters and refills here
        sample = partial(self._sample_and_score, step=state.step, times=times)
        batch = collect_groups(problems, self.pool, sample, group_size=config.sampling.group_size,
                               step=state.step + 1)   # the step being taken, 1-based as in metrics
        self.ledger.write(batch.ledger_rows)

        # 5. advantages, group-relative; a group whose rewards all match gets zeros
        advantages = group_advantages(batch.rewards.rewards, config.sampling.group_size,
                                      scale=config.loss.advantage_scale, eps=config.loss.adv_eps)

        # 6. update: mu AdamW steps against the rollout policy's log-probs; rows whose
        #    loss_mask is False (rewards.truncation = mask) stay out of the loss
        started = time.perf_counter()
        history = []
        if len(batch.rollout):  # DAPO can end its refill rounds with no group to train on
            history = optimize_policy(self.model, self.optimizer, batch.rollout, advantages,
                                      config, ref_model=self.ref_model,
                                      loss_mask=batch.rewards.loss_mask, scheduler=self.scheduler)
            self._check_finite(history)
        times["time_train"] = time.perf_counter() - started
        state.step += 1

        # 7. observe: the step's metrics record
        return self._step_record(stage, batch, history, times,
                                 state.generated_tokens - tokens_before)

    # --- pieces of a step ----------------------------------------------------------------
    def _sample_and_score(self, problems, round_: int, *, step: int, times: dict):
        """G completions per problem, scored: (RolloutBatch, RewardBatch). Adds the time
        spent to `times` and the generated tokens to the run's count."""
        config = self.config
        prompts = [render_prompt(p, config.model.template, self.tokenizer) for p in problems]
        started = time.perf_counter()
        rollout = generate_rollouts(
            self.model, self.tokenizer, prompts, group_size=config.sampling.group_size,
            max_new_tokens=config.sampling.max_new_tokens,
            temperature=config.sampling.temperature, top_p=config.sampling.top_p,
            top_k=config.sampling.top_k,
            generation_batch_size=config.sampling.generation_batch_size,
            seed=step_seed(config.run.seed, step, round_))
        times["time_generate"] += time.perf_counter() - started
        started = time.perf_counter()
        scores = compute_rewards(problems, rollout.texts, truncated=rollout.truncated,
                                 completion_lengths=rollout.completion_lengths,
                                 prompts=prompts, config=config.rewards,
                                 max_new_tokens=config.sampling.max_new_tokens)
        times["time_verify"] += time.perf_counter() - started
        self.state.generated_tokens += int(rollout.completion_mask.sum())
        return rollout, scores

    def _check_finite(self, history: list[dict]) -> None:
        """Count skipped (non-finite) updates; abort after `max_nan_skips` steps in a row."""
        skipped = sum(bool(h["skipped"]) for h in history)
        self.state.nan_skips += skipped
        self.state.nan_streak = self.state.nan_streak + 1 if skipped == len(history) else 0
        if self.state.nan_streak >= self.config.optim.max_nan_skips:
            raise TrainingError(
                f"step {self.state.step + 1}: the loss or gradient was NaN/Inf for "
                f"{self.state.nan_streak} steps in a row; stopping. Lower optim.lr, check "
                "the rewards, or raise optim.max_nan_skips.")

    def _step_record(self, stage, batch: CollectedGroups, history: list[dict], times: dict,
                     generated_tokens: int) -> dict:
        """The step's metrics record (keys documented in metrics.METRIC_KEYS).

        Rewards are those of every row generated this step (`batch.generated_rewards`:
        DAPO's refill rounds and filtered groups included); lengths are those of the rows
        the update used (`batch.rollout`, true completion masks: the loss mask is not
        applied to them)."""
        config, state = self.config, self.state
        generated, rollout = batch.generated_rewards, batch.rollout
        rewards = generated.rewards.view(-1, config.sampling.group_size)   # (groups, G)
        lengths = rollout.completion_lengths.float()                       # (trained rows,)
        record = {"step": state.step, "stage": stage.name, "stage_index": self.schedule.index,
                  "epoch": self.pool.epoch, "lr": self.scheduler.get_last_lr()[0],
                  "reward": float(generated.rewards.mean()),
                  "accuracy": float(generated.correct.float().mean()),
                  "format_rate": float(generated.format.mean()),
                  "zero_std_fraction": float((rewards.std(dim=1) == 0).float().mean()),
                  "verify_failures": verifier_failures(generated),
                  "completion_length": float(lengths.mean()),
                  "truncation_rate": float(rollout.truncated.float().mean()),
                  "generated_tokens": generated_tokens,
                  "cumulative_generated_tokens": state.generated_tokens,
                  "nan_skips": state.nan_skips, **times}
        for domain, stats in generated.per_domain().items():
            record[f"reward/{domain}"] = stats["reward"]
            record[f"accuracy/{domain}"] = stats["accuracy"]
        for domain in sorted(set(batch.rewards.domains)):  # the lengths are the trained rows'
            rows = batch.rewards.domain_rows(domain)
            record[f"completion_length/{domain}"] = float(lengths[rows].mean())
        last = history[-1] if history else {}  # the last of the mu updates
        for key in ("loss", "grad_norm", "clip_fraction_low", "clip_fraction_high",
                    "clip_fraction", "approx_kl", "ratio_mean", "kl", "entropy"):
            if key in last:
                record[key] = float(last[key])
        if self.resampler.epoch_stats:  # the last epoch boundary's, on every step
            stats = self.resampler.epoch_stats[-1]
            record.update({f.name: getattr(stats, f.name) for f in fields(stats)
                           if f.name not in ("epoch", "stage")})
        if config.resampling.strategy == "dapo":
            record["dapo_rounds"] = batch.refill_rounds
            record["dapo_dropped_groups"] = batch.dropped_groups
        return record

    # --- evaluation, checkpoints, summary ---------------------------------------------
    def evaluate(self, log: bool = True) -> dict:
        """Held-out evaluation per domain; returns the flat `eval/...` metrics."""
        config = self.config
        if not self.eval_problems:
            return {}
        started = time.perf_counter()
        result = evaluate(self.model, self.tokenizer, self.eval_problems,
                          template=config.model.template, n_samples=config.eval.n_samples,
                          k_values=config.eval.k_values,
                          temperature=config.sampling.temperature,
                          max_new_tokens=config.sampling.max_new_tokens,
                          greedy=config.eval.greedy, seed=step_seed(config.run.seed, 0, 999),
                          timeout=config.rewards.verify_timeout,
                          workers=config.rewards.verify_workers)
        metrics = flat_metrics(result)
        metrics["time_eval"] = time.perf_counter() - started
        self.state.evals.append({"step": self.state.step, **metrics})
        self.last_eval_report = format_report(result)
        if log:  # an evaluation outside a training step (the base model)
            self.logger.log({"step": self.state.step,
                             "stage": self.schedule.current_stage.name,
                             "cumulative_generated_tokens": self.state.generated_tokens,
                             **metrics})
        return metrics

    def save(self) -> Path:
        trainer_state = {
            "step": self.state.step, "generated_tokens": self.state.generated_tokens,
            "nan_streak": self.state.nan_streak, "nan_skips": self.state.nan_skips,
            "elapsed": self.state.elapsed, "evals": self.state.evals,
            "epoch": self.pool.epoch, "stage": self.schedule.current_stage.name,
            "pool": self.pool.state_dict(), "schedule": self.schedule.state_dict(),
            "ledger_rows": self.ledger.rows,
        }
        return ckpt.save_checkpoint(self.run_dir, self.state.step, model=self.model,
                                    tokenizer=self.tokenizer, optimizer=self.optimizer,
                                    scheduler=self.scheduler, trainer_state=trainer_state,
                                    keep_last=self.config.checkpoint.keep_last)

    def _load_state(self, saved: dict) -> None:
        self.pool.load_state_dict(saved["pool"])
        self.schedule.load_state_dict(saved["schedule"])
        for key in ("step", "generated_tokens", "nan_streak", "nan_skips", "elapsed", "evals"):
            setattr(self.state, key, saved[key])

    def finish(self) -> dict:
        """Final summary: before/after accuracy per domain, stages, pool, time; plots."""
        records = read_metrics(self.run_dir / "metrics.jsonl")
        summary_text = format_summary(records)
        (self.run_dir / "summary.txt").write_text(summary_text + "\n", encoding="utf-8")
        if self.progress:
            print(summary_text)
            if getattr(self, "last_eval_report", None):
                print(self.last_eval_report)
        try:
            from .plots import plot_run

            plot_run(self.run_dir)
        except ImportError:
            if self.progress:
                print("plots skipped: install the `plot` extra (matplotlib)")
        first, last = (self.state.evals[0], self.state.evals[-1]) if self.state.evals else ({}, {})
        return {"run_dir": str(self.run_dir), "steps": self.state.step,
                "generated_tokens": self.state.generated_tokens,
                "elapsed": self.state.elapsed, "eval_before": first, "eval_after": last,
                "stage_switches": list(self.schedule.switches)}


def verifier_failures(scores) -> int:
    """Rollouts whose verifier failed (crashed, or a math check ran past its time limit);
    they got reward 0. A code *program* timing out is the program's failure, not counted."""
    failed = 0
    for domain, reason in zip(scores.domains, scores.reasons):
        category = reason_category(reason)
        failed += category == "verifier_error" or (domain == "math" and category == "timeout")
    return failed


def train(config: Config, *, resume: bool = False, progress: bool | None = None) -> dict:
    """Train with SRPO as `config` says; returns the run summary."""
    return Run(config, resume=resume, progress=progress).train()

