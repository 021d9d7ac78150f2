"""SRPO inside TRL's GRPOTrainer (srpo_mini.integrations.trl) on a random-init tiny model.

What it checks:
- the TRL-signature reward functions give the verifiers' verdicts, routed by `domain`;
- the sampler keeps TRL's grouped repeat layout;
- two epochs through GRPOTrainer: prompts all correct in epoch 0 are not served in epoch 1,
  mixed and all-wrong ones are, and the stage switched from math to math + code;
- resuming from a TRL checkpoint restores the history and serves the same prompts as the
  uninterrupted run; resuming from the last one trains nothing;
- `max_steps` is reached although epochs shrink; real verifier rewards through TRL;
- the example script (slow).

Outcomes are made deterministic by a reward keyed on prompt id (`keyed_reward`); the real
verifiers run in `test_reward_functions_*` and `test_real_verifier_rewards_through_trl`.

Run: python -m pytest tests/test_integration_trl.py -q   (skipped without TRL:
pip install "srpo_mini[trl]")
"""

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
# TRL 1.16 still uses transformers' old `gradient_checkpointing` names (deprecated in 5.x).
pytestmark = pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*:FutureWarning")

from datasets import Dataset  # noqa: E402
from trl import GRPOConfig  # noqa: E402

from srpo_mini.config import (Config, LossConfig, OptimConfig, SamplingConfig,  # noqa: E402
                              validate)
from srpo_mini.data.synthetic import make_tiny_world  # noqa: E402
from srpo_mini.integrations.trl import (  # noqa: E402
    SRPO_GRPO_SETTINGS, HistoryResamplingSampler, SRPOCallback, SRPOGRPOTrainer,
    accuracy_reward, code_accuracy_reward, make_trl_dataset, math_accuracy_reward)
from srpo_mini.model import build_tiny_model  # noqa: E402
from srpo_mini.prompts import format_completion  # noqa: E402
from srpo_mini.ledger import read_ledger  # noqa: E402
from srpo_mini.schedule import StageConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MATH_IDS = [f"m{i}" for i in range(6)]
CODE_IDS = [f"c{i}" for i in range(4)]
EASY = {"m0", "m1"}           # every rollout correct
MIXED = {"m2", "m3", "c0"}    # the first rollout of each group correct, the others wrong
WRONG = {"m4", "m5"}          # every rollout wrong
STAGES = [StageConfig("math", ["math"], switch="epochs", epochs=1),
          StageConfig("math+code", ["math", "code"], {"math": 0.5, "code": 0.5}, switch="end",
                      max_steps=1000)]   # end needs a cap; the Trainer's limits come first


def tiny_dataset():
    rows = [{"prompt": f"User: {pid}\nAssistant:", "id": pid, "domain": "math"} for pid in MATH_IDS]
    rows += [{"prompt": f"User: {pid}\nAssistant:", "id": pid, "domain": "code"} for pid in CODE_IDS]
    return Dataset.from_list(rows)


def tiny_model():
    return build_tiny_model(seed=0, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                            intermediate_size=64)


def grpo_config(output_dir, **overrides):
    """B = 2 prompts x G = 2 completions per step, 4 new tokens, on the CPU."""
    settings = dict(output_dir=str(output_dir), per_device_train_batch_size=4, num_generations=2,
                    max_completion_length=4, learning_rate=1e-3, beta=0.0, seed=0,
                    num_train_epochs=2, save_strategy="no", logging_steps=1, report_to=[],
                    use_cpu=True, bf16=False, disable_tqdm=True, log_level="warning")
    return GRPOConfig(**{**settings, **overrides})


def keyed_reward(srpo, calls):
    """Reward by prompt id (EASY, MIXED, WRONG); logs (step, SRPO epoch, stage, ids) per call."""
    def keyed(prompts, completions, id, trainer_state, **kwargs):
        calls.append((trainer_state.global_step, srpo.pool.epoch, srpo.pool.stage, list(id)))
        seen, rewards = {}, []
        for pid in id:
            rank = seen[pid] = seen.get(pid, -1) + 1       # k-th rollout of this prompt
            rewards.append(1.0 if pid in EASY or (pid in MIXED and rank == 0) else 0.0)
        return rewards
    return keyed


def train_keyed(output_dir, resume=None, **overrides):
    """A keyed SRPO run through SRPOGRPOTrainer; returns (srpo, calls, trainer)."""
    model, tokenizer = tiny_model()
    srpo, calls = SRPOCallback(STAGES, seed=0), []
    trainer = SRPOGRPOTrainer(model=model, processing_class=tokenizer,
                              reward_funcs=[srpo.track(keyed_reward(srpo, calls))],
                              args=grpo_config(output_dir, **overrides),
                              train_dataset=tiny_dataset(), srpo=srpo)
    trainer.train(resume_from_checkpoint=resume)
    return srpo, calls, trainer


def served(calls, epoch):
    return {pid for _, e, _, ids in calls if e == epoch for pid in ids}


@pytest.fixture(scope="module")
def keyed_run(tmp_path_factory):
    """2 epochs: epoch 0 = 6 math prompts (3 steps), epoch 1 = 4 math + 4 code (4 steps),
    with a checkpoint after every step."""
    output_dir = tmp_path_factory.mktemp("keyed")
    srpo, calls, trainer = train_keyed(output_dir, save_strategy="steps", save_steps=1)
    return {"srpo": srpo, "calls": calls, "trainer": trainer, "output_dir": output_dir}


# --- rewards -------------------------------------------------------------------------------
def test_reward_functions_verify_by_domain():
    """Each function returns the verifier's verdict on its rows and None on the others;
    chat-format completions and JSON `tests` are accepted."""
    world = make_tiny_world(math_train_per_level=1, math_eval_per_level=1,
                            code_train_per_level=1, code_eval_per_level=1)
    math_problem, code_problem = world.train["math"][0], world.train["code"][0]
    gold_math = world.worked[math_problem.id].answer          # \boxed{...}
    gold_code = world.worked[code_problem.id].answer          # ```python ...```
    data = make_trl_dataset([math_problem, code_problem], template="compact")
    cases = [  # (domain, completion, accuracy_reward, math_accuracy_reward, code_accuracy_reward)
        ("math", format_completion("ok", gold_math), 1.0, 1.0, None),
        ("math", format_completion("slip", "\\boxed{-12345}"), 0.0, 0.0, None),
        ("code", format_completion("ok", gold_code), 1.0, None, 1.0),
        ("code", format_completion("none", "no program here"), 0.0, None, 0.0),
    ]
    columns = {"domain": [c[0] for c in cases],
               "answer": [data[0]["answer"] if c[0] == "math" else None for c in cases],
               "tests": [data[1]["tests"] if c[0] == "code" else None for c in cases],
               "id": [data[0]["id"] if c[0] == "math" else data[1]["id"] for c in cases]}
    texts = [c[1] for c in cases]
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    assert data[0]["prompt"] == "User: " + math_problem.prompt + "\nAssistant:"
    assert accuracy_reward(["p"] * 4, texts, **columns) == [c[2] for c in cases]
    assert math_accuracy_reward(["p"] * 4, chat, **columns) == [c[3] for c in cases]
    assert code_accuracy_reward(["p"] * 4, texts, **columns) == [c[4] for c in cases]


def test_srpo_settings_are_srpo_minis_defaults_in_grpo_config(tmp_path):
    """SRPO_GRPO_SETTINGS build a GRPOConfig that matches srpo_mini's loss and sampling
    defaults: token-level aggregation, clip 0.2 / 0.28, no KL, std scaling, mu = 1."""
    config = GRPOConfig(**SRPO_GRPO_SETTINGS, output_dir=str(tmp_path), use_cpu=True,
                        report_to=[])
    loss, optim, sampling = LossConfig(), OptimConfig(), SamplingConfig()
    assert (loss.aggregation, loss.advantage_scale) == ("token", "std")
    assert (config.loss_type, config.scale_rewards) == ("dapo", "group")
    assert (config.epsilon, config.epsilon_high) == (loss.clip_eps_low, loss.clip_eps_high)
    assert (config.beta, config.num_iterations) == (loss.beta, optim.mu) == (0.0, 1)
    assert config.temperature == sampling.temperature == 1.0


def test_sampler_keeps_trl_grouped_layout():
    """B = 2 prompts per chunk, G = 2, repeat 2: each chunk twice, each row twice in a row;
    the epoch is the stage's 6 math prompts in the pool's order."""
    srpo = SRPOCallback(STAGES, seed=0)
    srpo.setup(tiny_dataset(), batch_size=2)
    sampler = HistoryResamplingSampler(srpo, mini_repeat_count=2, batch_size=2, repeat_count=2)
    rows = list(sampler)
    order = [srpo.index_of[pid] for pid in srpo.pool.order]          # 6 math rows
    a, b = order[0], order[1]
    assert rows[:8] == [a, a, b, b, a, a, b, b]
    chunks = [order[i:i + 2] for i in range(0, 6, 2)]
    assert rows == [r for chunk in chunks for _ in range(2) for r in chunk for _ in range(2)]
    assert sorted(set(rows)) == list(range(6))
    # len: the largest stage (10 prompts) in whole chunks: 5 * B * G * repeat.
    assert len(rows) == 24 and len(sampler) == 5 * 2 * 2 * 2


# --- history resampling and stages through TRL ---------------------------------------------
def test_all_correct_prompts_are_not_served_in_the_next_epoch(keyed_run):
    """Epoch 0 serves the 6 math prompts; epoch 1 drops the all-correct ones and serves
    the mixed and all-wrong math prompts plus the 4 code prompts."""
    srpo, calls = keyed_run["srpo"], keyed_run["calls"]
    assert served(calls, 0) == set(MATH_IDS)
    assert served(calls, 1) == (MIXED | WRONG | set(CODE_IDS))
    assert not served(calls, 1) & EASY
    assert [len(ids) for *_, ids in calls] == [4] * 7          # 7 steps of B*G = 4 rollouts
    assert srpo.resampler.dropped == {"m0": 1, "m1": 1}        # left out from epoch 1 on
    stats = srpo.resampler.epoch_stats[1]
    assert (stats.dropped_easy, stats.kept_mixed, stats.kept_all_wrong, stats.pool_size) == (2, 2, 2, 8)
    ledger = read_ledger(keyed_run["output_dir"] / "srpo_ledger.jsonl")
    assert len(ledger) == 14 and srpo.ledger_rows == 14          # one row per prompt per epoch
    assert {r["prompt_id"]: r["correct"] for r in ledger if r["epoch"] == 0} == {
        "m0": 2, "m1": 2, "m2": 1, "m3": 1, "m4": 0, "m5": 0}


def test_stage_switches_from_math_to_math_and_code(keyed_run):
    """The epochs rule fires after epoch 0 (step 3); code appears only after the switch."""
    srpo, calls = keyed_run["srpo"], keyed_run["calls"]
    assert srpo.schedule.switches == [{"from": "math", "to": "math+code", "step": 3, "epoch": 1}]
    assert srpo.schedule.current_stage.name == "math+code"
    assert [(step, stage) for step, _, stage, _ in calls] == [
        (0, "math"), (1, "math"), (2, "math"), (3, "math+code"), (4, "math+code"),
        (5, "math+code"), (6, "math+code")]
    assert keyed_run["trainer"].state.global_step == 7


def test_resume_from_trl_checkpoint_restores_history(keyed_run, tmp_path):
    """Resuming from checkpoint-4 (one step into epoch 1) restores the history and the data
    position: the resumed run serves what the uninterrupted run served after step 4 and
    ends in the same SRPO state."""
    checkpoint = keyed_run["output_dir"] / "checkpoint-4"
    saved = json.loads((checkpoint / "srpo_state.json").read_text())
    assert saved["pool"]["resampler"]["dropped"] == {"m0": 1, "m1": 1}
    assert saved["pool"]["position"] == 2 and saved["schedule"]["index"] == 1

    srpo, calls, trainer = train_keyed(tmp_path / "from4", resume=str(checkpoint))
    original = keyed_run["calls"]
    assert [(s, ids) for s, _, _, ids in calls] == [(s, ids) for s, _, _, ids in original if s >= 4]
    assert srpo.resampler.epoch_stats[:2] == keyed_run["srpo"].resampler.epoch_stats[:2]
    assert srpo.state_dict() == keyed_run["srpo"].state_dict()
    assert trainer.state.global_step == 7


def test_resume_from_the_last_checkpoint_trains_nothing(keyed_run, tmp_path):
    """After 2 of 2 epochs the Trainer would start a third (its epoch count assumes
    fixed-length epochs); the restored pool knows the run is over."""
    checkpoint = keyed_run["output_dir"] / "checkpoint-7"
    srpo, calls, trainer = train_keyed(tmp_path, resume=str(checkpoint))
    assert calls == [] and trainer.state.global_step == 7
    assert srpo.state_dict() == keyed_run["srpo"].state_dict()


def test_default_stages_pass_the_cli_validation():
    """SRPOCallback given no stages uses config.default_stages(): the CLI's own default
    list (math 120 steps, then math + code 50), which `srpo-mini train` validates."""
    srpo = SRPOCallback(seed=0)
    srpo.setup(tiny_dataset(), batch_size=2)
    assert srpo.schedule.stages == Config().stages
    assert [(s.name, s.domains, s.steps) for s in srpo.schedule.stages] == [
        ("math", ["math"], 120), ("math+code", ["math", "code"], 50)]
    config = Config()
    config.stages = srpo.schedule.stages
    validate(config, available_domains={"math", "code"})   # raises ConfigError on a fault


def test_max_steps_is_reached_while_epochs_shrink(tmp_path):
    """One stage, 6 math prompts; the 2 easy ones are dropped after epoch 0, so the epochs
    take 3, 2, 2, 2, ... steps. The Trainer sizes its epoch count as ceil(8 / 3) = 3 from
    the first epoch, which would end the run at step 7; max_steps = 8 is still reached."""
    stages = [StageConfig("math", ["math"], switch="end", max_steps=1000)]
    model, tokenizer = tiny_model()
    srpo, calls = SRPOCallback(stages, seed=0), []
    trainer = SRPOGRPOTrainer(model=model, processing_class=tokenizer,
                              reward_funcs=[srpo.track(keyed_reward(srpo, calls))],
                              args=grpo_config(tmp_path, max_steps=8),
                              train_dataset=tiny_dataset().select(range(6)), srpo=srpo)
    trainer.train()
    assert trainer.state.global_step == 8
    assert [e for _, e, _, _ in calls] == [0, 0, 0, 1, 1, 2, 2, 3]
    assert served(calls, 2) == MIXED - {"c0"} | WRONG


def test_real_verifier_rewards_through_trl(tmp_path):
    """Tiny-world problems with the verifier-backed math and code rewards, both tracked:
    one epoch, every served prompt recorded once with its G outcomes; the random model
    solves nothing, so every prompt is all wrong and kept."""
    world = make_tiny_world(math_train_per_level=1, math_eval_per_level=1,
                            code_train_per_level=1, code_eval_per_level=1)
    problems = world.train["math"][:2] + world.train["code"][:2]
    model, tokenizer = tiny_model()
    srpo = SRPOCallback([StageConfig("both", ["math", "code"], switch="end", max_steps=1000)],
                        seed=0)
    trainer = SRPOGRPOTrainer(
        model=model, processing_class=tokenizer,
        reward_funcs=[srpo.track(math_accuracy_reward), srpo.track(code_accuracy_reward)],
        args=grpo_config(tmp_path, num_train_epochs=1),
        train_dataset=make_trl_dataset(problems, template="compact"), srpo=srpo)
    trainer.train()
    ledger = read_ledger(tmp_path / "srpo_ledger.jsonl")
    assert sorted(r["prompt_id"] for r in ledger) == sorted(p.id for p in problems)
    assert {(r["correct"], r["group_size"]) for r in ledger} == {(0, 2)}
    logged = {k for row in trainer.state.log_history for k in row}
    assert {"rewards/math_accuracy_reward/mean", "rewards/code_accuracy_reward/mean"} <= logged
    srpo.pool.next_prompts(0)                                  # the epoch-1 rebuild
    assert srpo.resampler.epoch_stats[-1].kept_all_wrong == 4


def test_untracked_reward_is_an_error(tmp_path):
    """Without a tracked reward the history would stay empty: training refuses to start."""
    model, tokenizer = tiny_model()
    srpo = SRPOCallback(STAGES, seed=0)
    trainer = SRPOGRPOTrainer(model=model, processing_class=tokenizer,
                              reward_funcs=[keyed_reward(srpo, [])], args=grpo_config(tmp_path),
                              train_dataset=tiny_dataset(), srpo=srpo)
    with pytest.raises(ValueError, match="no reward function is tracked"):
        trainer.train()


@pytest.mark.slow
def test_example_script_quick(tmp_path, capsys):
    """examples/trl_srpo.py --quick: random-init tiny model, a few steps, both stages."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import trl_srpo
    finally:
        sys.path.pop(0)
    assert trl_srpo.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "stage switches: math -> math+code at step" in out
    assert (tmp_path / "srpo_ledger.jsonl").exists()
