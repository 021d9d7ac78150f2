"""Sampler and log-prob pass on an offline tiny model (random init, built in-process).

Checks: rollout shapes and group layout, left padding, completion masks that end at the
first EOS, truncation flags, determinism per seed (without moving the caller's RNG),
greedy completions unchanged by batching/padding/chunking, and per-token log-probs equal
to a naive full-vocabulary computation and to the sampler's own logits.

A random-init model almost never emits EOS, so `eos_after` adds a forward hook that
raises the EOS logit after a trigger token (and optionally makes the trigger likely):
completions then stop at varied, known places.

Run: python -m pytest tests/test_sampler.py -q
"""

import re

import pytest
import torch

from srpo_mini.logprobs import per_token_logps
from srpo_mini.model import build_tiny_model
from srpo_mini.sampler import (RolloutBatch, completion_mask_from_ids, concat_rollouts,
                               generate_rollouts)

PROMPTS = ["User: 2+2?\nAssistant:", "Hi", "User: write a program that prints 7\nAssistant:"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Matrices this small run faster on one thread, and do not stall when other
    processes hold the cores (OpenMP threads spin-waiting for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_tiny_model(seed=0, hidden_size=32, num_layers=2, num_heads=4,
                                        num_kv_heads=2, intermediate_size=64)
    model.eval()
    return model, tokenizer


def eos_after(model, trigger_id, eos_id, trigger_bias=0.0):
    """Hook: EOS logit +1e4 where the input token is `trigger_id`; trigger logit +bias."""
    def hook(module, args, kwargs, output):
        input_ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        logits = output.logits
        after_trigger = (input_ids[:, -logits.shape[1]:] == trigger_id).to(logits.dtype)
        bias = torch.zeros(logits.shape[-1], dtype=logits.dtype)
        bias[trigger_id] = trigger_bias
        output.logits = logits + bias + 1e4 * after_trigger.unsqueeze(-1) * (
            torch.arange(logits.shape[-1]) == eos_id).to(logits.dtype)
        return output
    return model.register_forward_hook(hook, with_kwargs=True)


def test_shapes_layout_and_left_padding(tiny):
    """B=3 prompts x G=2: 6 rows, row i*G+j answers prompt i, prompts flush right."""
    model, tokenizer = tiny
    rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=2, max_new_tokens=5,
                                seed=0)
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    P = max(lengths)
    assert isinstance(rollout, RolloutBatch) and len(rollout) == 6
    assert rollout.prompt_ids.shape == (6, P) and rollout.prompt_mask.shape == (6, P)
    assert rollout.completion_ids.shape[0] == 6 and rollout.completion_ids.shape[1] <= 5
    assert rollout.group_index.tolist() == [0, 0, 1, 1, 2, 2]
    assert rollout.group_size == 2 and len(rollout.texts) == 6
    assert rollout.prompt_mask.sum(1).tolist() == [n for n in lengths for _ in range(2)]
    for row in range(6):
        n = int(rollout.prompt_mask[row].sum())
        assert rollout.prompt_mask[row, P - n:].all()  # left padding: real tokens at the end
        assert (rollout.prompt_ids[row, :P - n] == tokenizer.pad_token_id).all()
    assert rollout.input_ids.shape == (6, P + rollout.completion_ids.shape[1])
    torch.testing.assert_close(rollout.attention_mask[:, :P], rollout.prompt_mask)


def test_masks_end_at_first_eos_and_truncation_is_flagged(tiny):
    """With EOS after a likely trigger token, every stopped row's mask covers exactly
    the tokens through its first EOS; rows without EOS are truncated at max_new_tokens."""
    model, tokenizer = tiny
    eos, trigger = tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("x")
    handle = eos_after(model, trigger, eos, trigger_bias=4.0)
    try:
        rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=8,
                                    max_new_tokens=12, seed=3)
    finally:
        handle.remove()
    lengths = rollout.completion_mask.sum(1)
    stopped = ~rollout.truncated
    assert 0 < int(stopped.sum()) < len(rollout), "want both stopped and truncated rows"
    assert len(set(lengths[stopped].tolist())) > 2, "want varied completion lengths"
    for row in range(len(rollout)):
        ids, mask, n = rollout.completion_ids[row], rollout.completion_mask[row], int(lengths[row])
        assert mask[:n].all() and not mask[n:].any()  # a prefix of ones
        if rollout.truncated[row]:
            assert n == 12 and eos not in ids.tolist()
        else:
            assert ids[n - 1] == eos and eos not in ids[:n - 1].tolist()
            assert ids[n - 2] == trigger if n >= 2 else True
            assert (ids[n:] == tokenizer.pad_token_id).all()
        assert rollout.texts[row] == tokenizer.decode(ids[:n], skip_special_tokens=True)


def test_all_rows_truncated_when_eos_never_comes(tiny):
    """EOS logit pushed down everywhere: every row truncated, T = max_new_tokens, mask 1."""
    model, tokenizer = tiny
    eos = tokenizer.eos_token_id

    def suppress_eos(module, args, output):
        output.logits = output.logits.index_fill(-1, torch.tensor([eos]), -1e4)
        return output

    handle = model.register_forward_hook(suppress_eos)
    try:
        rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=2, max_new_tokens=7,
                                    seed=0)
    finally:
        handle.remove()
    assert rollout.truncated.tolist() == [True] * 6
    assert rollout.completion_mask.shape == (6, 7) and rollout.completion_mask.all()


def test_prompt_ending_in_trigger_stops_at_once(tiny):
    """Prompt ending in the trigger: completion is [EOS], length 1, not truncated."""
    model, tokenizer = tiny
    eos, trigger = tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("x")
    handle = eos_after(model, trigger, eos)
    try:
        rollout = generate_rollouts(model, tokenizer, ["max", "hello"], group_size=2,
                                    max_new_tokens=6, seed=0)
    finally:
        handle.remove()
    assert rollout.completion_mask.sum(1).tolist()[:2] == [1, 1]
    assert rollout.completion_ids[:2, 0].tolist() == [eos, eos]
    assert rollout.truncated.tolist()[:2] == [False, False]
    assert rollout.texts[:2] == ["", ""]


def test_pad_equal_to_eos_does_not_end_rows_early():
    """With PAD == EOS (common for hub models), chunks that finish early are padded with
    the EOS id; masks and truncation flags must still come from each row's own tokens."""
    model, tokenizer = build_tiny_model(seed=1, hidden_size=32, num_layers=2, num_heads=4,
                                        num_kv_heads=2, intermediate_size=64)
    tokenizer.pad_token = tokenizer.eos_token
    eos, trigger = tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("x")
    handle = eos_after(model, trigger, eos)
    try:
        # chunk 1 = the "max" rows (stop at once, T_chunk = 1); chunk 2 runs to 5 tokens.
        rollout = generate_rollouts(model, tokenizer, ["max", "hello"], group_size=2,
                                    max_new_tokens=5, generation_batch_size=2, greedy=True)
    finally:
        handle.remove()
    lengths = rollout.completion_mask.sum(1).tolist()
    assert lengths[:2] == [1, 1] and rollout.truncated.tolist()[:2] == [False, False]
    if eos not in rollout.completion_ids[2].tolist():  # the "hello" rows ran to the cap
        assert lengths[2:] == [5, 5] and rollout.truncated.tolist()[2:] == [True, True]


@pytest.mark.parametrize("ids, expected_mask, expected_truncated", [
    ([5, 6, 9, 7], [1, 1, 1, 0], False),  # EOS (9) at index 2, included
    ([9, 9, 9, 9], [1, 0, 0, 0], False),  # only the first EOS counts
    ([5, 6, 7, 4], [1, 1, 1, 1], True),  # no EOS: truncated, all tokens count
    ([5, 6, 7, 9], [1, 1, 1, 1], False),  # EOS as the very last token: not truncated
    ([5, 8, 7, 1], [1, 1, 0, 0], False),  # any stop id (8 here) ends the completion
])
def test_completion_mask_case_table(ids, expected_mask, expected_truncated):
    """completion_mask_from_ids with stop ids {9, 8}."""
    mask, truncated = completion_mask_from_ids(torch.tensor([ids]), [9, 8])
    assert mask.tolist() == [expected_mask], f"ids {ids}"
    assert truncated.tolist() == [expected_truncated], f"ids {ids}"


def test_same_seed_same_rollouts_and_caller_rng_untouched(tiny):
    """Same seed -> identical completions; another seed -> different ones; the global
    torch RNG is where the caller left it."""
    model, tokenizer = tiny
    state = torch.get_rng_state()
    a = generate_rollouts(model, tokenizer, PROMPTS, group_size=3, max_new_tokens=8, seed=7)
    b = generate_rollouts(model, tokenizer, PROMPTS, group_size=3, max_new_tokens=8, seed=7)
    c = generate_rollouts(model, tokenizer, PROMPTS, group_size=3, max_new_tokens=8, seed=8)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.completion_ids, b.completion_ids) and a.texts == b.texts
    assert not torch.equal(a.completion_ids, c.completion_ids)
    # the G samples of one prompt differ from each other (temperature 1, 272 tokens)
    assert len({tuple(row) for row in a.completion_ids[:3].tolist()}) == 3


def test_model_generation_defaults_are_ignored_and_restored(tiny):
    """A checkpoint's own generation_config (here an extreme repetition penalty) must not
    change what the sampler draws, and is back in place afterwards."""
    model, tokenizer = tiny
    plain = generate_rollouts(model, tokenizer, PROMPTS, group_size=2, max_new_tokens=8,
                              seed=5)
    saved = model.generation_config
    saved.repetition_penalty, saved.top_k = 100.0, 3
    try:
        again = generate_rollouts(model, tokenizer, PROMPTS, group_size=2, max_new_tokens=8,
                                  seed=5)
    finally:
        saved.repetition_penalty, saved.top_k = None, None
    assert model.generation_config is saved
    assert torch.equal(plain.completion_ids, again.completion_ids)


def test_greedy_completion_unchanged_by_padding_and_chunking(tiny):
    """Greedy: each prompt's completion in a left-padded batch, in chunks of 2, equals
    its completion generated alone (no padding)."""
    model, tokenizer = tiny
    prompts = PROMPTS + ["def f(x):\n    return", "1"]
    batched = generate_rollouts(model, tokenizer, prompts, group_size=1, max_new_tokens=10,
                                greedy=True)
    chunked = generate_rollouts(model, tokenizer, prompts, group_size=1, max_new_tokens=10,
                                greedy=True, generation_batch_size=2)
    assert torch.equal(batched.completion_ids, chunked.completion_ids)
    assert batched.prompt_mask.sum(1).min() < batched.prompt_ids.shape[1]  # padding present
    for i, prompt in enumerate(prompts):
        alone = generate_rollouts(model, tokenizer, [prompt], group_size=1, max_new_tokens=10,
                                  greedy=True)
        assert alone.prompt_mask.all()
        assert batched.completion_ids[i].tolist() == alone.completion_ids[0].tolist(), prompt


def test_select_keeps_rows_in_order(tiny):
    """select([4, 1]) picks those rows of every field, texts included."""
    model, tokenizer = tiny
    rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=2, max_new_tokens=4,
                                seed=0)
    picked = rollout.select([4, 1])
    assert len(picked) == 2 and picked.group_index.tolist() == [2, 0]
    assert torch.equal(picked.completion_ids, rollout.completion_ids[[4, 1]])
    assert picked.texts == [rollout.texts[4], rollout.texts[1]]


def test_concat_rollouts_repads_and_shifts_groups(tiny):
    """Two rounds of different widths: one batch whose rows, masks, texts and log-probs
    match the originals, with group indices 0..B1-1 then B1..B1+B2-1."""
    model, tokenizer = tiny
    first = generate_rollouts(model, tokenizer, ["Hi"], group_size=2, max_new_tokens=3, seed=0)
    second = generate_rollouts(model, tokenizer, PROMPTS[::2], group_size=2, max_new_tokens=6,
                               seed=1)
    merged = concat_rollouts([first, second])
    assert len(merged) == 6 and merged.pad_token_id == tokenizer.pad_token_id
    assert merged.prompt_ids.shape[1] == second.prompt_ids.shape[1]
    assert merged.completion_ids.shape[1] == 6
    assert merged.group_index.tolist() == [0, 0, 1, 1, 2, 2]
    assert merged.texts == first.texts + second.texts
    assert merged.prompt_mask[:2].sum(1).tolist() == first.prompt_mask.sum(1).tolist()
    assert (merged.prompt_ids[:2][merged.prompt_mask[:2] == 0] == tokenizer.pad_token_id).all()
    assert merged.completion_mask[:2, 3:].sum() == 0
    torch.testing.assert_close(merged.completion_ids[2:], second.completion_ids)
    # log-probs of the merged rows = those of each batch alone (padding changes nothing)
    merged_logps = per_token_logps(model, merged)
    mask = merged.completion_mask.bool()
    alone = torch.cat([torch.nn.functional.pad(per_token_logps(model, first), (0, 3)),
                       per_token_logps(model, second)])
    torch.testing.assert_close(merged_logps[mask], alone[mask], rtol=0, atol=2e-5)
    with pytest.raises(ValueError, match="different group sizes"):
        concat_rollouts([first, generate_rollouts(model, tokenizer, ["Hi"], group_size=1,
                                                  max_new_tokens=2, seed=0)])


# --- log-probs ------------------------------------------------------------------------

def naive_logps(model, rollout, temperature):
    """Row by row, no padding, full log-softmax over every position."""
    rows, entropies = [], []
    T = rollout.completion_ids.shape[1]
    for i in range(len(rollout)):
        prompt = rollout.prompt_ids[i][rollout.prompt_mask[i].bool()]
        n = int(rollout.completion_mask[i].sum())
        completion = rollout.completion_ids[i, :n]
        with torch.no_grad():
            logits = model(torch.cat([prompt, completion]).unsqueeze(0)).logits[0]
        log_probs = torch.log_softmax(logits[len(prompt) - 1:-1] / temperature, dim=-1)
        logp = log_probs.gather(1, completion.unsqueeze(1)).squeeze(1)
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        rows.append(torch.nn.functional.pad(logp, (0, T - n)))
        entropies.append(torch.nn.functional.pad(entropy, (0, T - n)))
    return torch.stack(rows), torch.stack(entropies)


@pytest.mark.parametrize("temperature, micro_batch_size", [(1.0, None), (0.7, 2), (1.3, 4)])
def test_logps_match_naive_full_softmax(tiny, temperature, micro_batch_size):
    """Micro-batched, trimmed, left-padded log-probs and entropies = a row-by-row full
    log-softmax, under the completion mask."""
    model, tokenizer = tiny
    eos, trigger = tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("x")
    handle = eos_after(model, trigger, eos, trigger_bias=3.0)
    try:
        rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=3, max_new_tokens=9,
                                    temperature=temperature, seed=1)
        logps, entropy = per_token_logps(model, rollout, temperature=temperature,
                                         micro_batch_size=micro_batch_size, with_entropy=True)
        expected_logps, expected_entropy = naive_logps(model, rollout, temperature)
    finally:
        handle.remove()
    mask = rollout.completion_mask.bool()
    assert logps.shape == rollout.completion_ids.shape
    torch.testing.assert_close(logps[mask], expected_logps[mask], rtol=0, atol=2e-5)
    torch.testing.assert_close(entropy[mask], expected_entropy[mask], rtol=0, atol=2e-5)
    assert (logps[mask] <= 0).all()  # 0 for the forced EOS after the trigger


def test_logps_score_the_samplers_own_distribution(tiny):
    """log-probs of the sampled tokens = log_softmax(generate()'s raw logits / tau)."""
    model, tokenizer = tiny
    temperature = 0.8
    rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=1, max_new_tokens=6,
                                temperature=temperature, seed=2)
    encoded = tokenizer(PROMPTS, padding=True, add_special_tokens=False, return_tensors="pt")
    out = model.generate(**encoded, do_sample=False, max_new_tokens=6, top_k=0,
                         output_logits=True, return_dict_in_generate=True,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    # Score generate's greedy tokens with the rollout machinery, then compare.
    greedy = RolloutBatch(rollout.prompt_ids, rollout.prompt_mask,
                          out.sequences[:, encoded["input_ids"].shape[1]:],
                          torch.ones(3, 6, dtype=torch.long), torch.ones(3, dtype=torch.bool),
                          torch.arange(3), ["", "", ""], 1)
    logps = per_token_logps(model, greedy, temperature=temperature)
    sampler_logits = torch.stack(out.logits, dim=1) / temperature  # (3, 6, V)
    expected = torch.log_softmax(sampler_logits, -1).gather(
        -1, greedy.completion_ids.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logps, expected, rtol=0, atol=2e-5)


def test_logps_ask_the_model_only_for_completion_logits(tiny):
    """The forward pass returns logits for T + 1 positions, not for the prompt."""
    model, tokenizer = tiny
    rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=1, max_new_tokens=4,
                                seed=0)
    widths = []
    handle = model.register_forward_hook(lambda m, a, out: widths.append(out.logits.shape[1]))
    try:
        per_token_logps(model, rollout, micro_batch_size=3)
    finally:
        handle.remove()
    T = int(rollout.completion_mask.sum(1).max())
    assert widths == [T + 1] and rollout.prompt_ids.shape[1] > 1


@pytest.mark.slow
def test_benchmark_quick_mode(run_benchmark):
    """benchmarks/bench_grpo.py --quick runs and writes its table with positive rates."""
    text = run_benchmark("bench_grpo.py")
    assert "| sampler, all 4 rows in one generate() |" in text
    rates = [float(r.replace(",", "")) for r in re.findall(r"\(([\d,]+) tok/s\)", text)]
    assert len(rates) == 5 and min(rates) > 0
    assert re.search(r"naive / ours \| \d+\.\d\dx", text)
