"""End-to-end tests of the SRPO training loop (srpo_mini.trainer) on the tiny base.

Checks: a 2-steps-per-stage run changes the parameters, switches stage and logs the
documented metrics; NaN updates are skipped and abort after repeated failures; a run
killed with SIGKILL after a checkpoint and resumed ends exactly like an uninterrupted one
(prompts, rewards, ledger, parameters); bad config values stop the run before any work.

Run: python -m pytest tests/test_trainer.py -q
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srpo_mini import checkpoint as ckpt
from srpo_mini.config import ConfigError, apply_overrides, get_preset
from srpo_mini.metrics import METRIC_KEYS, read_metrics
from srpo_mini.ledger import read_ledger
from srpo_mini.trainer import Run, TrainingError

REPO = Path(__file__).resolve().parents[1]


def small_config(tmp_path, base_dir, *extra):
    """2 steps per stage, 4 prompts x G=4, short completions, a small held-out set."""
    config = get_preset("tiny")
    return apply_overrides(config, [
        f"model.name_or_path={base_dir}", f"run.output_dir={tmp_path}", "run.name=run",
        "stages.0.steps=2", "stages.1.steps=2", "sampling.prompts_per_step=4",
        "sampling.group_size=4", "data.train_limit=8", "data.eval_limit=4",
        "eval.n_samples=2", "eval.k_values=[1,2]", "eval.every_steps=0",
        "checkpoint.every_steps=1", "checkpoint.keep_last=10", "logging.progress=false",
        *extra])


def test_progress_shows_one_bar_per_stage(tmp_path, tiny_base_dir, capsys):
    """The training bar is per stage (stage 2's steps cost more, so one ETA across stages
    would not hold): each bar counts its own stage's steps to its end."""
    config = small_config(tmp_path, tiny_base_dir, "stages.0.steps=3", "logging.progress=true")
    Run(config).train()
    err = capsys.readouterr().err
    assert re.search(r"stage 1/2 math: 100%\S* 3/3 ", err), err[-2000:]
    assert re.search(r"stage 2/2 math\+code: 100%\S* 2/2 ", err), err[-2000:]
    assert not re.search(r"\b[45]/[45] ", err)  # no bar counts steps across stages


def parameters(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_smoke_two_steps_per_stage(tmp_path, tiny_base_dir):
    # A format reward makes rewards differ within groups whatever the base's accuracy,
    # so advantages are not all zero and the update must move every parameter.
    run = Run(small_config(tmp_path, tiny_base_dir, "rewards.format_weight=0.5"))
    before = parameters(run.model)
    summary = run.train()
    after = parameters(run.model)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert len(changed) == len(before), f"only {len(changed)}/{len(before)} tensors changed"
    assert summary["steps"] == 4
    assert [s["to"] for s in summary["stage_switches"]] == ["math+code"]
    records = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert [r["stage"] for r in records] == ["math", "math", "math+code", "math+code"]
    for key in ("reward", "zero_std_fraction", "pool_size", "clip_fraction_low",
                "clip_fraction_high", "approx_kl", "grad_norm", "completion_length",
                "truncation_rate", "time_generate", "time_verify", "time_train",
                "cumulative_generated_tokens", "lr", "epoch"):
        assert key in records[-1], key
        assert key in METRIC_KEYS or any(key == k.split("/")[0] for k in METRIC_KEYS)
    assert "reward/code" in records[-1] and "reward/code" not in records[0]
    assert "completion_length/code" in records[-1] and "completion_length/math" in records[0]
    assert records[0]["completion_length/math"] == records[0]["completion_length"]  # math only
    ledger = read_ledger(tmp_path / "run" / "ledger.jsonl")
    assert len(ledger) == 4 * 4                      # one row per group (4 steps x 4 prompts)
    assert {row["stage"] for row in ledger} == {"math", "math+code"}
    assert all(0 <= row["correct"] <= row["group_size"] == 4 for row in ledger)
    assert "eval/math/pass@1" in summary["eval_after"]
    assert (tmp_path / "run" / "summary.txt").read_text().strip()


def test_the_machine_is_recorded_once_per_machine(tmp_path, tiny_base_dir, monkeypatch):
    """A run logs the machine it trains on at its start; a resume on the same machine adds
    nothing (so resumed metrics stay identical), one on another machine adds a record, and
    the summary names both."""
    from srpo_mini import trainer
    from srpo_mini.machine import describe_machine

    config = small_config(tmp_path, tiny_base_dir, "stages.0.steps=1", "stages.1.steps=2",
                          "data.eval_limit=2")
    run_dir = tmp_path / "run"

    def machines():
        return [(r["step"], r["machine"]) for r in read_metrics(run_dir / "metrics.jsonl")
                if "machine" in r]

    def resume_from_step(step):
        for path in ckpt.list_checkpoints(run_dir):
            if path.name > f"step_{step:08d}":
                shutil.rmtree(path)
        Run(config, resume=True).train()

    Run(config).train()
    assert machines() == [(0, describe_machine("cpu"))]
    resume_from_step(2)
    assert machines() == [(0, describe_machine("cpu"))]
    monkeypatch.setattr(trainer, "describe_machine", lambda device: "another CPU")
    resume_from_step(1)
    assert machines() == [(0, describe_machine("cpu")), (1, "another CPU")]
    summary = (run_dir / "summary.txt").read_text()
    assert f"machine: {describe_machine('cpu')}; then another CPU" in summary


def test_step_record_values_under_mask_mu2_dapo(tmp_path, tiny_base_dir, monkeypatch):
    """The step record's values, recomputed from what each step generated, scored and
    trained on, under rewards.truncation=mask, optim.mu=2 and resampling.strategy=dapo.

    A truncated row is left out of the loss through the update's loss_mask; the rollout
    itself keeps its true mask, so the row counts max_new_tokens in completion_length
    (writing the loss mask into the rollout logged it as length 0)."""
    import srpo_mini.trainer as trainer
    from srpo_mini.sampler import completion_mask_from_ids, stop_token_ids

    generated, scored, updates = [], [], []

    def spy(real, calls, keep):
        def wrapper(*args, **kwargs):
            result = real(*args, **kwargs)
            calls.append(keep(args, kwargs, result))
            return result
        return wrapper

    # Masks are copied when made: what the step does to its batches later cannot change them.
    monkeypatch.setattr(trainer, "generate_rollouts", spy(
        trainer.generate_rollouts, generated, lambda a, k, r: r.completion_mask.clone()))
    monkeypatch.setattr(trainer, "compute_rewards", spy(
        trainer.compute_rewards, scored, lambda a, k, r: r))
    monkeypatch.setattr(trainer, "optimize_policy", spy(
        trainer.optimize_policy, updates,
        lambda a, k, r: (a[2], a[2].completion_mask.clone(), k.get("loss_mask"), r)))
    max_new_tokens, G = 24, 4
    run = Run(small_config(tmp_path, tiny_base_dir, "rewards.truncation=mask", "optim.mu=2",
                           "resampling.strategy=dapo", f"sampling.max_new_tokens={max_new_tokens}",
                           "rewards.format_weight=0.5", "stages.0.steps=3"))
    stop_ids = stop_token_ids(run.model, run.tokenizer)
    total_tokens, truncated_trained = 0, 0
    for step in (1, 2, 3):
        generated.clear(), scored.clear(), updates.clear()
        record = run.step()
        assert record["step"] == step and record["stage"] == "math"
        # Generation: every round's rows count, DAPO refills included.
        tokens = sum(int(mask.sum()) for mask in generated)
        total_tokens += tokens
        assert record["generated_tokens"] == tokens
        assert record["cumulative_generated_tokens"] == total_tokens
        assert record["dapo_rounds"] == len(generated) - 1 == len(scored) - 1
        # Rewards: the means over every generated row.
        rewards = torch.cat([s.rewards for s in scored])               # (rows generated,)
        correct = torch.cat([s.correct for s in scored]).float()
        all_equal = (rewards.view(-1, G).std(dim=1) == 0).float()      # (groups generated,)
        assert record["reward"] == pytest.approx(float(rewards.mean()))
        assert record["accuracy"] == pytest.approx(float(correct.mean()))
        assert record["zero_std_fraction"] == pytest.approx(float(all_equal.mean()))
        # The update: one call with the true masks and a loss mask without truncated rows.
        (rollout, mask_given, loss_mask, history), = updates
        assert record["dapo_dropped_groups"] == len(rewards) // G - len(rollout) // G
        true_mask, truncated = completion_mask_from_ids(rollout.completion_ids, stop_ids)
        lengths = true_mask.sum(dim=1).float()                         # (rows trained,)
        assert (lengths[truncated] == max_new_tokens).all()
        assert record["completion_length"] == pytest.approx(float(lengths.mean()))
        assert record["completion_length/math"] == record["completion_length"]
        assert torch.equal(mask_given, true_mask) and torch.equal(truncated, rollout.truncated)
        assert loss_mask.tolist() == (~truncated).tolist()
        assert record["truncation_rate"] == pytest.approx(float(truncated.float().mean()))
        truncated_trained += int(truncated.sum())
        # mu = 2 updates; the record holds the last one's metrics (METRIC_KEYS).
        assert len(history) == 2 and history[0]["approx_kl"] == pytest.approx(0, abs=1e-6)
        for key in ("loss", "grad_norm", "approx_kl", "clip_fraction", "ratio_mean"):
            assert record[key] == history[-1][key], key
        assert record["approx_kl"] > 0
        assert record["nan_skips"] == 0
        # The last epoch boundary's pool statistics, on every step.
        stats = run.resampler.epoch_stats[-1]
        assert record["epoch"] == stats.epoch
        for key in ("pool_size", "epoch_length", "dropped_easy", "kept_mixed",
                    "kept_all_wrong", "kept_all_correct", "kept_unseen", "readmitted",
                    "dropped_total", "all_solved"):
            assert record[key] == getattr(stats, key), key
        assert all(key in METRIC_KEYS for key in record if "/" not in key)
    assert truncated_trained > 0, "no truncated row was trained on: the test checks nothing"


def test_nan_updates_skip_then_abort(tmp_path, tiny_base_dir, monkeypatch):
    import srpo_mini.trainer as trainer

    calls = []

    def nan_update(*args, **kwargs):
        calls.append(1)
        return [{"update": 0.0, "loss": float("nan"), "grad_norm": float("nan"),
                 "skipped": True, "tokens": 1.0}]

    monkeypatch.setattr(trainer, "optimize_policy", nan_update)
    run = Run(small_config(tmp_path, tiny_base_dir, "optim.max_nan_skips=3",
                           "stages.0.steps=10"))
    before = parameters(run.model)
    with pytest.raises(TrainingError, match=r"NaN/Inf for 3 steps in a row"):
        run.train()
    assert len(calls) == 3
    assert all(torch.equal(before[n], p) for n, p in parameters(run.model).items())


def test_one_nan_update_does_not_abort(tmp_path, tiny_base_dir, monkeypatch):
    import srpo_mini.trainer as trainer

    real = trainer.optimize_policy
    calls = []

    def sometimes_nan(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            return [{"update": 0.0, "loss": float("nan"), "grad_norm": float("nan"),
                     "skipped": True, "tokens": 1.0}]
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "optimize_policy", sometimes_nan)
    summary = Run(small_config(tmp_path, tiny_base_dir, "optim.max_nan_skips=2")).train()
    assert summary["steps"] == 4
    records = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "reward" in r]
    assert records[-1]["nan_skips"] == 1


@pytest.mark.parametrize("override, field", [
    ("sampling.group_size=1", "sampling.group_size"),
    ("loss.clip_eps_low=-0.1", "loss.clip_eps_low"),
    ("stages.1.domains=[math,poetry]", "stages.1.domains"),
])
def test_invalid_config_stops_before_work(tmp_path, tiny_base_dir, override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        Run(small_config(tmp_path, tiny_base_dir, override))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_resume_requires_a_checkpoint(tmp_path, tiny_base_dir):
    with pytest.raises(TrainingError, match="no checkpoint"):
        Run(small_config(tmp_path, tiny_base_dir), resume=True)


RUN_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from srpo_mini.config import apply_overrides, get_preset
from srpo_mini.trainer import train
config = apply_overrides(get_preset("tiny"), sys.argv[2:])
train(config, resume=sys.argv[1] == "resume", progress=False)
"""


def _overrides(tmp_path, base_dir, name):
    return [f"model.name_or_path={base_dir}", f"run.output_dir={tmp_path}", f"run.name={name}",
            "stages.0.steps=3", "stages.1.steps=3", "sampling.prompts_per_step=4",
            "sampling.group_size=4", "data.train_limit=8", "data.eval_limit=2",
            "eval.n_samples=1", "eval.k_values=[1]", "eval.every_steps=0", "eval.greedy=false",
            "checkpoint.every_steps=1", "checkpoint.keep_last=20", "logging.progress=false"]


def _run(tmp_path, base_dir, name, mode="fresh"):
    return subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, mode,
                             *_overrides(tmp_path, base_dir, name)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _training_records(run_dir):
    keys = ("step", "stage", "epoch", "reward", "accuracy", "zero_std_fraction", "loss",
            "grad_norm", "completion_length", "pool_size", "cumulative_generated_tokens")
    return [{k: r.get(k) for k in keys} for r in read_metrics(run_dir / "metrics.jsonl")
            if "reward" in r]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, tiny_base_dir):
    whole = _run(tmp_path, tiny_base_dir, "whole")
    assert whole.wait(timeout=600) == 0, whole.stderr.read().decode()[-2000:]

    killed = _run(tmp_path, tiny_base_dir, "killed")
    run_dir = tmp_path / "killed"
    deadline = time.time() + 600
    while time.time() < deadline:  # kill right after the step-2 checkpoint lands
        latest = ckpt.latest_checkpoint(run_dir) if run_dir.exists() else None
        if latest is not None and latest.name >= "step_00000002":
            os.kill(killed.pid, signal.SIGKILL)
            break
        assert killed.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    killed_at = ckpt.latest_checkpoint(run_dir).name
    assert killed_at < "step_00000006", "killed too late to test a resume"

    resumed = _run(tmp_path, tiny_base_dir, "killed", mode="resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-2000:]

    whole_dir = tmp_path / "whole"
    assert _training_records(run_dir) == _training_records(whole_dir)
    assert read_ledger(run_dir / "ledger.jsonl") == read_ledger(whole_dir / "ledger.jsonl")
    weights_a = load_file(ckpt.latest_checkpoint(whole_dir) / "model" / "model.safetensors")
    weights_b = load_file(ckpt.latest_checkpoint(run_dir) / "model" / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_the_tiny_base_is_built_with_the_process_threads(tmp_path, tiny_base_dir, monkeypatch):
    """With no model named, the base build runs on the process's threads (all cores by
    default), and the run itself then uses `run.threads`."""
    from srpo_mini import base

    seen = []

    def fake_ensure_tiny_base(progress=True):
        seen.append(torch.get_num_threads())
        return tiny_base_dir

    monkeypatch.setattr(base, "ensure_tiny_base", fake_ensure_tiny_base)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        config = apply_overrides(small_config(tmp_path, tiny_base_dir), ["model.name_or_path=null",
                                                                         "run.threads=1"])
        Run(config)
        assert seen == [2] and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
