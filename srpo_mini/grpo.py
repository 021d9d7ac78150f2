"""GRPO's maths as pure tensor functions: group advantages, the clipped loss, KL, metrics.

Nothing here knows about models or tokenizers; every function takes and returns tensors,
so each can be checked by hand and ported as is. With rewards r (N = B*G rows, G per
prompt), log-probs logp, rollout log-probs old and reference log-probs ref, per token:

    A_i        = (r_i - mean_group(r)) / (std_group(r) + eps)    scale "std" (unbiased std)
               =  r_i - mean_group(r)                            scale "none" (Dr. GRPO)
    ratio_it   = exp(logp_it - old_it)
    l_it       = -min(ratio_it * A_i, clip(ratio_it, 1 - clip_eps_low, 1 + clip_eps_high) * A_i)
                 + beta * KL_it
    KL_it      = exp(ref_it - logp_it) - (ref_it - logp_it) - 1  (k3, unbiased, >= 0)

and, with m the completion mask and L the completion cap (max_new_tokens), the loss is

    token      sum_it m_it l_it / sum_it m_it                    (SRPO, DAPO)
    sequence   1/N sum_i (sum_t m_it l_it / sum_t m_it)          (original GRPO)
    constant   sum_it m_it l_it / (N * L)                        (Dr. GRPO)

Each aggregation is a sum over rows divided by a normalizer that depends on the WHOLE
rollout batch (its token count, its row count, or N * L). `aggregate_loss` takes that
normalizer as an argument, so summing the losses of any split into micro-batches gives
the full-batch loss and gradient exactly.

References: DeepSeekMath (arXiv 2402.03300) eq. 3-4 (GRPO, sequence mean, k3 KL);
DAPO (arXiv 2503.14476) eq. 8-10 (clip-higher, token-level mean); Dr. GRPO
(arXiv 2503.20783) section 3.1 (no std, constant normalizer); SRPO (arXiv 2504.14286)
section 2 (token-level loss, clip-higher, no KL); Schulman's "Approximating KL
divergence" blog note for k3.

Differences from the paper:
- eps = 1e-4 in the advantage denominator (DeepSeekMath does not state one; TRL's
  default); a group with equal rewards gets advantage 0 either way.
- Dual clipping (a lower bound on the loss for negative advantages) is not applied.
"""

from __future__ import annotations

import torch


# --- 1. advantages ------------------------------------------------------------------

ADVANTAGE_SCALES = ("std", "none")


def group_advantages(rewards: torch.Tensor, group_size: int, *, scale: str = "std",
                     eps: float = 1e-4) -> torch.Tensor:
    """Group-relative advantages: each reward against the others for the same prompt.

    Args:
        rewards: (B*G,) float, row i*G + j = j-th completion of prompt i.
        group_size: G.
        scale: "std" divides by the group's unbiased std + eps (GRPO); "none" only
            subtracts the mean (Dr. GRPO).
        eps: keeps the division finite for groups with equal rewards (advantage 0).
    Returns:
        advantages (B*G,), same dtype as rewards (float32 for integer rewards).
    """
    if scale not in ADVANTAGE_SCALES:
        raise ValueError(f"unknown advantage scale {scale!r}; "
                         f"choose from {sorted(ADVANTAGE_SCALES)}")
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    rewards = rewards if rewards.is_floating_point() else rewards.float()
    if group_size == 1:  # nothing to compare against (and the unbiased std is undefined)
        return torch.zeros_like(rewards)
    grouped = rewards.view(-1, group_size)  # (B, G)
    centered = grouped - grouped.mean(dim=1, keepdim=True)  # (B, G)
    if scale == "none":  # Dr. GRPO: dividing by the std over-weights near-uniform groups
        return centered.view(-1)  # (B*G,)
    std = grouped.std(dim=1, keepdim=True, unbiased=True)  # (B, 1)
    return (centered / (std + eps)).view(-1)  # (B*G,)


# --- 2. per-token loss --------------------------------------------------------------

def clipped_surrogate(per_token_logps: torch.Tensor, old_per_token_logps: torch.Tensor,
                      advantages: torch.Tensor, *, clip_eps_low: float = 0.2,
                      clip_eps_high: float = 0.28) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped objective per token, negated to be minimized, with clip-higher.

    Args:
        per_token_logps: (N, T) under the policy being trained (carries the gradient).
        old_per_token_logps: (N, T) under the rollout policy (no gradient).
        advantages: (N,) one per completion, shared by its tokens.
        clip_eps_low, clip_eps_high: the ratio is clipped to [1 - low, 1 + high]
            (DAPO's clip-higher: high > low leaves room to raise unlikely tokens).
    Returns:
        per_token_loss (N, T) and ratio (N, T).
    """
    ratio = torch.exp(per_token_logps - old_per_token_logps.detach())  # (N, T)
    clipped_ratio = torch.clamp(ratio, 1.0 - clip_eps_low, 1.0 + clip_eps_high)
    advantages = advantages.detach().unsqueeze(1)  # (N, 1), broadcast over tokens
    # min of the two objectives = pessimistic bound; where the clipped one is smaller the
    # gradient is zero, which is what stops the policy moving further from the old one.
    per_token_loss = -torch.minimum(ratio * advantages, clipped_ratio * advantages)
    return per_token_loss, ratio


def k3_kl(per_token_logps: torch.Tensor, ref_per_token_logps: torch.Tensor) -> torch.Tensor:
    """k3 estimator of KL(pi || pi_ref) per token: exp(d) - d - 1 with d = ref - logp.

    Unbiased for samples from pi and never negative. Shapes (N, T) -> (N, T).
    """
    log_ratio = ref_per_token_logps.detach() - per_token_logps  # (N, T)
    return torch.exp(log_ratio) - log_ratio - 1.0


# --- 3. aggregation -----------------------------------------------------------------

AGGREGATIONS = ("token", "sequence", "constant")


def _check_aggregation(name: str) -> None:
    if name not in AGGREGATIONS:
        raise ValueError(f"unknown loss aggregation {name!r}; choose from {sorted(AGGREGATIONS)}")


def loss_normalizer(aggregation: str, completion_mask: torch.Tensor,
                    max_new_tokens: int | None = None) -> float:
    """The denominator of the loss, from the completion mask of the WHOLE rollout batch.

    Args:
        aggregation: "token" | "sequence" | "constant".
        completion_mask: (N, T) of every row that the update will see.
        max_new_tokens: L for "constant" (default: T).
    Returns:
        token count (at least 1), N, or N * L.
    """
    # Whole batch, not micro-batch: in TRL 1.16 "bnpo" divides each micro-batch by its own
    # token count, so the result depends on the split; "dr_grpo" divides by the
    # micro-batch's rows times L, then by the accumulation steps, which equals N * L only
    # when every micro-batch has as many rows; "dapo" divides by the whole generation
    # batch's token count, as `token` does here.
    _check_aggregation(aggregation)
    N, T = completion_mask.shape
    if aggregation == "token":  # every token of the batch weighs the same (SRPO, DAPO)
        return max(float(completion_mask.sum()), 1.0)
    if aggregation == "sequence":  # every completion weighs the same (GRPO)
        return float(N)
    return float(N * (max_new_tokens or T))  # constant: N * L (Dr. GRPO)


def aggregate_loss(per_token_loss: torch.Tensor, completion_mask: torch.Tensor,
                   aggregation: str = "token", *, normalizer: float | None = None,
                   max_new_tokens: int | None = None) -> torch.Tensor:
    """Reduce per-token losses to the scalar loss.

    For a micro-batch pass the normalizer of the whole batch (`loss_normalizer`): the
    micro-batch losses then add up to the full-batch loss, and so do their gradients.

    Args:
        per_token_loss: (n, T).
        completion_mask: (n, T), 1 on tokens that count.
        aggregation: "token" | "sequence" | "constant".
        normalizer: whole-batch denominator; None computes it from these rows alone.
        max_new_tokens: L for "constant" when normalizer is None (default: T).
    Returns:
        scalar loss.
    """
    _check_aggregation(aggregation)
    if normalizer is None:
        normalizer = loss_normalizer(aggregation, completion_mask, max_new_tokens)
    mask = completion_mask.to(per_token_loss.dtype)
    masked = per_token_loss * mask  # (n, T)
    if aggregation == "sequence":  # each row's mean over its own tokens; an empty row adds 0
        return (masked.sum(dim=1) / mask.sum(dim=1).clamp(min=1)).sum() / normalizer
    return masked.sum() / normalizer


# --- 4. metrics ---------------------------------------------------------------------

def masked_mean(values: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over the tokens where the mask is 1 (0 when there are none)."""
    mask = completion_mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def policy_metrics(ratio: torch.Tensor, advantages: torch.Tensor,
                   completion_mask: torch.Tensor, *, clip_eps_low: float = 0.2,
                   clip_eps_high: float = 0.28, entropy: torch.Tensor | None = None,
                   kl: torch.Tensor | None = None) -> dict[str, float]:
    """Token means of what the loss did, as TRL defines them.

    clip_fraction_low: ratio < 1 - clip_eps_low and advantage < 0 (clipped from below);
    clip_fraction_high: ratio > 1 + clip_eps_high and advantage > 0 (clipped from above);
    clip_fraction: either; approx_kl: mean of (ratio - 1) - log ratio, the k3 estimate of
    KL(old || new); ratio_mean; entropy and kl (to the reference) when given.

    Args:
        ratio: (N, T); advantages: (N,); completion_mask: (N, T);
        entropy, kl: (N, T) or None.
    Returns:
        dict of floats, each a mean over masked tokens.
    """
    advantages = advantages.unsqueeze(1)  # (N, 1)
    low = (ratio < 1.0 - clip_eps_low) & (advantages < 0)
    high = (ratio > 1.0 + clip_eps_high) & (advantages > 0)
    ratio = ratio.float()
    metrics = {
        "clip_fraction_low": masked_mean(low.float(), completion_mask),
        "clip_fraction_high": masked_mean(high.float(), completion_mask),
        "clip_fraction": masked_mean((low | high).float(), completion_mask),
        "approx_kl": masked_mean(ratio - 1.0 - torch.log(ratio), completion_mask),
        "ratio_mean": masked_mean(ratio, completion_mask),
    }
    if entropy is not None:
        metrics["entropy"] = masked_mean(entropy.float(), completion_mask)
    if kl is not None:
        metrics["kl"] = masked_mean(kl.float(), completion_mask)
    return {name: float(value) for name, value in metrics.items()}
