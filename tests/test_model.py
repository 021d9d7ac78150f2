"""Model loading and the offline tiny model: tokenizer, save/load round trip, `load_model`.

Checks that the in-process byte-level tokenizer decodes back exactly what it encoded
(template tags, code, unicode), that it pads on the left, that a tiny Qwen2 model saved
with `save_pretrained` and read back with `AutoModelForCausalLM` / `AutoTokenizer`
gives identical logits, that `load_model` on a local directory returns an fp32 CPU model
with a pad token and left padding, and that a missing directory fails clearly.
No test reaches the network: the hub is set offline and sockets refuse to connect.

Run: python -m pytest tests/test_model.py -q
"""

from __future__ import annotations

import os
import socket

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from srpo_mini.model import (  # noqa: E402
    EOS_TOKEN, EXTRA_PIECES, PAD_TOKEN, build_tiny_model, build_tokenizer, count_parameters,
    default_dtype, load_model, load_tokenizer,
)
from srpo_mini.prompts import TAGS  # noqa: E402

# Small enough to build and run in well under a second on a CPU.
SMALL = dict(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
             intermediate_size=64, max_positions=64)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Hub offline and sockets that refuse to connect: a test that tries, fails loudly."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def saved_dir(tmp_path_factory):
    """A tiny model and its tokenizer written with save_pretrained."""
    path = tmp_path_factory.mktemp("tiny_model")
    model, tok = build_tiny_model(seed=3, **SMALL)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


TEXTS = [
    " <think> 3 * 4 = 12 </think> <answer> \\boxed{12} </answer>",
    "Simplify $\\frac{6}{8}$ → \\boxed{\\frac{3}{4}}",
    "```python\ndef add(a, b):\n    return a + b\n\nprint(add(int(input()), 2))\n```",
    "π ≈ 3.14159 — naïve café, 日本語, emoji 🙂, tab\there, CRLF\r\n",
    "   spaces   around   ",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_round_trip(text, tokenizer):
    """decode(encode(text)) == text, byte for byte."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text
    assert all(0 <= i < len(tokenizer) for i in ids)


def test_tokenizer_vocabulary(tokenizer):
    """256 bytes + EOS + PAD + the tags and pieces; each tag and piece is one token."""
    assert len(tokenizer) == 256 + 2 + len(TAGS) + len(EXTRA_PIECES)
    assert (tokenizer.eos_token, tokenizer.pad_token) == (EOS_TOKEN, PAD_TOKEN)
    assert tokenizer.eos_token_id != tokenizer.pad_token_id
    for piece in TAGS + EXTRA_PIECES:
        assert len(tokenizer.encode(piece, add_special_tokens=False)) == 1, piece
    # One token per byte otherwise: "é" is two UTF-8 bytes.
    assert len(tokenizer.encode("é", add_special_tokens=False)) == 2
    # Special tokens are dropped on request, kept otherwise.
    ids = tokenizer.encode("ok", add_special_tokens=False) + [tokenizer.eos_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "ok"
    assert tokenizer.decode(ids) == "ok" + EOS_TOKEN


def test_tokenizer_is_deterministic_and_pads_left(tokenizer):
    """Two builds give the same ids; a batch is padded on the left with PAD, mask 0."""
    again = build_tokenizer()
    assert again.get_vocab() == tokenizer.get_vocab()
    batch = tokenizer(["a", "abcd"], padding=True, return_tensors="pt")
    assert tokenizer.padding_side == "left"
    assert batch["input_ids"].shape == (2, 4)
    assert batch["input_ids"][0, :3].tolist() == [tokenizer.pad_token_id] * 3
    assert batch["attention_mask"].tolist() == [[0, 0, 0, 1], [1, 1, 1, 1]]


def test_tiny_model_size_and_seed():
    """The default tiny model has 1-5M parameters; the seed fixes the initial weights."""
    model, tok = build_tiny_model()
    assert 1_000_000 <= count_parameters(model) <= 5_000_000
    assert model.config.model_type == "qwen2"
    assert model.config.vocab_size == len(tok)
    first, _ = build_tiny_model(seed=1, **SMALL)
    second, _ = build_tiny_model(seed=1, **SMALL)
    other, _ = build_tiny_model(seed=2, **SMALL)
    weights = [m.model.embed_tokens.weight for m in (first, second, other)]
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])
    assert first.dtype == torch.float32


def test_save_pretrained_round_trip_gives_identical_logits(saved_dir):
    """AutoModelForCausalLM / AutoTokenizer.from_pretrained reproduce ids and logits exactly."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = build_tiny_model(seed=3, **SMALL)
    loaded = AutoModelForCausalLM.from_pretrained(saved_dir)
    loaded_tok = AutoTokenizer.from_pretrained(saved_dir)

    texts = ["<think> 1+1 </think> <answer> \\boxed{2} </answer>", "π"]
    batch = tok(texts, padding=True, return_tensors="pt")
    loaded_batch = loaded_tok(texts, padding=True, return_tensors="pt")
    assert torch.equal(batch["input_ids"], loaded_batch["input_ids"])
    assert loaded_tok.padding_side == "left"
    model.eval()
    loaded.eval()
    with torch.no_grad():
        logits = model(**batch).logits
        loaded_logits = loaded(**loaded_batch).logits
    assert logits.shape == (2, batch["input_ids"].shape[1], len(tok))
    assert torch.equal(logits, loaded_logits)


def test_load_model_on_a_local_dir(saved_dir):
    """fp32 on CPU, pad token set and used by generate, left padding."""
    model, tok = load_model(saved_dir, device="cpu")
    assert default_dtype("cpu") == torch.float32
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert tok.pad_token == PAD_TOKEN and tok.padding_side == "left"
    assert model.generation_config.pad_token_id == tok.pad_token_id
    model, _ = load_model(str(saved_dir), device="cpu", dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16


def test_load_tokenizer_adds_a_missing_pad_token(tmp_path):
    """A tokenizer saved without PAD and with right padding loads with PAD = EOS, left."""
    tok = build_tokenizer()
    tok.pad_token = None
    tok.padding_side = "right"
    tok.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.pad_token == EOS_TOKEN
    assert loaded.pad_token_id == loaded.eos_token_id
    assert loaded.padding_side == "left"


@pytest.mark.parametrize("where", ["absolute", "relative", "nested"])
def test_missing_local_dir_is_a_clear_error(where, tmp_path):
    """A path that does not exist fails as FileNotFoundError naming it (no hub lookup)."""
    path = {"absolute": str(tmp_path / "no_model"),
            "relative": "./no_model_here",
            "nested": "runs/x/checkpoints/none"}[where]
    with pytest.raises(FileNotFoundError, match="model directory not found: .*no"):
        load_model(path, device="cpu")


def test_unknown_hub_name_offline_says_what_was_tried():
    """A name that is no local dir and cannot come from the hub says both."""
    with pytest.raises(OSError, match="'nobody/no-such-model' is not a local directory"):
        load_model("nobody/no-such-model", device="cpu")


def test_position_ids_count_from_each_rows_first_real_token():
    from srpo_mini.model import position_ids

    mask = torch.tensor([[0, 0, 1, 1],    # two pads on the left: positions start at column 2
                         [1, 1, 1, 1]])   # no padding: 0..3
    assert position_ids(mask).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]


def test_prefill_cache_copied_to_rows_continues_like_a_full_pass():
    """A prompt's cache, copied to two rows, then one more token: the same logits as one
    pass over prompt + token (what the sampler and the log-prob scorer rely on)."""
    from srpo_mini.model import cache_keyword, copy_cache_to_rows, last_logits_kwargs, prefill

    model, tokenizer = build_tiny_model(seed=0, **SMALL)
    model.eval()
    assert last_logits_kwargs(model, 3) == {"logits_to_keep": 3}
    ids = torch.tensor([[5, 6, 7]])  # (U=1, P=3)
    mask = torch.ones_like(ids)
    nxt = torch.tensor([[8], [9]])  # one token per row, (n=2, 1)
    with torch.no_grad():
        prefix = prefill(model, ids, mask)
        assert prefix.logits.shape == (1, 1, len(tokenizer))  # only the last position
        cache = copy_cache_to_rows(prefix, torch.tensor([0, 0]))
        rest = model(input_ids=nxt, attention_mask=torch.ones(2, 4, dtype=torch.long),
                     position_ids=torch.tensor([[3], [3]]), use_cache=True,
                     **{cache_keyword(model): cache}).logits  # (2, 1, V)
        full = model(input_ids=torch.cat([ids.repeat(2, 1), nxt], dim=1)).logits[:, -1:]
    assert torch.allclose(rest, full, atol=1e-5)
