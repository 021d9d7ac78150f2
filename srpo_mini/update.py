"""The policy update: mu optimizer steps on one rollout batch, with gradient accumulation.

Given a rollout batch and its advantages, `optimize_policy` runs

    old = logp under the rollout policy            (once, before any step; no gradient)
    ref = logp under the reference model            (once, only when beta > 0)
    repeat mu times:                                (sample reuse; mu = 1 is on-policy)
        for each micro-batch b:  backward( sum_b l / normalizer(whole batch) )
                                    (micro-batches group rows of similar length)
        clip the gradient norm, optimizer step      (skipped if loss or gradient is not finite)

with l the per-token loss of `grpo.clipped_surrogate` (+ beta * `grpo.k3_kl`) and the
normalizer of `grpo.loss_normalizer`. Because every micro-batch divides by the
whole-batch normalizer, the accumulated gradient is the full-batch gradient whatever the
micro-batch size: memory is a knob, not a hyperparameter.

Reference: DeepSeekMath (arXiv 2402.03300) Algorithm 1 (mu GRPO iterations per batch of
outputs); SRPO (arXiv 2504.14286) section 2.

Differences from the paper:
- Each of the mu updates is one optimizer step on the whole rollout batch (no PPO-style
  shuffled mini-batches).
- With mu = 1 the old log-probs are the current ones detached (the ratio is exactly 1 at
  the only step), which saves one forward pass; pass `old_per_token_logps` to override.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from .config import Config, validate_sections
from .grpo import aggregate_loss, clipped_surrogate, k3_kl, loss_normalizer, policy_metrics
from .logprobs import length_grouped_rows, per_token_logps, rows_logps


def optimize_policy(model, optimizer, rollout, advantages: torch.Tensor,
                    config: Config | None = None, *, ref_model=None,
                    old_per_token_logps: torch.Tensor | None = None,
                    ref_per_token_logps: torch.Tensor | None = None,
                    loss_mask: torch.Tensor | None = None,
                    scheduler=None) -> list[dict[str, float]]:
    """Update the policy on one rollout batch.

    Args:
        model: the policy (a causal LM); its train/eval mode is left as is.
        optimizer: a torch optimizer over the model's parameters (AdamW in the trainer).
        rollout: a `sampler.RolloutBatch` with N rows.
        advantages: (N,) from `grpo.group_advantages`.
        config: the run's `Config`; the update reads `loss` (clip eps, aggregation, beta),
            `optim` (mu, micro_batch_size, max_grad_norm), `sampling.temperature` (so the
            log-probs score the sampler's policy), `sampling.max_new_tokens` (L of
            `constant` aggregation) and `logging.entropy`. Default: `Config()`, one
            token-level update, clip 0.2 / 0.28, no KL.
        ref_model: reference policy, needed when beta > 0 and `ref_per_token_logps` is None.
        old_per_token_logps: (N, T) rollout-policy log-probs, if already known (e.g. from
            the inference engine); default: computed here once, before the first step.
        ref_per_token_logps: (N, T) reference log-probs, if already known.
        loss_mask: (N,) bool, False for rows to leave out of the loss and of every
            normalizer (`rewards.RewardBatch.loss_mask`); default: every row counts.
        scheduler: learning-rate scheduler, stepped after every optimizer step taken.
    Returns:
        one dict per update: update, loss, grad_norm (before clipping), skipped (True when
        the loss or gradient was not finite and no step was taken), tokens,
        clip_fraction_low, clip_fraction_high, clip_fraction, approx_kl, ratio_mean,
        and entropy / kl when computed.
    """
    config = config or Config()
    validate_sections(config, "loss", "optim", "sampling")
    loss_config, optim = config.loss, config.optim
    temperature, micro_batch_size = config.sampling.temperature, optim.micro_batch_size
    N = len(rollout)
    if advantages.shape != (N,):
        raise ValueError(f"advantages must have shape ({N},), got {tuple(advantages.shape)}")
    if loss_mask is not None:
        if loss_mask.shape != (N,):
            raise ValueError(f"loss_mask must have shape ({N},), got {tuple(loss_mask.shape)}")
        # A masked row (truncated under rewards.truncation = mask) is scored as an empty
        # completion: none of its tokens is in the loss, nor in the token count that
        # `token` aggregation divides by (DAPO's overlong filtering), and its forward pass
        # is cut to one token. A new batch: the caller's rollout keeps its true lengths.
        rollout = replace(rollout, completion_mask=rollout.completion_mask
                          * loss_mask[:, None].to(rollout.completion_mask.dtype))  # (N, T)
    device = next(model.parameters()).device
    completion_mask = rollout.completion_mask.to(device)  # (N, T)
    advantages = advantages.to(device=device, dtype=torch.float32)
    # Rows of similar length share a micro-batch: less padding, same loss and gradient.
    batches = length_grouped_rows(rollout.completion_mask, micro_batch_size)

    # 1. rollout-policy log-probs, once: every one of the mu steps measures its ratio
    #    against the policy that sampled, not against the previous step.
    if old_per_token_logps is None and optim.mu > 1:
        old_per_token_logps = per_token_logps(model, rollout, temperature=temperature,
                                              micro_batch_size=micro_batch_size)
    # 2. reference log-probs, once, only when the KL term is on.
    if loss_config.beta > 0 and ref_per_token_logps is None:
        if ref_model is None:
            raise ValueError("beta > 0 needs ref_model or ref_per_token_logps")
        ref_per_token_logps = per_token_logps(ref_model, rollout,
                                              temperature=temperature,
                                              micro_batch_size=micro_batch_size)
    # 3. one denominator for the whole batch, so the micro-batch split cannot change it.
    normalizer = loss_normalizer(loss_config.aggregation, completion_mask,
                                 config.sampling.max_new_tokens)
    parameters = [p for p in model.parameters() if p.requires_grad]

    history = []
    for update in range(optim.mu):
        model.zero_grad(set_to_none=True)
        loss_total, sums, tokens_total = 0.0, {}, 0.0
        for rows in batches:
            logps, entropy = rows_logps(
                model, rollout.prompt_ids[rows], rollout.prompt_mask[rows],
                rollout.completion_ids[rows], rollout.completion_mask[rows],
                temperature=temperature, with_entropy=config.logging.entropy)
            old = logps.detach() if old_per_token_logps is None else old_per_token_logps[rows]
            mask = completion_mask[rows]
            per_token_loss, ratio = clipped_surrogate(
                logps, old.to(device), advantages[rows],
                clip_eps_low=loss_config.clip_eps_low, clip_eps_high=loss_config.clip_eps_high)
            kl = None
            if loss_config.beta > 0:
                kl = k3_kl(logps, ref_per_token_logps[rows].to(device))
                per_token_loss = per_token_loss + loss_config.beta * kl
            loss = aggregate_loss(per_token_loss, mask, loss_config.aggregation,
                                  normalizer=normalizer)
            loss.backward()  # gradients add up across micro-batches
            loss_total += loss.item()
            # metrics: token means per micro-batch, re-weighted by its token count.
            tokens = float(mask.sum())
            tokens_total += tokens
            for name, value in policy_metrics(ratio.detach(), advantages[rows], mask,
                                              clip_eps_low=loss_config.clip_eps_low,
                                              clip_eps_high=loss_config.clip_eps_high,
                                              entropy=entropy, kl=kl).items():
                sums[name] = sums.get(name, 0.0) + value * tokens

        max_norm = optim.max_grad_norm if optim.max_grad_norm is not None else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))
        skipped = not (math.isfinite(loss_total) and math.isfinite(grad_norm))
        if not skipped:
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        model.zero_grad(set_to_none=True)

        metrics = {"update": float(update), "loss": loss_total, "grad_norm": grad_norm,
                   "skipped": skipped, "tokens": tokens_total}
        metrics.update({name: total / max(tokens_total, 1.0) for name, total in sums.items()})
        history.append(metrics)
    return history
