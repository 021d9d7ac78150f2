"""Rewards: accuracy by domain, format term, truncation rules (zero, mask, soft overlong),
TRL-style user reward functions, verifier failures (reward 0, reason counted), per-domain
summaries, and one pass through the real verifiers.

Most tests use a fake verifier (`FakeVerifier`) so every number is worked out by hand; the
last test goes through `srpo_mini.verifiers.check_completions`.

Run: python -m pytest tests/test_rewards.py -q
"""

from collections import Counter
from dataclasses import dataclass

import pytest
import torch

from srpo_mini.data.schema import Problem
from srpo_mini.prompts import format_completion
from srpo_mini.config import Config, ConfigError, RewardsConfig, apply_overrides
from srpo_mini.rewards import (compute_rewards, concat_reward_batches,
                               reason_category, soft_overlong_penalty)

MATH = Problem(id="m0", domain="math", prompt="1 + 1 = ?", answer="2")
CODE = Problem(id="c0", domain="code", prompt="print 1",
               tests={"cases": [{"input": "", "output": "1"}, {"input": "", "output": "1"}]})


@dataclass
class Verdict:
    correct: bool
    score: float
    reason: str


class FakeVerifier:
    """Completions say their outcome: "right", "wrong", or "half" (code: 1 of 2 tests)."""

    def __init__(self):
        self.calls = []

    def __call__(self, problems, completions, **options):
        self.calls.append((list(completions), options))
        table = {"right": Verdict(True, 1.0, "ok"), "wrong": Verdict(False, 0.0, "wrong_answer"),
                 "half": Verdict(False, 0.5, "failed_test: case 2")}
        return [table[next(w for w in table if w in text)] for text in completions]


def score(problems, completions, **kwargs):
    kwargs.setdefault("check_fn", FakeVerifier())
    return compute_rewards(problems, completions, **kwargs)


def test_accuracy_by_domain_binary_and_pass_fraction():
    """Math right/wrong -> 1/0; code half -> 0 (binary) or 0.5 (pass fraction)."""
    completions = ["right", "wrong", "right", "half"]
    binary = score([MATH, CODE], completions)
    assert binary.rewards.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert binary.correct.tolist() == [True, False, True, False]
    fraction = score([MATH, CODE], completions, config=RewardsConfig(code_pass_fraction=True))
    assert fraction.rewards.tolist() == [1.0, 0.0, 1.0, 0.5]
    assert fraction.correct.tolist() == [True, False, True, False]   # history sees all-pass only
    # per domain: math (1 + 0) / 2 = 0.5; code (1 + 0.5) / 2 = 0.75
    assert fraction.per_domain() == {"code": {"reward": 0.75, "accuracy": 0.75, "rollouts": 2},
                                     "math": {"reward": 0.5, "accuracy": 0.5, "rollouts": 2}}
    assert fraction.reason_counts() == {"math": Counter(ok=1, wrong_answer=1),
                                        "code": Counter(ok=1, failed_test=1)}


@pytest.mark.parametrize("reason, category", [
    ("equal: same string", "equal"),
    ("unequal: 3 vs 4", "unequal"),
    ("no answer found", "no answer found"),
    ("test 1: wrong_answer (line 1: got '1', expected '2')", "wrong_answer"),
    ("test 12: timeout", "timeout"),
    ("verifier_error: ValueError", "verifier_error"),
    ("", "unknown"),
])
def test_reason_categories(reason, category):
    """Verifier reasons are counted by category, not by their full text."""
    assert reason_category(reason) == category


def test_format_reward_is_added_with_its_weight():
    """format_weight 0.1: right + format = 1.1, wrong + format = 0.1, right without = 1.0."""
    completions = [format_completion("think right", "\\boxed{2}"),
                   format_completion("think wrong", "\\boxed{3}"),
                   "right but no tags"]
    batch = score([MATH], completions, config=RewardsConfig(format_weight=0.1))
    assert batch.format.tolist() == [1.0, 1.0, 0.0]
    assert batch.rewards.tolist() == pytest.approx([1.1, 0.1, 1.0])


@pytest.mark.parametrize("rule, rewards, loss_mask, verified", [
    # the truncated row 1 says "right", but is not verified and earns nothing
    ("zero", [1.0, 0.0], [True, True], ["right"]),
    # same reward, and the row leaves the loss
    ("mask", [1.0, 0.0], [True, False], ["right"]),
    # soft_overlong verifies it (1) and adds the penalty at L = L_max = 10: 1 - 1 = 0;
    # row 0 has L = 4 <= 10 - 4 = 6: no penalty
    ("soft_overlong", [1.0, 0.0], [True, True], ["right", "right <think"]),
])
def test_truncation_rules(rule, rewards, loss_mask, verified):
    """Row 1 is truncated; each rule's reward, loss mask and what the verifier saw."""
    verifier = FakeVerifier()
    batch = score([MATH], ["right", "right <think"], truncated=[False, True],
                  completion_lengths=[4, 10], check_fn=verifier,
                  config=RewardsConfig(truncation=rule, overlong_buffer=4), max_new_tokens=10)
    assert batch.rewards.tolist() == rewards
    assert batch.loss_mask.tolist() == loss_mask
    assert verifier.calls[0][0] == verified
    assert batch.correct.tolist() == [True, rule == "soft_overlong"]
    assert batch.reasons[1] == ("ok" if rule == "soft_overlong" else "truncated")


def test_soft_overlong_penalty_numbers():
    """L_max = 100, L_cache = 20, so the buffer starts after 80 tokens:
    L=50 -> 0; L=80 -> 0; L=81 -> (80-81)/20 = -0.05; L=90 -> -10/20 = -0.5;
    L=100 -> -20/20 = -1; L=120 (beyond L_max) -> -1."""
    penalty = soft_overlong_penalty(torch.tensor([50, 80, 81, 90, 100, 120]), 100, 20)
    assert penalty.tolist() == pytest.approx([0.0, 0.0, -0.05, -0.5, -1.0, -1.0])


def test_soft_overlong_adds_to_accuracy():
    """L_max = 100, L_cache = 20: right at L=90 -> 1 - 0.5 = 0.5; wrong at L=85 -> -0.25;
    right at L=60 -> 1; truncated right at L=100 -> 1 - 1 = 0."""
    batch = score([MATH], ["right", "wrong", "right", "right"],
                  truncated=[False, False, False, True], completion_lengths=[90, 85, 60, 100],
                  config=RewardsConfig(truncation="soft_overlong", overlong_buffer=20),
                  max_new_tokens=100)
    assert batch.rewards.tolist() == pytest.approx([0.5, -0.25, 1.0, 0.0])
    assert batch.overlong.tolist() == pytest.approx([-0.5, -0.25, 0.0, -1.0])


def test_user_reward_functions_have_the_trl_signature():
    """fn(prompts, completions, **columns) -> list[float]; weights 0.5 and 2; None -> 0."""
    seen = {}

    def length_bonus(prompts, completions, **columns):
        seen.update(prompts=prompts, **columns)
        return [len(c) / 10 for c in completions]

    def answer_is_two(prompts, completions, answer, **columns):
        return [None if a is None else float("2" in c) for c, a in zip(completions, answer)]

    batch = score([MATH, CODE], ["right 2", "wrong", "right", "half"],
                  prompts=["P: 1 + 1", "P: print"], truncated=[False, True, False, False],
                  completion_lengths=[3, 8, 2, 2],
                  reward_funcs=[length_bonus, answer_is_two], reward_weights=[0.5, 2.0])
    # rows: math "right 2": 1 + 0.5*0.7 + 2*1 = 3.35; math "wrong" is truncated -> 0;
    #       code "right": 1 + 0.5*0.5 + 2*0 (None) = 1.25; code "half": 0 + 0.5*0.4 = 0.2
    assert batch.rewards.tolist() == pytest.approx([3.35, 0.0, 1.25, 0.2])
    assert batch.terms["length_bonus"].tolist() == pytest.approx([0.7, 0.0, 0.5, 0.4])
    assert seen["prompts"] == ["P: 1 + 1", "P: 1 + 1", "P: print", "P: print"]
    assert seen["id"] == ["m0", "m0", "c0", "c0"] and seen["answer"][:2] == ["2", "2"]
    assert seen["truncated"] == [False, True, False, False]
    assert seen["completion_length"] == [3, 8, 2, 2]
    assert {"domain", "tests", "difficulty", "source"} <= set(seen)


def test_user_function_errors_name_the_function():
    """A broken user function is a bug in user code: raised, with its name."""
    def broken(prompts, completions, **columns):
        raise KeyError("column")

    def short(prompts, completions, **columns):
        return [1.0]

    with pytest.raises(RuntimeError, match="reward function 'broken' failed"):
        score([MATH], ["right", "wrong"], reward_funcs=[broken])
    with pytest.raises(ValueError, match="'short' returned 1 values for 2 completions"):
        score([MATH], ["right", "wrong"], reward_funcs=[short])


@pytest.mark.parametrize("verifier, reason", [
    (lambda problems, completions, **o: 1 / 0, "verifier_error: ZeroDivisionError"),
    (lambda problems, completions, **o: [], "verifier_error: ValueError"),
    (lambda problems, completions, **o: [object()] * len(completions),
     "verifier_error: AttributeError"),
])
def test_verifier_failure_gives_zero_with_the_reason(verifier, reason):
    """A verifier that raises or returns garbage costs the reward, never the run."""
    batch = score([MATH, CODE], ["right", "right", "right", "right"], check_fn=verifier)
    assert batch.rewards.tolist() == [0.0] * 4 and not batch.correct.any()
    assert batch.reasons == [reason] * 4
    assert batch.reason_counts() == {"math": Counter({"verifier_error": 2}),
                                     "code": Counter({"verifier_error": 2})}


def test_inputs_are_checked():
    """Whole groups per problem; soft_overlong needs lengths and the completion cap; the
    config's own validator runs (one rule, one place: config.validate_rewards)."""
    with pytest.raises(ValueError, match="3 completions for 2 problems"):
        score([MATH, CODE], ["right"] * 3)
    with pytest.raises(ValueError, match="needs completion_lengths"):
        score([MATH], ["right"], config=RewardsConfig(truncation="soft_overlong"),
              max_new_tokens=32)
    with pytest.raises(ConfigError, match=r"needs the completion cap \(sampling.max_new_tokens"):
        score([MATH], ["right"], config=RewardsConfig(truncation="soft_overlong"),
              completion_lengths=[4])
    with pytest.raises(ConfigError, match="rewards.truncation: 'drop'"):
        score([MATH], ["right"], config=RewardsConfig(truncation="drop"))
    # as `srpo-mini train` rules: the buffer must be shorter than the cap
    with pytest.raises(ConfigError, match="must be < sampling.max_new_tokens = 8"):
        score([MATH], ["right"], config=RewardsConfig(truncation="soft_overlong",
                                                      overlong_buffer=8),
              max_new_tokens=8, completion_lengths=[4])
    with pytest.raises(ConfigError, match=r"rewards.format_weight: must be in \[0, inf\)"):
        score([MATH], ["right"], config=RewardsConfig(format_weight=float("inf")))


def test_reads_the_config_fields():
    """compute_rewards reads config.rewards (shaping, verifier options) and the cap
    sampling.max_new_tokens: the overlong buffer is its last 8 of 32 tokens."""
    config = apply_overrides(Config(), [
        "rewards.format_weight=0.2", "rewards.code_pass_fraction=true",
        "rewards.overlong_buffer=8", "rewards.truncation=soft_overlong",
        "rewards.verify_timeout=3.0", "rewards.code_memory_mb=256", "rewards.verify_workers=1",
        "rewards.code_total_timeout=7.5", "rewards.math_extraction=lenient",
        "sampling.max_new_tokens=32"])
    assert (config.rewards.format_weight, config.rewards.code_pass_fraction,
            config.rewards.truncation, config.rewards.overlong_buffer,
            config.sampling.max_new_tokens) == (0.2, True, "soft_overlong", 8, 32)
    verifier = FakeVerifier()
    batch = score([MATH], ["right"], config=config.rewards,
                  max_new_tokens=config.sampling.max_new_tokens, check_fn=verifier,
                  completion_lengths=[30])
    # L = 30 in the buffer (24, 32]: (24 - 30) / 8 = -0.75
    assert batch.overlong.tolist() == pytest.approx([-0.75])
    assert verifier.calls[0][1] == {"code_pass_fraction": True, "timeout": 3.0,
                                    "code_total_timeout": 7.5, "memory_mb": 256, "workers": 1,
                                    "math_extraction": "lenient"}


def test_select_and_concat_keep_rows_aligned():
    """DAPO merges refill rounds: concat then select rows [1, 2] -> the same values."""
    def bonus(prompts, completions, **columns):
        return [0.5] * len(completions)

    first = score([MATH], ["right", "wrong"], reward_funcs=[bonus])
    second = score([CODE], ["half", "right"], reward_funcs=[bonus],
                   config=RewardsConfig(code_pass_fraction=True))
    merged = concat_reward_batches([first, second])
    assert merged.rewards.tolist() == [1.5, 0.5, 1.0, 1.5]
    picked = merged.select(torch.tensor([1, 2]))
    assert picked.rewards.tolist() == [0.5, 1.0] and picked.accuracy.tolist() == [0.0, 0.5]
    assert picked.domains == ["math", "code"] and picked.reasons == ["wrong_answer",
                                                                     "failed_test: case 2"]
    assert picked.terms["bonus"].tolist() == [0.5, 0.5]


def test_verifier_options_override_the_config():
    """verifier_options update verifier_options_for(config) key by key."""
    verifier = FakeVerifier()
    score([MATH], ["right"], check_fn=verifier, verifier_options={"timeout": 9.0})
    assert verifier.calls[0][1] == {"code_pass_fraction": False, "timeout": 9.0,
                                    "code_total_timeout": 10.0, "memory_mb": 512,
                                    "workers": None,
                                    "math_extraction": "strict"}


def test_through_the_real_verifiers():
    """check_completions: boxed 2 is right, boxed 3 wrong; print(1) passes, print(2) fails;
    a truncated right answer gets 0 under the default rule."""
    right_code = format_completion("print one", "```python\nprint(1)\n```")
    wrong_code = format_completion("print two", "```python\nprint(2)\n```")
    completions = [format_completion("1 + 1 = 2", "\\boxed{2}"),
                   format_completion("guess", "\\boxed{3}"),
                   format_completion("1 + 1 = 2", "\\boxed{2}"),
                   right_code, wrong_code, right_code]
    code = Problem(id="c1", domain="code", prompt="print 1",
                   tests={"cases": [{"input": "", "output": "1\n"}]})
    math = Problem(id="m1", domain="math", prompt="1 + 1 = ?", answer="2")
    batch = compute_rewards([math, code], completions,
                            truncated=[False, False, True, False, False, False],
                            config=RewardsConfig(verify_workers=1))
    assert batch.rewards.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0], batch.reasons
    assert batch.reasons[2] == "truncated"
    assert batch.reason_counts()["code"] == Counter(passed=2, wrong_answer=1)
    assert batch.per_domain()["code"]["accuracy"] == pytest.approx(2 / 3)
