"""`srpo-mini train --plan` (srpo_mini.plan): the arithmetic, and the estimate against a
measured peak.

What it checks:
- the 0.5B shape: parameters and every byte count worked out by hand for the `gpu_0.5b`
  preset, and the parameter count against a model built on the meta device;
- the tiny model: the planned peak of a training step is within 25% of the peak of
  torch's CPU allocations measured (torch.profiler) over a real `Run.step`, with and
  without gradient checkpointing;
- the command prints the plan from a directory that holds only config.json (no weights).

Run: python -m pytest tests/test_plan.py -q
"""

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

import srpo_mini.trainer as trainer_module
from srpo_mini.base import BaseConfig
from srpo_mini.cli import main
from srpo_mini.config import get_preset
from srpo_mini.model import build_tiny_model
from srpo_mini.plan import GIB, ModelShape, plan_run
from srpo_mini.standins import qwen25_05b_config

QWEN_05B = ModelShape.from_hf_config(qwen25_05b_config())


def test_05b_parameters_by_hand_and_on_the_meta_device():
    """494,032,768 = embeddings 151936 * 896 (tied, once) + 24 layers * 14,912,384 + 896.
    A layer: q 896*896 + 896, k and v 896*128 + 128 each, o 896*896, MLP 3 * 896 * 4864,
    two norms 2 * 896."""
    layer = (896 * 896 + 896) + 2 * (896 * 128 + 128) + 896 * 896 + 3 * 896 * 4864 + 2 * 896
    assert layer == 14_912_384
    assert QWEN_05B.parameters == 151936 * 896 + 24 * layer + 896 == 494_032_768
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(qwen25_05b_config(num_layers=2))
    counted = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    assert counted == 151936 * 896 + 2 * layer + 896
    assert ModelShape.from_hf_config(model.config).parameters == counted


def test_05b_preset_plan_by_hand():
    """gpu_0.5b: bf16, B = 32, G = 8, T = 1024, 256 rows per generate() call, micro-batches
    of 8, no gradient checkpointing; prompts of 256 tokens assumed."""
    plan = plan_run(get_preset("gpu_0.5b"), QWEN_05B, prompt_tokens=256)
    P = 494_032_768
    assert (plan.dtype, plan.generation_rows, plan.micro_batch_rows) == ("bfloat16", 256, 8)
    assert plan.weights == plan.gradients == 2 * P == 988_065_536
    assert plan.optimizer_state == 4 * P                       # two bf16 moments
    # K and V: 2 * 24 layers * 2 KV heads * 64 dims * 2 bytes = 12,288 bytes a token,
    # for 256 rows of 256 + 1024 tokens.
    assert plan.kv_cache == 12_288 * 256 * 1280 == 4_026_531_840
    # The (8, 1025, V) bf16 output and 4 float32 (8, 1024, V) copies: 20.9 GiB.
    assert plan.logprob_logits == 8 * 1025 * 151936 * 2 + 4 * 8 * 1024 * 151936 * 4
    assert plan.logprob_logits / GIB == pytest.approx(20.87, abs=0.01)
    # Without checkpointing: (one prompt of 256 + 8 * 1024) tokens * 24 layers *
    # (11 * 896 + 4 * 4864) values * 2 bytes.
    assert plan.activations == (256 + 8 * 1024) * 24 * (11 * 896 + 4 * 4864) * 2
    assert plan.completion_tokens_per_step == 32 * 8 * 1024 == 262_144
    # AdamW's temporaries (P / 2) and the tied embedding's two gradients (1.5 V d), bf16.
    assert plan.update_temporaries == int(0.5 * P * 2 + 1.5 * 151936 * 896 * 2)
    assert plan.peak == plan.update_peak == (8 * P + plan.activations + plan.logprob_logits
                                             + plan.update_temporaries)
    checkpointed = get_preset("gpu_0.5b")
    checkpointed.model.gradient_checkpointing = True
    small = plan_run(checkpointed, QWEN_05B, prompt_tokens=256)
    assert small.activations == 8 * 1280 * (24 * 896 * 2 + (11 * 896 + 4 * 4864) * 2)
    assert small.activations < plan.activations / 10


def cpu_peak_of(fn) -> int:
    """Peak of torch's CPU allocations made while `fn` runs, above what existed before."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:  # allocations are positive, frees negative
        current += event.nbytes()
        peak = max(peak, current)
    return peak


@pytest.mark.slow
@pytest.mark.parametrize("checkpointing", [False, True])
def test_plan_within_25_percent_of_the_measured_peak_on_the_tiny_model(
        tmp_path, monkeypatch, checkpointing):
    """A random-init model of the tiny base's shape, the tiny preset (B = 16, G = 8,
    T = 80, micro-batches of 32): the second step's peak (AdamW state allocated by then)
    against the plan for the batch's prompt width."""
    base = BaseConfig()
    model, tokenizer = build_tiny_model(seed=0, hidden_size=base.hidden_size,
                                        num_layers=base.num_layers, num_heads=base.num_heads,
                                        num_kv_heads=base.num_kv_heads,
                                        intermediate_size=base.intermediate_size)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    config = get_preset("tiny")
    config.model.name_or_path = str(tmp_path / "model")
    config.model.gradient_checkpointing = checkpointing
    config.run.output_dir, config.run.device = str(tmp_path / "runs"), "cpu"
    config.logging.progress, config.eval.every_steps = False, 0
    widths = []                                 # (prompt, completion) width of each batch
    generate = trainer_module.generate_rollouts

    def recording(*args, **kwargs):
        rollout = generate(*args, **kwargs)
        widths.append((rollout.prompt_ids.shape[1], rollout.completion_ids.shape[1]))
        return rollout

    monkeypatch.setattr(trainer_module, "generate_rollouts", recording)
    run = trainer_module.Run(config)
    run.step()
    tensors = {id(p): p for p in run.model.parameters()}
    tensors.update({id(v): v for state in run.optimizer.state.values()
                    for v in state.values() if torch.is_tensor(v)})
    resident = sum(t.nbytes for t in tensors.values())   # weights + AdamW moments and steps
    measured = resident + cpu_peak_of(run.step)
    prompt_width, completion_width = widths[-1]
    config.sampling.max_new_tokens = completion_width     # 80 unless every row stopped
    plan = plan_run(config, ModelShape.from_hf_config(run.model.config),
                    prompt_tokens=prompt_width)
    # AdamW's step counters: one float32 scalar per parameter tensor.
    assert resident == plan.weights + plan.optimizer_state + 4 * len(run.optimizer.state)
    assert plan.update_peak > plan.generation_peak
    assert plan.peak == pytest.approx(measured, rel=0.25), (plan.peak, measured)


def test_cli_plan_reads_only_the_config(tmp_path, capsys):
    """`--plan` on a directory with config.json and no weights prints the 0.5B plan."""
    qwen25_05b_config().save_pretrained(tmp_path)
    assert not list(tmp_path.glob("*.safetensors"))
    assert main(["train", "--preset", "gpu_0.5b", "--plan", "--prompt-tokens", "256",
                 f"model.name_or_path={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "bfloat16, 24 layers, hidden 896, vocabulary 151,936" in out
    assert "parameters                       494,032,768" in out
    assert "weights + gradients + AdamW       3.68 GiB" in out
    assert "KV cache                        3.75 GiB" in out
    assert "completion tokens per step           262,144" in out
    assert main(["train", "--plan", f"model.name_or_path={tmp_path / 'absent'}"]) == 2
    assert f"model directory not found: {tmp_path / 'absent'}" in capsys.readouterr().err
