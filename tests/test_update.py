"""optimize_policy on a real tiny model (random init, offline).

Checks: loss and gradients do not depend on the micro-batch split for every
aggregation (also with mu = 2 and with the KL term), the gradient at ratio 1 is the
REINFORCE gradient, rollout log-probs are taken once before the mu steps, rows outside
the loss mask change nothing, metrics at ratio 1, gradient clipping, and that a non-finite
loss skips the step.

Run: python -m pytest tests/test_update.py -q
"""

import copy
import math

import pytest
import torch

from srpo_mini.grpo import group_advantages
from srpo_mini.logprobs import per_token_logps
from srpo_mini.model import build_tiny_model
from srpo_mini.sampler import generate_rollouts
from srpo_mini.config import Config, LossConfig, OptimConfig, SamplingConfig
from srpo_mini.update import optimize_policy

PROMPTS = ["User: 2+2?\nAssistant:", "Hi", "User: write a program that prints 7\nAssistant:"]
TINY = dict(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=64)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Matrices this small run faster on one thread (and do not stall on busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup():
    """A tiny policy, a rollout batch with varied completion lengths, and advantages."""
    model, tokenizer = build_tiny_model(seed=0, **TINY)
    model.eval()  # no dropout in Qwen2 anyway; keeps log-probs deterministic
    eos, trigger = tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("x")

    def stop_after_trigger(module, args, kwargs, output):
        # Generation only: EOS after a likely "x", so completion lengths vary.
        input_ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        after = (input_ids[:, -output.logits.shape[1]:] == trigger).float().unsqueeze(-1)
        bias = torch.zeros(output.logits.shape[-1])
        bias[trigger] = 3.0
        output.logits = output.logits + bias + 1e4 * after * (torch.arange(len(bias)) == eos)
        return output

    handle = model.register_forward_hook(stop_after_trigger, with_kwargs=True)
    try:
        rollout = generate_rollouts(model, tokenizer, PROMPTS, group_size=4, max_new_tokens=10,
                                    seed=0)
    finally:
        handle.remove()
    lengths = rollout.completion_mask.sum(1)
    assert lengths.min() < lengths.max(), "want varied lengths"
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    advantages = group_advantages(rewards, 4)
    return model, rollout, advantages


class RecordingSGD(torch.optim.SGD):
    """SGD that keeps a copy of the gradient it was asked to apply at every step."""

    def __init__(self, params, lr):
        params = list(params)
        super().__init__(params, lr=lr)
        self.params, self.grads = params, []

    def step(self, closure=None):
        self.grads.append(torch.cat([p.grad.flatten() for p in self.params]))
        return super().step(closure)


def update_config(mu=1, micro_batch_size=32, max_grad_norm=1.0, aggregation="token", beta=0.0,
                  max_new_tokens=80, entropy=False):
    """The run config sections optimize_policy reads, with these values."""
    config = Config(loss=LossConfig(aggregation=aggregation, beta=beta),
                    optim=OptimConfig(mu=mu, micro_batch_size=micro_batch_size,
                                      max_grad_norm=max_grad_norm),
                    sampling=SamplingConfig(max_new_tokens=max_new_tokens))
    config.logging.entropy = entropy
    return config


def run(model, rollout, advantages, lr=0.5, **config):
    """optimize_policy on a fresh copy of `model`; returns metrics, gradients, the copy."""
    policy = copy.deepcopy(model)
    optimizer = RecordingSGD(policy.parameters(), lr=lr)
    metrics = optimize_policy(policy, optimizer, rollout, advantages, update_config(**config))
    return metrics, optimizer.grads, policy


@pytest.mark.parametrize("aggregation", ["token", "sequence", "constant"])
def test_split_invariance_through_optimize_policy(setup, aggregation):
    """Micro-batches of 12 (all), 5 (5+5+2) and 1 row: same loss, same gradient at both of
    mu = 2 steps (the second with ratio != 1 and clipping active), same metrics."""
    model, rollout, advantages = setup
    results = {size: run(model, rollout, advantages, mu=2, micro_batch_size=size,
                         aggregation=aggregation, max_grad_norm=None, max_new_tokens=10)
               for size in (12, 5, 1)}
    reference_metrics, reference_grads, _ = results[12]
    assert reference_metrics[1]["ratio_mean"] != pytest.approx(1.0, abs=1e-4)  # step 2 moved
    assert reference_metrics[1]["clip_fraction"] > 0  # the clipped branch is exercised
    for size in (5, 1):
        metrics, grads, _ = results[size]
        for step in range(2):
            assert metrics[step]["loss"] == pytest.approx(reference_metrics[step]["loss"],
                                                          rel=1e-5, abs=1e-7)
            torch.testing.assert_close(grads[step], reference_grads[step], rtol=1e-4, atol=1e-7)
            for name in ("clip_fraction_low", "clip_fraction_high", "ratio_mean", "approx_kl"):
                assert metrics[step][name] == pytest.approx(reference_metrics[step][name],
                                                            rel=1e-4, abs=1e-6), name


def test_split_invariance_with_kl_term(setup):
    """beta > 0 with a reference model: loss, gradient and KL metric independent of split."""
    model, rollout, advantages = setup
    reference_model, _ = build_tiny_model(seed=1, **TINY)
    results = []
    for size in (12, 5):
        policy = copy.deepcopy(model)
        optimizer = RecordingSGD(policy.parameters(), lr=0.5)
        metrics = optimize_policy(policy, optimizer, rollout, advantages,
                                  update_config(beta=0.1, micro_batch_size=size,
                                                max_grad_norm=None),
                                  ref_model=reference_model)
        results.append((metrics[0], optimizer.grads[0]))
    (whole, whole_grad), (split, split_grad) = results
    assert whole["kl"] > 0.01  # a different random model: KL well above 0
    assert split["kl"] == pytest.approx(whole["kl"], rel=1e-5)
    assert split["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    torch.testing.assert_close(split_grad, whole_grad, rtol=1e-4, atol=1e-7)


def test_kl_to_an_identical_reference_is_zero(setup):
    """Reference = policy: k3 KL is exactly 0 at the first step, loss unchanged by beta."""
    model, rollout, advantages = setup
    policy = copy.deepcopy(model)
    metrics = optimize_policy(policy, RecordingSGD(policy.parameters(), lr=0.1), rollout,
                              advantages, update_config(beta=0.5), ref_model=model)
    plain, _, _ = run(model, rollout, advantages, lr=0.1)
    assert metrics[0]["kl"] == pytest.approx(0.0, abs=1e-7)
    assert metrics[0]["loss"] == pytest.approx(plain[0]["loss"], abs=1e-7)


def test_gradient_at_ratio_one_is_reinforce_on_the_model(setup):
    """mu = 1, token aggregation: the gradient optimize_policy applies equals the gradient
    of the REINFORCE objective -sum_it m_it A_i log pi(y_it) / sum m, computed directly."""
    model, rollout, advantages = setup
    _, grads, _ = run(model, rollout, advantages, micro_batch_size=5, max_grad_norm=None)
    policy = copy.deepcopy(model)
    logps = _grad_logps(policy, rollout)
    mask = rollout.completion_mask.float()
    reinforce = -(advantages.unsqueeze(1) * logps * mask).sum() / mask.sum()
    reinforce.backward()
    expected = torch.cat([p.grad.flatten() for p in policy.parameters()])
    assert expected.abs().max() > 1e-4  # a real, non-zero gradient
    torch.testing.assert_close(grads[0], expected, rtol=1e-4, atol=1e-7)


def _grad_logps(model, rollout):
    """Log-probs with gradients, one full forward, full log-softmax (independent path)."""
    input_ids, attention_mask = rollout.input_ids, rollout.attention_mask
    position_ids = (attention_mask.cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   position_ids=position_ids).logits
    T = rollout.completion_ids.shape[1]
    log_probs = torch.log_softmax(logits[:, -T - 1:-1], dim=-1)
    return log_probs.gather(-1, rollout.completion_ids.unsqueeze(-1)).squeeze(-1)


def test_old_logps_are_computed_once_before_the_steps(setup):
    """mu = 3: the result equals passing the pre-step log-probs explicitly; at the first
    step ratio = 1 (no clipping, approx KL 0), later steps measure against the same old
    policy so the ratio keeps moving away from 1."""
    model, rollout, advantages = setup
    old = per_token_logps(model, rollout)
    computed, computed_grads, _ = run(model, rollout, advantages, mu=3, lr=0.5)
    policy = copy.deepcopy(model)
    optimizer = RecordingSGD(policy.parameters(), lr=0.5)
    given = optimize_policy(policy, optimizer, rollout, advantages,
                            update_config(mu=3), old_per_token_logps=old)
    assert len(computed) == 3 and [m["update"] for m in computed] == [0, 1, 2]
    for step in range(3):
        assert given[step]["loss"] == pytest.approx(computed[step]["loss"], rel=1e-6)
        torch.testing.assert_close(optimizer.grads[step], computed_grads[step])
    first = computed[0]
    assert first["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert first["clip_fraction"] == 0.0 and first["approx_kl"] == pytest.approx(0.0, abs=1e-7)
    assert abs(computed[2]["ratio_mean"] - 1) > abs(computed[1]["ratio_mean"] - 1) > 0


def test_mu_one_shortcut_matches_explicit_old_logps(setup):
    """mu = 1 uses the current log-probs, detached, as the old ones: same gradient as
    computing them beforehand."""
    model, rollout, advantages = setup
    _, shortcut_grads, _ = run(model, rollout, advantages)
    policy = copy.deepcopy(model)
    optimizer = RecordingSGD(policy.parameters(), lr=0.5)
    optimize_policy(policy, optimizer, rollout, advantages,
                    old_per_token_logps=per_token_logps(model, rollout))
    torch.testing.assert_close(optimizer.grads[0], shortcut_grads[0], rtol=1e-5, atol=1e-8)


def test_loss_mask_leaves_rows_out_of_the_update(setup):
    """Rows with loss_mask False change nothing: with token aggregation and mu = 2 the
    loss, the gradients and the token count are those of the batch without them; the
    caller's rollout keeps its completion mask."""
    model, rollout, advantages = setup
    loss_mask = torch.ones(len(rollout), dtype=torch.bool)
    loss_mask[[1, 5, 6, 10]] = False
    mask_before = rollout.completion_mask.clone()
    policy = copy.deepcopy(model)
    optimizer = RecordingSGD(policy.parameters(), lr=0.5)
    masked = optimize_policy(policy, optimizer, rollout, advantages,
                             update_config(mu=2, micro_batch_size=5),
                             loss_mask=loss_mask)
    assert torch.equal(rollout.completion_mask, mask_before)
    kept = loss_mask.nonzero().flatten()
    without, without_grads, _ = run(model, rollout.select(kept), advantages[kept],
                                    mu=2, micro_batch_size=5)
    for step in range(2):
        assert masked[step]["tokens"] == float(mask_before[kept].sum())
        assert masked[step]["loss"] == pytest.approx(without[step]["loss"], rel=1e-5)
        torch.testing.assert_close(optimizer.grads[step], without_grads[step],
                                   rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match=r"loss_mask must have shape \(12,\), got \(3,\)"):
        optimize_policy(policy, optimizer, rollout, advantages, loss_mask=loss_mask[:3])


def test_adamw_update_changes_parameters_and_reports_metrics(setup):
    """AdamW step: parameters move; metrics carry loss, grad norm, entropy, token count."""
    model, rollout, advantages = setup
    policy = copy.deepcopy(model)
    before = [p.detach().clone() for p in policy.parameters()]
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    metrics = optimize_policy(policy, optimizer, rollout, advantages,
                              update_config(mu=2, entropy=True),
                              scheduler=scheduler)
    changed = sum(not torch.equal(b, p) for b, p in zip(before, policy.parameters()))
    assert changed == len(before)
    assert scheduler.last_epoch == 2 and optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert metrics[0]["tokens"] == float(rollout.completion_mask.sum())
    assert metrics[0]["grad_norm"] > 0 and math.isfinite(metrics[0]["loss"])
    # random init over 272 tokens: entropy close to log(272) = 5.606
    assert 5.0 < metrics[0]["entropy"] < math.log(272) + 1e-4
    assert metrics[0]["skipped"] is False
    assert all(p.grad is None for p in policy.parameters())  # gradients released


def test_gradient_clipping_bounds_the_applied_gradient(setup):
    """max_grad_norm = 1e-3: grad_norm reports the pre-clip norm, the step uses norm 1e-3."""
    model, rollout, advantages = setup
    metrics, grads, _ = run(model, rollout, advantages, max_grad_norm=1e-3)
    assert metrics[0]["grad_norm"] > 1e-3
    assert grads[0].norm().item() == pytest.approx(1e-3, rel=1e-3)
    unclipped, unclipped_grads, _ = run(model, rollout, advantages, max_grad_norm=None)
    assert unclipped_grads[0].norm().item() == pytest.approx(metrics[0]["grad_norm"], rel=1e-4)


def test_non_finite_loss_skips_the_step(setup):
    """A NaN advantage makes the loss NaN: no optimizer step, no scheduler step,
    parameters unchanged, skipped reported; the next rollout batch trains normally."""
    model, rollout, advantages = setup
    policy = copy.deepcopy(model)
    before = [p.detach().clone() for p in policy.parameters()]
    optimizer = RecordingSGD(policy.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    bad = advantages.clone()
    bad[3] = float("nan")
    metrics = optimize_policy(policy, optimizer, rollout, bad, scheduler=scheduler)
    assert metrics[0]["skipped"] is True and math.isnan(metrics[0]["loss"])
    assert optimizer.grads == [] and scheduler.last_epoch == 0
    assert all(torch.equal(b, p) for b, p in zip(before, policy.parameters()))
    assert all(p.grad is None for p in policy.parameters())
    metrics = optimize_policy(policy, optimizer, rollout, advantages, scheduler=scheduler)
    assert metrics[0]["skipped"] is False and len(optimizer.grads) == 1


@pytest.mark.parametrize("config, kwargs, message", [
    (update_config(beta=0.1), {}, "beta > 0 needs ref_model or ref_per_token_logps"),
    (update_config(mu=0), {}, r"optim\.mu: must be >= 1, got 0"),
    (update_config(aggregation="tokens"), {},
     "loss.aggregation: 'tokens' is not one of token, sequence, constant"),
])
def test_bad_arguments_are_rejected(setup, config, kwargs, message):
    """Misconfigurations fail before any gradient is computed, with a clear message."""
    model, rollout, advantages = setup
    policy = copy.deepcopy(model)
    with pytest.raises(ValueError, match=message):
        optimize_policy(policy, torch.optim.SGD(policy.parameters(), lr=0.1), rollout,
                        advantages, config, **kwargs)


def test_advantages_shape_is_checked(setup):
    """One advantage per completion row, or a ValueError naming both shapes."""
    model, rollout, advantages = setup
    with pytest.raises(ValueError, match=r"advantages must have shape \(12,\), got \(3,\)"):
        optimize_policy(model, torch.optim.SGD(model.parameters(), lr=0.1), rollout,
                        advantages[:3])
