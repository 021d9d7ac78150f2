"""The tiny base model builder (`srpo_mini.base`): SFT data, cold-start mix, build, cache,
reload, shipped weights, and no bf16 on the CPU.

Checks that SFT batches mask the prompt and padding out of the loss; that the cold start
works math out at the configured share and answers directly otherwise, never with a wrong
answer; that a
quick `make_base` (a handful of steps on a very small model) writes a directory that
`AutoModelForCausalLM` / `AutoTokenizer` load back with identical logits, with a
`base_info.json` holding what it promises; that two builds with the same seed give the
same weights; that `ensure_tiny_base` builds once and then reuses its cache entry; that
the base shipped in the package is this recipe's; that the build never computes in
bfloat16 on a CPU; and that `srpo_mini.muon.Muon` is torch's Muon in float32. The slow
test reads the real tiny base (the `tiny_base_dir` fixture) and checks the room RL needs.

Run: python -m pytest tests/test_base.py -q        (add -m slow for the real base only)
"""

from __future__ import annotations

import json
import os
import random

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from srpo_mini.base import (  # noqa: E402
    BASE_VERSION, INFO_FILE, BaseConfig, base_dir_name, encode_sft_batch, ensure_tiny_base,
    make_base, cold_start_completion,
)
from srpo_mini.data.synthetic import generate  # noqa: E402
from srpo_mini.model import build_tokenizer  # noqa: E402
from srpo_mini.prompts import extract_answer_tag, format_completion  # noqa: E402

QUICK = BaseConfig(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                   intermediate_size=64, steps=3, batch_size=4, warmup_steps=1,
                   pool_per_level=8, eval_samples=1, max_new_tokens=4)


def test_sft_batch_masks_prompt_and_padding():
    """labels = -100 on prompt tokens and right padding; completion tokens kept as is."""
    tokenizer = build_tokenizer()
    prompts = ["User: Compute 1+1.\nAssistant:", "User: Hi\nAssistant:"]
    completions = [format_completion("1+1=2", "\\boxed{2}") + tokenizer.eos_token,
                   format_completion("-", "\\boxed{0}") + tokenizer.eos_token]
    batch = encode_sft_batch(tokenizer, prompts, completions)
    lengths = [len(tokenizer(p + c, add_special_tokens=False).input_ids)
               for p, c in zip(prompts, completions)]
    n_completion = [len(tokenizer(c, add_special_tokens=False).input_ids) for c in completions]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    assert (batch["labels"] != -100).sum(dim=1).tolist() == n_completion
    last = batch["labels"][0, lengths[0] - 1].item()
    assert last == tokenizer.eos_token_id  # the completion ends with EOS, which is learned
    assert (batch["labels"][1, lengths[1]:] == -100).all()


def test_cold_start_works_out_math_at_the_configured_share_and_never_writes_wrong_answers():
    """About worked_share of math completions carry the running sums, the rest an empty
    <think>; code always carries its plan; every answer is the gold one."""
    pool = generate("math", 3, 50, seed=0) + generate("code", 3, 20, seed=0)
    rng = random.Random(0)
    n, worked_math, n_math = 4000, 0, 0
    for i in range(n):
        worked = pool[i % len(pool)]
        text, worked_out = cold_start_completion(worked, rng, worked_share=0.3)
        assert extract_answer_tag(text) == worked.answer
        reasoning = worked.reasoning if worked_out else ""
        assert text == format_completion(reasoning, worked.answer)
        if worked.problem.domain == "code":
            assert worked_out
        else:
            n_math += 1
            worked_math += worked_out
    assert 0.27 < worked_math / n_math < 0.33
    assert cold_start_completion(pool[0], rng, worked_share=0.0) == (
        format_completion("", pool[0].answer), False)


def _logits(model, tokenizer, text):
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return model(**ids).logits


def test_quick_make_base_round_trip_gives_identical_logits(tmp_path):
    """A 3-step build reloads with the Auto classes and gives the very same logits."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = make_base(tmp_path / "base", seed=0, config=QUICK, evaluate_base=False,
                    progress=False)
    info = json.loads((out / INFO_FILE).read_text())
    assert info["version"] == BASE_VERSION and info["seed"] == 0
    assert info["sft"]["steps"] == 3 and info["sft"]["tokens"] > 0
    assert 0 < info["parameters"] < 100_000

    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.padding_side == "left"
    assert model.config.eos_token_id == tokenizer.eos_token_id
    text = "User: Compute 3+4*5.\nAssistant: <think> 4*5=20"
    again = AutoModelForCausalLM.from_pretrained(out).eval()
    assert torch.equal(_logits(model, tokenizer, text), _logits(again, tokenizer, text))

    # The in-memory model that was saved gives the same logits too.
    from srpo_mini.base import cold_start_sft
    from srpo_mini.model import build_tiny_model

    fresh, fresh_tokenizer = build_tiny_model(seed=0, hidden_size=32, num_layers=2,
                                              num_heads=2, num_kv_heads=1,
                                              intermediate_size=64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        cold_start_sft(fresh, fresh_tokenizer, seed=0, config=QUICK, progress=False)
    assert torch.equal(_logits(fresh.eval(), fresh_tokenizer, text),
                       _logits(model, tokenizer, text))


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    from transformers import AutoModelForCausalLM

    paths = [make_base(tmp_path / name, seed=seed, config=QUICK, evaluate_base=False,
                       progress=False) for name, seed in (("a", 1), ("b", 1), ("c", 2))]
    weights = [AutoModelForCausalLM.from_pretrained(p).state_dict() for p in paths]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_ensure_tiny_base_builds_once_then_reuses(tmp_path, monkeypatch):
    """The first call builds `<cache>/tiny_base-<version>-seed<s>`; the second reuses it;
    force rebuilds. $SRPO_MINI_CACHE sets the default cache directory."""
    from srpo_mini import base

    builds = []
    real_make_base = base.make_base

    def counting_make_base(out_dir, seed=0, **kwargs):
        builds.append(seed)
        return real_make_base(out_dir, seed=seed, config=QUICK, evaluate_base=False,
                              progress=False)

    monkeypatch.setattr(base, "make_base", counting_make_base)
    monkeypatch.setenv("SRPO_MINI_CACHE", str(tmp_path / "cache"))
    first = ensure_tiny_base(seed=3)
    assert first == tmp_path / "cache" / base_dir_name(3)
    assert base_dir_name(3) == f"tiny_base-{BASE_VERSION}-seed3"
    assert (first / INFO_FILE).exists() and (first / "config.json").exists()
    assert ensure_tiny_base(seed=3) == first
    assert builds == [3]
    ensure_tiny_base(seed=3, force=True)
    assert builds == [3, 3]
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # staging directories are cleaned up


@pytest.mark.slow
def test_real_tiny_base_leaves_room_for_reasoning(tiny_base_dir):
    """The room RL needs: the base solves most two-term sums but answers most longer ones
    directly and wrongly, while some of its samples work them out (pass@4 well above
    pass@1, greedy below pass@1); worked-out samples are longer, so the mean length grows
    with the level. Ranges, not exact values: weights built on other CPUs differ in their
    last bits."""
    info = json.loads((tiny_base_dir / INFO_FILE).read_text())
    assert 0.27 <= info["sft"]["worked_math"] <= 0.33
    levels = info["accuracy"]["levels"]["math"]
    assert levels["1"]["pass@1"] >= 0.6
    for level in ("3", "4", "5"):
        assert levels[level]["pass@1"] <= 0.4
        assert levels[level]["pass@4"] >= levels[level]["pass@1"] + 0.2
        assert levels[level]["greedy_accuracy"] < levels[level]["pass@1"]
    assert levels["5"]["mean_length"] > levels["1"]["mean_length"] + 5
    code = info["accuracy"]["summary"]["code"]
    assert 0.5 <= code["pass@1"] <= 0.95
    assert 1_000_000 <= info["parameters"] <= 5_000_000


def test_base_build_never_computes_in_bfloat16_on_cpu():
    """Two SFT steps on the CPU with Muon on: no op produces a bfloat16 tensor.

    On CPUs without native bf16 matrix multiply (AVX2 only) every bf16 matmul is emulated;
    torch.optim.Muon's bf16 Newton-Schulz iteration made the base build about 7x slower.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    from srpo_mini.base import cold_start_sft
    from srpo_mini.model import build_tiny_model

    class DtypeLog(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.bf16_ops = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for tensor in torch.utils._pytree.tree_leaves(out):
                if isinstance(tensor, torch.Tensor) and tensor.dtype == torch.bfloat16:
                    self.bf16_ops.add(str(func))
            return out

    model, tokenizer = build_tiny_model(seed=0, hidden_size=32, num_layers=2, num_heads=2,
                                        num_kv_heads=1, intermediate_size=64)
    config = BaseConfig(**{**QUICK.__dict__, "steps": 2})
    assert config.optimizer == "muon"
    log = DtypeLog()
    with log:
        cold_start_sft(model, tokenizer, seed=0, config=config, progress=False)
    assert log.bf16_ops == set()


def test_muon_matches_torch_muon_in_float32():
    """srpo_mini.muon.Muon is torch.optim.Muon(adjust_lr_fn="match_rms_adamw") with the
    Newton-Schulz iteration in float32: three steps agree to float32 rounding when torch's
    bf16 cast is replaced by float32, and to bf16 rounding otherwise."""
    from srpo_mini.muon import Muon

    if not hasattr(torch.optim, "Muon"):
        pytest.fail("torch.optim.Muon is needed for the reference (torch >= 2.9)")

    torch.manual_seed(0)
    start = torch.randn(96, 32)
    grads = [torch.randn(96, 32) for _ in range(3)]

    def run(optimizer_class, **kwargs):
        weight = torch.nn.Parameter(start.clone())
        optimizer = optimizer_class([weight], lr=1e-2, weight_decay=0.01, **kwargs)
        for grad in grads:
            weight.grad = grad.clone()
            optimizer.step()
        return weight.detach()

    ours = run(Muon)
    reference_bf16 = run(torch.optim.Muon, adjust_lr_fn="match_rms_adamw")
    original = torch.Tensor.bfloat16
    torch.Tensor.bfloat16 = lambda self: self.float()  # the reference, iterated in float32
    try:
        reference_fp32 = run(torch.optim.Muon, adjust_lr_fn="match_rms_adamw")
    finally:
        torch.Tensor.bfloat16 = original
    assert (ours - start).abs().max() > 1e-3  # the steps moved the weights
    torch.testing.assert_close(ours, reference_fp32, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours, reference_bf16, rtol=0, atol=5e-3)


def test_shipped_base_matches_this_recipe_and_a_reduced_rebuild(tmp_path, monkeypatch):
    """The base shipped in srpo_mini/weights is this module's version and recipe, and a
    reduced-step `make_base` writes the same files and architecture; `ensure_tiny_base`
    serves the shipped base when the cache is empty, never for a custom config."""
    from transformers import AutoConfig

    from srpo_mini import base

    shipped = base.SHIPPED_DIR / base_dir_name(0)
    assert (shipped / INFO_FILE).exists(), f"no shipped base at {shipped}"
    info = json.loads((shipped / INFO_FILE).read_text())
    assert info["version"] == BASE_VERSION
    assert info["config"] == json.loads(json.dumps(base.asdict(BaseConfig())))
    assert base.shipped_base(0) == shipped

    monkeypatch.setenv("SRPO_MINI_CACHE", str(tmp_path / "cache"))
    assert ensure_tiny_base(seed=0) == shipped
    assert not (tmp_path / "cache").exists()  # nothing was built

    reduced = BaseConfig(steps=4, warmup_steps=1, pool_per_level=8)
    rebuilt = make_base(tmp_path / "rebuilt", seed=0, config=reduced, evaluate_base=False,
                        progress=False)
    assert {p.name for p in rebuilt.iterdir()} == {p.name for p in shipped.iterdir()}
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "intermediate_size", "tie_word_embeddings")
    ours, theirs = AutoConfig.from_pretrained(rebuilt), AutoConfig.from_pretrained(shipped)
    assert {k: getattr(ours, k) for k in keys} == {k: getattr(theirs, k) for k in keys}
    rebuilt_info = json.loads((rebuilt / INFO_FILE).read_text())
    assert rebuilt_info["parameters"] == info["parameters"]

    calls = []

    def quick_build(out, seed=0, **kwargs):
        calls.append(out)
        return make_base(out, seed=seed, config=QUICK, evaluate_base=False, progress=False)

    monkeypatch.setattr(base, "make_base", quick_build)
    custom = ensure_tiny_base(seed=0, config=QUICK)
    assert custom == tmp_path / "cache" / base_dir_name(0) and len(calls) == 1
