"""GRPO maths (srpo_mini.grpo): golden numbers worked out by hand, naive loop references
on random inputs, split invariance of every aggregation, and the REINFORCE gradient at
ratio 1.

Run: python -m pytest tests/test_grpo.py -q
"""

import math

import pytest
import torch

from srpo_mini.grpo import (AGGREGATIONS, aggregate_loss, clipped_surrogate,
                            group_advantages, k3_kl, loss_normalizer, masked_mean,
                            policy_metrics)

LOSSES = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
MASK = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])


# --- golden numbers -------------------------------------------------------------------

@pytest.mark.parametrize("aggregation, expected", [
    # sequence: row means (1+2+3)/3 = 2 and 4/1 = 4, their mean (2+4)/2 = 3.0
    ("sequence", 3.0),
    # token: masked sum 1+2+3+4 = 10 over 4 masked tokens = 2.5
    ("token", 2.5),
    # constant: masked sum 10 over N * L = 2 * 4 = 8 -> 1.25
    ("constant", 1.25),
])
def test_aggregation_golden_values_whole_and_split(aggregation, expected):
    """The issue's golden losses, for the whole batch and for two one-row micro-batches."""
    whole = aggregate_loss(LOSSES, MASK, aggregation, max_new_tokens=4)
    assert whole.item() == pytest.approx(expected, abs=1e-7)
    normalizer = loss_normalizer(aggregation, MASK, max_new_tokens=4)
    split = sum(aggregate_loss(LOSSES[i:i + 1], MASK[i:i + 1], aggregation,
                               normalizer=normalizer) for i in range(2))
    assert split.item() == pytest.approx(expected, abs=1e-7)


def test_per_micro_batch_normalizer_would_change_the_loss():
    """Why the whole-batch normalizer matters: dividing each micro-batch by its own token
    count (TRL's bnpo) gives 6/3 + 4/1 = 6.0 for two micro-batches, not 2.5."""
    own = sum(aggregate_loss(LOSSES[i:i + 1], MASK[i:i + 1], "token") for i in range(2))
    assert own.item() == pytest.approx(6.0)


def test_group_advantages_golden():
    """Rewards [1,0,0,0]: mean 0.25; unbiased std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5;
    A = 0.75 / 0.5001 = 1.49970..., -0.25 / 0.5001 = -0.49990...; unscaled: r - 0.25."""
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    scaled = group_advantages(rewards, 4)
    assert scaled.tolist() == pytest.approx([0.75 / 0.5001] + [-0.25 / 0.5001] * 3, abs=1e-6)
    assert scaled.tolist() == pytest.approx([1.4997, -0.4999, -0.4999, -0.4999], abs=1e-4)
    unscaled = group_advantages(rewards, 4, scale="none")
    assert unscaled.tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25], abs=1e-7)


def test_group_advantages_are_per_group():
    """Two groups of 3, (0,0,0) and (1,1,0): the first gets 0; the second has mean 2/3 and
    unbiased std sqrt((1/9 + 1/9 + 4/9) / 2) = sqrt(1/3) = 0.5773503, so
    A = (1/3) / 0.5774503 = 0.577250 twice and (-2/3) / 0.5774503 = -1.154501."""
    advantages = group_advantages(torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 0.0]), 3)
    assert advantages.tolist() == pytest.approx([0, 0, 0, 0.577250, 0.577250, -1.154501],
                                                abs=1e-6)


@pytest.mark.parametrize("rewards, group_size, expected", [
    ([1.0, 1.0, 1.0, 0.0, 0.0, 0.0], 3, [0.0] * 6),  # all-correct and all-wrong groups: 0
    ([0.5, 0.5], 2, [0.0, 0.0]),
    ([3.0], 1, [0.0]),  # a group of one has nothing to compare against
])
def test_equal_rewards_give_zero_advantage(rewards, group_size, expected):
    """Groups whose rewards are all equal get advantage exactly 0 (eps keeps it finite)."""
    advantages = group_advantages(torch.tensor(rewards), group_size)
    assert advantages.tolist() == expected


def test_k3_kl_golden():
    """logp -1.0, ref -1.2: d = -0.2, exp(-0.2) - (-0.2) - 1 = 0.8187308 + 0.2 - 1 = 0.0187308."""
    kl = k3_kl(torch.tensor([-1.0]), torch.tensor([-1.2]))
    assert kl.item() == pytest.approx(0.0187308, abs=1e-6)
    assert k3_kl(torch.tensor([-0.7]), torch.tensor([-0.7])).item() == 0.0


def test_clip_high_golden():
    """Ratio 1.3, A = +1, clip_eps_high 0.28: min(1.3 * 1, 1.28 * 1) = 1.28 -> loss -1.28,
    and the clipped branch has zero gradient."""
    logp = torch.tensor([[math.log(1.3)]], requires_grad=True)
    loss, ratio = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([1.0]),
                                    clip_eps_low=0.2, clip_eps_high=0.28)
    assert ratio.item() == pytest.approx(1.3)
    assert loss.item() == pytest.approx(-1.28, abs=1e-6)
    loss.sum().backward()
    assert logp.grad.item() == 0.0


def test_clip_low_golden():
    """Ratio 0.7, A = -1, clip_eps_low 0.2: min(0.7 * -1, 0.8 * -1) = -0.8 -> loss +0.8,
    gradient zero (the clipped ratio does not depend on logp)."""
    logp = torch.tensor([[math.log(0.7)]], requires_grad=True)
    loss, _ = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([-1.0]),
                                clip_eps_low=0.2, clip_eps_high=0.28)
    assert loss.item() == pytest.approx(0.8, abs=1e-6)
    loss.sum().backward()
    assert logp.grad.item() == 0.0


@pytest.mark.parametrize("ratio, advantage, expected_loss, expected_grad", [
    # inside the clip range: loss -ratio*A, d/dlogp = -ratio*A
    (1.1, 1.0, -1.1, -1.1),
    (0.9, -1.0, 0.9, 0.9),
    # ratio below the floor with A > 0: the unclipped term is the smaller, gradient flows
    (0.7, 1.0, -0.7, -0.7),
    # ratio above the ceiling with A < 0: unclipped -1.3 < clipped -1.28, gradient flows
    (1.3, -1.0, 1.3, 1.3),
])
def test_unclipped_branches(ratio, advantage, expected_loss, expected_grad):
    """Where min picks the unclipped objective, loss = -ratio*A and d loss/d logp = -ratio*A."""
    logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
    loss, _ = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([advantage]),
                                clip_eps_low=0.2, clip_eps_high=0.28)
    loss.sum().backward()
    assert loss.item() == pytest.approx(expected_loss, abs=1e-6)
    assert logp.grad.item() == pytest.approx(expected_grad, abs=1e-6)


def test_clip_fraction_golden():
    """Four masked tokens (+ one masked out): one clipped low, one clipped high; a low
    ratio with A > 0 is not 'clipped' in TRL's sense. low 1/4, high 1/4, either 2/4."""
    ratio = torch.tensor([[0.7, 1.0], [1.3, 0.5], [1.0, 9.0]])
    advantages = torch.tensor([-1.0, 1.0, 1.0])
    mask = torch.tensor([[1, 1], [1, 1], [0, 0]])
    # tokens: (0.7, A-) low; (1.0, A-) none; (1.3, A+) high; (0.5, A+) none; row 3 masked.
    metrics = policy_metrics(ratio, advantages, mask, clip_eps_low=0.2, clip_eps_high=0.28)
    assert metrics["clip_fraction_low"] == pytest.approx(0.25)
    assert metrics["clip_fraction_high"] == pytest.approx(0.25)
    assert metrics["clip_fraction"] == pytest.approx(0.5)
    assert metrics["ratio_mean"] == pytest.approx((0.7 + 1.0 + 1.3 + 0.5) / 4)
    # approx KL = mean of (r - 1) - log r
    expected_kl = sum(r - 1 - math.log(r) for r in (0.7, 1.0, 1.3, 0.5)) / 4
    assert metrics["approx_kl"] == pytest.approx(expected_kl, abs=1e-6)


def test_unknown_names_are_rejected_with_the_choices():
    """Misspelled strategy names fail loudly and list what exists."""
    with pytest.raises(ValueError, match=r"unknown loss aggregation 'tokens'.*constant"):
        aggregate_loss(LOSSES, MASK, "tokens")
    with pytest.raises(ValueError, match=r"unknown advantage scale 'mean'"):
        group_advantages(torch.zeros(4), 2, scale="mean")
    with pytest.raises(ValueError, match="do not split into groups of 3"):
        group_advantages(torch.zeros(4), 3)


# --- naive loop references on random inputs -------------------------------------------

def naive_advantages(rewards, group_size, scale, eps=1e-4):
    out = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean = sum(group) / len(group)
        std = math.sqrt(sum((r - mean) ** 2 for r in group) / (len(group) - 1))
        for r in group:
            out.append((r - mean) / (std + eps) if scale == "std" else r - mean)
    return out


def naive_token_loss(logp, old, adv, low, high, beta, ref):
    ratio = math.exp(logp - old)
    clipped = min(max(ratio, 1 - low), 1 + high)
    loss = -min(ratio * adv, clipped * adv)
    if beta:
        d = ref - logp
        loss += beta * (math.exp(d) - d - 1)
    return loss


def naive_aggregate(losses, mask, aggregation, max_len):
    N, T = len(losses), len(losses[0])
    if aggregation == "sequence":
        total = 0.0
        for i in range(N):
            n = sum(mask[i])
            total += sum(losses[i][t] for t in range(T) if mask[i][t]) / max(n, 1)
        return total / N
    masked = sum(losses[i][t] for i in range(N) for t in range(T) if mask[i][t])
    if aggregation == "token":
        return masked / sum(sum(row) for row in mask)
    return masked / (N * max_len)


def random_batch(seed, N=6, T=7):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(N, T, generator=g, dtype=torch.float64) * 3
    old = logp + 0.4 * torch.randn(N, T, generator=g, dtype=torch.float64)
    ref = logp + 0.3 * torch.randn(N, T, generator=g, dtype=torch.float64)
    adv = torch.randn(N, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, T + 1, (N,), generator=g)
    mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).long()
    return logp, old, ref, adv, mask


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("scale", ["std", "none"])
def test_advantages_match_loop(seed, scale):
    """Vectorized advantages = per-group Python loop, on random rewards (G = 5)."""
    rewards = torch.rand(20, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = naive_advantages(rewards.tolist(), 5, scale)
    assert group_advantages(rewards, 5, scale=scale).tolist() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_loss_matches_loop(seed, aggregation, beta):
    """Clipped surrogate + k3 KL + aggregation = element-by-element Python loop."""
    logp, old, ref, adv, mask = random_batch(seed)
    per_token_loss, _ = clipped_surrogate(logp, old, adv, clip_eps_low=0.2, clip_eps_high=0.28)
    per_token_loss = per_token_loss + beta * k3_kl(logp, ref)
    loss = aggregate_loss(per_token_loss, mask, aggregation, max_new_tokens=10)
    losses = [[naive_token_loss(logp[i, t].item(), old[i, t].item(), adv[i].item(), 0.2,
                                0.28, beta, ref[i, t].item()) for t in range(logp.shape[1])]
              for i in range(logp.shape[0])]
    expected = naive_aggregate(losses, mask.tolist(), aggregation, 10)
    assert loss.item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_loop(seed):
    """Clip fractions and mean ratio = counting loop over masked tokens."""
    logp, old, _, adv, mask = random_batch(seed)
    _, ratio = clipped_surrogate(logp, old, adv)
    metrics = policy_metrics(ratio, adv, mask, clip_eps_low=0.2, clip_eps_high=0.28)
    low = high = count = 0
    ratio_sum = 0.0
    for i in range(ratio.shape[0]):
        for t in range(ratio.shape[1]):
            if mask[i, t]:
                r, a = ratio[i, t].item(), adv[i].item()
                count += 1
                ratio_sum += r
                low += r < 0.8 and a < 0
                high += r > 1.28 and a > 0
    assert metrics["clip_fraction_low"] == pytest.approx(low / count)
    assert metrics["clip_fraction_high"] == pytest.approx(high / count)
    assert metrics["ratio_mean"] == pytest.approx(ratio_sum / count)


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
@pytest.mark.parametrize("sizes", [(1, 5), (2, 2, 2), (3, 3), (1, 1, 1, 1, 1, 1)])
def test_split_invariance_of_loss_and_gradient(aggregation, sizes):
    """Any split into micro-batches, each divided by the whole-batch normalizer, sums to
    the full-batch loss and accumulates the full-batch gradient."""
    logp0, old, _, adv, mask = random_batch(11)
    logp = logp0.clone().requires_grad_(True)
    full = aggregate_loss(clipped_surrogate(logp, old, adv)[0], mask, aggregation,
                          max_new_tokens=9)
    full.backward()
    full_grad = logp.grad.clone()
    logp.grad = None
    normalizer = loss_normalizer(aggregation, mask, max_new_tokens=9)
    total, start = 0.0, 0
    for size in sizes:
        rows = slice(start, start + size)
        part = aggregate_loss(clipped_surrogate(logp[rows], old[rows], adv[rows])[0],
                              mask[rows], aggregation, normalizer=normalizer)
        part.backward()
        total += part.item()
        start += size
    assert total == pytest.approx(full.item(), rel=1e-12)
    torch.testing.assert_close(logp.grad, full_grad, rtol=1e-12, atol=1e-15)


def test_masked_mean_ignores_masked_tokens_and_empty_masks():
    """Mean over mask-1 entries; an all-zero mask gives 0 instead of NaN."""
    values = torch.tensor([[1.0, 100.0], [3.0, 5.0]])
    assert masked_mean(values, torch.tensor([[1, 0], [1, 1]])).item() == pytest.approx(3.0)
    assert masked_mean(values, torch.zeros(2, 2)).item() == 0.0


# --- REINFORCE at ratio 1 -------------------------------------------------------------

@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
def test_gradient_at_ratio_one_is_reinforce(aggregation):
    """At ratio 1 (old = current, detached) no clipping is active and
    d loss / d theta = -sum_it w_it A_i grad log pi(y_it), the REINFORCE gradient, with
    w_it the aggregation weight. Checked against autograd of the REINFORCE surrogate and,
    numerically, against central finite differences of the loss itself (float64)."""
    g = torch.Generator().manual_seed(0)
    N, T, V = 4, 5, 7
    logits = torch.randn(N, T, V, generator=g, dtype=torch.float64, requires_grad=True)
    tokens = torch.randint(0, V, (N, T), generator=g)
    advantages = torch.randn(N, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]])

    def token_logps(z):
        return torch.log_softmax(z, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    def grpo_loss(z):
        logp = token_logps(z)
        per_token_loss, _ = clipped_surrogate(logp, logp.detach(), advantages)
        return aggregate_loss(per_token_loss, mask, aggregation, max_new_tokens=T)

    (grad,) = torch.autograd.grad(grpo_loss(logits), logits)
    reinforce = aggregate_loss(-advantages.unsqueeze(1) * token_logps(logits), mask,
                               aggregation, max_new_tokens=T)
    (reinforce_grad,) = torch.autograd.grad(reinforce, logits)
    torch.testing.assert_close(grad, reinforce_grad, rtol=1e-12, atol=1e-14)

    # Finite differences of the REINFORCE objective -sum w A log pi, evaluated at fresh
    # logits (the ratio-1 loss itself is constant in value, only its gradient matters).
    h = 1e-6
    checked = 0
    for index in [(0, 0, 0), (0, 4, 3), (1, 1, 6), (2, 0, 2), (3, 3, 5), (1, 3, 1)]:
        bumped_up, bumped_down = logits.detach().clone(), logits.detach().clone()
        bumped_up[index] += h
        bumped_down[index] -= h
        objective = lambda z: aggregate_loss(  # noqa: E731
            -advantages.unsqueeze(1) * token_logps(z), mask, aggregation,
            max_new_tokens=T)
        numeric = (objective(bumped_up) - objective(bumped_down)).item() / (2 * h)
        assert grad[index].item() == pytest.approx(numeric, abs=1e-7)
        checked += 1
    assert checked == 6
    # masked positions get no gradient: row 1 stops after 2 tokens
    assert grad[1, 2:].abs().max().item() == 0.0
