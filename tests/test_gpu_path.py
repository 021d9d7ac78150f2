"""The `gpu_0.5b` preset's code path, end to end on a CPU, with local stand-ins for the hub.

What it checks (srpo_mini.standins builds the stand-ins):
- a randomly initialised Qwen2 model of Qwen2.5-0.5B's vocabulary (151,936) and width
  (896, 14 query / 2 KV heads, tied embeddings), 2 layers instead of 24, a Qwen-style
  tokenizer (<|im_start|>, <|im_end|> as EOS, <|endoftext|> as pad, chat template), and
  GSM8K (the real file in ../shared/data/real/), MATH and MBPP rows in their hub layouts
  read by the preset's adapters;
- `Run` on the preset with B = 2, G = 2, 16 new tokens: the chat template, left padding,
  gradient checkpointing, the soft-overlong reward, stage 1 (math) then stage 2 (math +
  code), a checkpoint per step, and a resume that restores every part of the last one;
- bf16, the preset's dtype: generation and the log-prob pass in bf16 on this shape, and a
  clear message where a device cannot run it.

The end-to-end run uses float32: on a CPU without native bf16 (AVX2), one bf16 update of
this shape takes minutes (BENCHMARKS.md, "The gpu_0.5b path"), too long for CI;
`benchmarks/bench_gpu.py` runs whole steps of the same loop in bf16 and at full depth.

Run: python -m pytest tests/test_gpu_path.py -q   (slow: 60 s on 2 cores, 155 s when they are busy)
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srpo_mini import checkpoint as ckpt
from srpo_mini.config import get_preset, validate
from srpo_mini.data.schema import Problem
from srpo_mini.logprobs import per_token_logps
from srpo_mini.model import check_dtype, load_model
from srpo_mini.prompts import R1_ZERO_PREAMBLE, render_prompt
from srpo_mini.ledger import read_ledger
from srpo_mini.rewards import soft_overlong_penalty
from srpo_mini.sampler import generate_rollouts
from srpo_mini.standins import (IM_END, IM_START, QWEN25_05B, SPECIAL_IDS, offline_config,
                                standin_files, write_standin_model)
from srpo_mini.trainer import Run

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*:FutureWarning")]

ROOT = Path(__file__).resolve().parents[1]
REAL_GSM8K = ROOT / ".." / "shared" / "data" / "real" / "gsm8k_test.jsonl"
FILES = standin_files(ROOT)          # the preset's hub datasets -> local files
LAYERS, MAX_NEW_TOKENS, BUFFER = 2, 16, 15


@pytest.fixture(scope="module")
def standin_dir(tmp_path_factory):
    """The 2-layer Qwen2.5-0.5B-shaped model (stops after about 4 tokens) and tokenizer."""
    assert REAL_GSM8K.is_file(), f"the real GSM8K file is missing: {REAL_GSM8K}"
    texts = [R1_ZERO_PREAMBLE] + [path.read_text(encoding="utf-8") for path in FILES.values()]
    return write_standin_model(tmp_path_factory.mktemp("qwen") / "model", texts,
                               num_layers=LAYERS, dtype=torch.float32, stop_probability=0.25)


def preset_config(model_dir, output_dir, name):
    """`gpu_0.5b` on the stand-ins, CPU-sized: B = 2, G = 2, 16 new tokens, one step per
    stage, a checkpoint every step, the held-out sets cut to 1 problem per domain."""
    config = get_preset("gpu_0.5b")
    offline_config(config, model_dir, FILES)
    config.data.train_hub[0].limit = 4                 # 4 of the 1,319 GSM8K rows
    config.data.eval_limit = 1
    config.run.output_dir, config.run.name, config.run.device = str(output_dir), name, "cpu"
    config.run.dtype = "float32"                       # see the module docstring
    config.model.gradient_checkpointing = True
    config.sampling.prompts_per_step, config.sampling.group_size = 2, 2
    config.sampling.max_new_tokens, config.sampling.generation_batch_size = MAX_NEW_TOKENS, 4
    # A 15-token buffer: every length above 1 is penalised, so the lengths of a group's
    # completions (not their accuracy, 0 for random weights) set its advantages.
    config.rewards.overlong_buffer = BUFFER
    config.optim.micro_batch_size = 4
    config.optim.lr, config.optim.warmup_steps = 1e-4, 0   # a visible step (see README: bf16)
    config.stages[0].steps = config.stages[1].steps = 1
    config.eval.every_steps, config.eval.n_samples, config.eval.k_values = 0, 2, [1, 2]
    config.checkpoint.every_steps = 1
    config.logging.progress = False
    validate(config)
    return config


@pytest.fixture(scope="module")
def preset_run(standin_dir, tmp_path_factory):
    """Two steps of the preset (math, then math + code); keeps the Run to look inside."""
    output_dir = tmp_path_factory.mktemp("runs")
    config = preset_config(standin_dir, output_dir, "whole")
    initial = {k: v.clone() for k, v in load_file(standin_dir / "model.safetensors").items()}
    run = Run(config)
    summary = run.train()
    return {"run": run, "summary": summary, "config": config, "initial": initial,
            "output_dir": output_dir}


def records(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def test_preset_loads_the_standins_through_its_adapters(preset_run):
    """The preset's six datasets come through the gsm8k, math and mbpp adapters."""
    run = preset_run["run"]
    train_sources = sorted({p.id.split("/")[0] for p in run.train_problems})
    assert train_sources == ["gsm8k", "math", "mbpp"]
    assert sum(p.id.startswith("gsm8k/") for p in run.train_problems) == 4
    assert {p.domain for p in run.eval_problems} == {"math", "code"}
    assert len(run.eval_problems) == 2                 # eval_limit = 1 per domain
    model = run.model
    assert model.config.vocab_size == QWEN25_05B["vocab_size"] == 151936
    assert model.config.hidden_size == 896 and model.config.num_hidden_layers == LAYERS
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight
    assert model.is_gradient_checkpointing and not model.config.use_cache


def test_chat_template_and_left_padding(preset_run):
    """Prompts are rendered with the chat template and left-padded, ending flush with the
    assistant header; the stop ids are <|im_end|> and <|endoftext|>."""
    run = preset_run["run"]
    tokenizer = run.tokenizer
    problems = run.train_problems[:2]
    prompts = [render_prompt(p, "chat", tokenizer) for p in problems]
    assert all(p.startswith(f"{IM_START}system\n" + R1_ZERO_PREAMBLE) for p in prompts)
    assert all(p.endswith(f"{IM_START}assistant\n") for p in prompts)
    encoded = tokenizer(prompts, padding=True, add_special_tokens=False, return_tensors="pt")
    lengths = encoded["attention_mask"].sum(dim=1)
    assert lengths[0] != lengths[1], "pick prompts of different lengths"
    short = int(lengths.argmin())
    assert encoded["attention_mask"][short, 0] == 0 and encoded["attention_mask"][short, -1] == 1
    assert encoded["input_ids"][short, 0] == tokenizer.pad_token_id == SPECIAL_IDS["<|endoftext|>"]
    assert tokenizer.eos_token == IM_END and tokenizer.eos_token_id == 151645
    assert run.model.generation_config.eos_token_id == [151645, 151643]


def test_two_steps_cross_both_stages_with_soft_overlong_rewards(preset_run):
    """Step 1 trains math only, step 2 math + code; the reward is the soft-overlong
    penalty (accuracy 0 for random weights), the loss finite and the weights changed."""
    run, config = preset_run["run"], preset_run["config"]
    steps = [r for r in records(run.run_dir) if "reward" in r]
    assert [(r["step"], r["stage"]) for r in steps] == [(1, "math"), (2, "math+code")]
    assert run.schedule.switches[0]["from"] == "math" and run.schedule.done
    ledger = read_ledger(run.run_dir / "ledger.jsonl")
    assert {r["stage"] for r in ledger} == {"math", "math+code"}
    assert any(r["prompt_id"].startswith("mbpp/") for r in ledger if r["stage"] == "math+code")
    for r in steps:
        assert r["accuracy"] == 0.0 and r["completion_length"] <= MAX_NEW_TOKENS
        assert 0 < r["grad_norm"] < float("inf") and abs(r["loss"]) < 10
        assert -1.0 <= r["reward"] < 0.0               # every completion longer than 1 token
        # mean reward = mean penalty, which is linear in the length below the cap:
        # (1 - L) / 15 for L <= 16, so mean over rows = (1 - mean L) / 15 when none is cut.
        if r["truncation_rate"] == 0:
            assert r["reward"] == pytest.approx((1 - r["completion_length"]) / BUFFER, abs=1e-6)
    penalty = soft_overlong_penalty(torch.tensor([1, 9, 16, 17]), MAX_NEW_TOKENS, BUFFER)
    assert penalty.tolist() == pytest.approx([0.0, -8 / 15, -1.0, -1.0])
    trained = run.model.state_dict()
    changed = [name for name, value in preset_run["initial"].items()
               if not torch.equal(value, trained[name])]
    assert "model.embed_tokens.weight" in changed and len(changed) > 10
    assert config.sampling.max_new_tokens == 16 and config.model.template == "chat"


def test_resume_restores_the_real_shape_checkpoint(preset_run):
    """Resuming from the last checkpoint restores weights (tied embedding included),
    AdamW's moments, the pool, the schedule and the Qwen-style tokenizer; the finished
    run then trains nothing more. (An interrupted run resuming mid-way and ending like
    the uninterrupted one is checked on the tiny model in test_trainer.py.)"""
    whole, config = preset_run["run"], preset_run["config"]
    checkpoints = ckpt.list_checkpoints(whole.run_dir)
    assert [c.name for c in checkpoints] == ["step_00000001", "step_00000002"]
    run = Run(config, resume=True)
    assert run.resumed_from == checkpoints[-1] and run.state.step == 2
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, run.model.state_dict()[name]), name
    assert run.model.get_input_embeddings().weight is run.model.get_output_embeddings().weight
    for group, restored in zip(whole.optimizer.state.values(), run.optimizer.state.values()):
        assert torch.equal(group["exp_avg"], restored["exp_avg"])
        assert torch.equal(group["exp_avg_sq"], restored["exp_avg_sq"])
    assert run.pool.state_dict() == whole.pool.state_dict()
    assert run.schedule.state_dict() == whole.schedule.state_dict() and run.schedule.done
    assert run.tokenizer.chat_template == whole.tokenizer.chat_template
    assert run.tokenizer.convert_tokens_to_ids([IM_START, IM_END]) == [151644, 151645]
    summary = run.train()
    assert summary["steps"] == 2 and len(records(run.run_dir)) == len(records(whole.run_dir))


def test_bf16_generation_and_log_probs_on_the_05b_shape(standin_dir):
    """The preset's dtype on this shape: bf16 weights generate G = 2 left-padded chat
    completions that stop at <|im_end|> / <|endoftext|>, and the bf16 log-prob pass
    agrees with float32 within bf16's precision."""
    model, tokenizer = load_model(standin_dir, device="cpu", dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    template = get_preset("gpu_0.5b").model.template
    prompts = [render_prompt(Problem(id=str(i), domain="math", prompt=text, answer="5"),
                             template, tokenizer)
               for i, text in enumerate(["What is 2 + 3?", "Natalia sold 48 clips. How many?"])]
    rollout = generate_rollouts(model, tokenizer, prompts, group_size=2,
                                max_new_tokens=MAX_NEW_TOKENS, seed=0)
    assert rollout.completion_ids.shape[0] == 4 and rollout.prompt_mask[0, 0] == 0
    stops = torch.isin(rollout.completion_ids, torch.tensor([151645, 151643]))
    lengths = rollout.completion_lengths
    for row in range(4):                               # the mask ends at the first stop
        if not rollout.truncated[row]:
            assert stops[row, lengths[row] - 1]
            assert not stops[row, :lengths[row] - 1].any()
    assert (~rollout.truncated).any() and lengths.max() <= MAX_NEW_TOKENS
    bf16 = per_token_logps(model, rollout)
    fp32 = per_token_logps(model.float(), rollout)
    mask = rollout.completion_mask.bool()
    assert bf16.dtype == fp32.dtype == torch.float32   # scored in float32 either way
    assert (bf16 - fp32)[mask].abs().max() < 0.25
    assert not torch.equal(bf16[mask], fp32[mask])     # the bf16 pass did run in bf16


def test_unsupported_dtype_is_a_clear_error(monkeypatch):
    """bf16 on a GPU without it (compute capability < 8.0) stops before loading weights,
    naming the device and the alternatives; CPU bf16 is accepted."""
    check_dtype("cpu", torch.bfloat16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    with pytest.raises(ValueError, match=r"run.dtype=bfloat16 is not supported on cuda "
                                         r"\(Tesla T4, compute capability 7.5;.*float16"):
        check_dtype("cuda", torch.bfloat16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="run.device=cuda but CUDA is not available"):
        check_dtype("cuda", torch.bfloat16)
