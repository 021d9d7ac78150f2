"""metrics.jsonl: the documented key list, the logger (flush, resume, NaN, strict keys),
optional TensorBoard, the progress postfix and the end-of-run summary table.

    python -m pytest tests/test_metrics.py -q
"""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from srpo_mini.metrics import (METRIC_KEYS, MetricsLogger, format_postfix, format_summary,
                               format_table, is_known_key, read_metrics)

# Every quantity the training issue asks metrics.jsonl to carry.
REQUIRED = ["step", "stage", "epoch", "lr", "reward", "reward/{domain}", "zero_std_fraction",
            "pool_size", "dropped_easy", "kept_all_wrong", "kept_mixed", "clip_fraction_low",
            "clip_fraction_high", "approx_kl", "ratio_mean", "grad_norm", "completion_length",
            "truncation_rate", "time_generate", "time_verify", "time_train",
            "cumulative_generated_tokens", "eval/{domain}/pass@{k}",
            "eval/{domain}/greedy_accuracy"]


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metric_keys_documented():
    """Each required key is in METRIC_KEYS with a real sentence of documentation."""
    assert set(REQUIRED) <= set(METRIC_KEYS)
    for key, doc in METRIC_KEYS.items():
        assert len(doc.split()) >= 4 and doc.endswith("."), key


@pytest.mark.parametrize("key, known", [
    ("reward", True), ("reward/math", True), ("reward/code", True), ("reward/physics", False),
    ("eval/code/pass@4", True), ("eval/math/pass@16", True), ("eval/math/pass@0", False),
    ("eval/math/greedy_accuracy", True), ("eval/math/pass@k", False),
    ("clip_fraction_high", True), ("made_up", False), ("rewardx", False),
    ("completion_length/code", True), ("completion_length/physics", False),
])
def test_is_known_key(key, known):
    """Placeholders match real domains and positive k only."""
    assert is_known_key(key) is known, key


def test_logger_writes_flushes_and_cleans(tmp_path):
    """Each record is on disk before close; tensors unwrap, NaN/Inf become null, step first."""
    logger = MetricsLogger(tmp_path)
    logger.log({"reward": torch.tensor(0.5), "step": 1, "grad_norm": float("nan"),
                "loss": math.inf, "stage": "math"})
    assert lines(tmp_path / "metrics.jsonl") == [
        {"step": 1, "reward": 0.5, "grad_norm": None, "loss": None, "stage": "math"}]
    assert list(lines(tmp_path / "metrics.jsonl")[0])[0] == "step"
    logger.log({"step": 2, "reward": 0.75})
    assert logger.latest == {"step": 2, "reward": 0.75, "grad_norm": None, "loss": None,
                             "stage": "math"}
    logger.close()
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


def test_logger_rejects_undocumented_keys(tmp_path):
    """A key outside METRIC_KEYS, or a record without step, is an error naming it."""
    with MetricsLogger(tmp_path) as logger:
        with pytest.raises(KeyError, match="rewrd"):
            logger.log({"step": 1, "rewrd": 1.0})
        with pytest.raises(ValueError, match="needs a 'step'"):
            logger.log({"reward": 1.0})
        with pytest.raises(TypeError, match="numbers or strings"):
            logger.log({"step": 1, "reward": [1.0]})
    with MetricsLogger(tmp_path / "loose", strict=False) as logger:
        assert logger.log({"step": 1, "custom": 2.0}) == {"step": 1, "custom": 2.0}


def test_resume_truncates_after_step(tmp_path):
    """Resuming at step 3 keeps records 1..3 (and a torn line is dropped); new ones append."""
    with MetricsLogger(tmp_path) as logger:
        for step in range(1, 6):
            logger.log({"step": step, "reward": step / 10, "pool_size": 10 - step})
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 6, "rew')  # killed mid-line
    with MetricsLogger(tmp_path, resume_step=3) as logger:
        assert logger.latest == {"step": 3, "reward": 0.3, "pool_size": 7}
        logger.log({"step": 4, "reward": 0.44})
    assert [(r["step"], r["reward"]) for r in lines(tmp_path / "metrics.jsonl")] == [
        (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.44)]
    with MetricsLogger(tmp_path) as logger:  # a new run starts a new file
        logger.log({"step": 1, "reward": 0.0})
    assert lines(tmp_path / "metrics.jsonl") == [{"step": 1, "reward": 0.0}]


def test_tensorboard_missing_is_reported(tmp_path, monkeypatch, capsys):
    """Without the tensorboard package the logger says so once and still writes JSONL."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with MetricsLogger(tmp_path, tensorboard=True) as logger:
        logger.log({"step": 1, "reward": 1.0})
    assert "pip install tensorboard" in capsys.readouterr().err
    assert lines(tmp_path / "metrics.jsonl") == [{"step": 1, "reward": 1.0}]


def test_format_postfix():
    """Short, fixed-precision strings; absent keys are left out."""
    latest = {"step": 7, "stage": "math", "reward": 0.41666, "zero_std_fraction": 0.375,
              "completion_length": 41.6, "pool_size": 56, "kept_mixed": 40,
              "kept_all_wrong": 16, "dropped_easy": 8, "lr": 1e-4}
    assert format_postfix(latest) == {"stage": "math", "reward": "0.417", "zero_std": "0.38",
                                      "len": "42", "pool": "56", "mixed": "40", "wrong": "16",
                                      "dropped": "8"}
    assert format_postfix({"step": 1, "reward": 0.5}) == {"reward": "0.500"}


def test_format_table():
    """First column left-aligned, numbers right-aligned, None as '-'."""
    text = format_table(["metric", "start", "end"], [["reward", 0.25, 0.5], ["pool", 1200, None]])
    assert text.splitlines() == ["metric  start    end",
                                 "------  -----  -----",
                                 "reward  0.250  0.500",
                                 "pool    1,200      -"]


def test_format_summary_numbers():
    """Eval first vs last with the change; training first vs last window; totals."""
    records = [{"step": 0, "eval/math/pass@1": 0.2, "time_eval": 2.0}]
    for step in range(1, 9):
        records.append({"step": step, "stage": "math" if step <= 4 else "math+code",
                        "reward": step / 10, "zero_std_fraction": 0.5,
                        "cumulative_generated_tokens": 1000 * step, "time_generate": 3.0,
                        "time_verify": 1.0, "time_train": 2.0, "pool_size": 20 - step,
                        "dropped_easy": 1 if step in (3, 6) else None})
    records.append({"step": 8, "eval/math/pass@1": 0.45, "time_eval": 2.0})
    text = format_summary(records)
    assert "evaluation (step 0 -> 8)" in text
    assert any(line.split() == ["eval/math/pass@1", "0.200", "0.450", "+0.250"]
               for line in text.splitlines())
    # window = min(10, 8 // 4) = 2 steps: first (0.1 + 0.2) / 2, last (0.7 + 0.8) / 2
    assert any(line.split() == ["reward", "0.150", "0.750"] for line in text.splitlines())
    assert "stages: math (steps 1-4), math+code (steps 5-8)" in text
    assert "generated tokens: 8,000" in text
    # of 24 + 8 + 16 + 4 = 52 s: generate 24 / 52 = 46%, eval 4 / 52 = 8%
    assert "generate 24s (46%)" in text and "eval 4s (8%)" in text
    assert "final pool: 12 prompts   dropped as all-correct over the run: 2" in text


def test_format_summary_names_the_machines():
    """The machine records (one per machine the run trained on) end the summary."""
    records = [{"step": 0, "machine": "cpu A"}, {"step": 1, "reward": 0.5},
               {"step": 1, "machine": "cpu B"}, {"step": 2, "reward": 0.5}]
    assert "machine: cpu A; then cpu B" in format_summary(records)
    assert "machine" not in format_summary(records[1:2] + records[3:])
