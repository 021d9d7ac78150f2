# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Chapter 1 — Group advantages and the clipped loss
#
# Everything GRPO-like computes between "here are the rewards" and "call backward()" is a
# handful of pure tensor functions in `srpo_mini/grpo.py`. This chapter calls each of them
# on tensors small enough to check by hand, then runs the real update
# (`srpo_mini.update.optimize_policy`) on a tiny model to show two facts that surprise
# people: the micro-batch split must not change the gradient, and a loss of about zero is
# normal.
#
# Notation: B prompts, G completions per prompt, N = B*G rows, T completion tokens;
# row `i*G + j` is the j-th completion of prompt i.

# %%
import copy

import torch

from srpo_mini.grpo import (
    aggregate_loss,
    clipped_surrogate,
    group_advantages,
    k3_kl,
    loss_normalizer,
    policy_metrics,
)

torch.set_num_threads(1)
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## 1. Group-relative advantages
#
#     A_i = (r_i - mean_group(r)) / (std_group(r) + eps)      scale="std"   (GRPO, SRPO)
#     A_i =  r_i - mean_group(r)                              scale="none"  (Dr. GRPO)
#
# with the *unbiased* std (divide by G - 1) and eps = 1e-4. Two prompts, G = 4: the first
# was solved once, the second twice. By hand, for the first group: mean 1/4, unbiased std
# sqrt((3/4)^2 + 3 (1/4)^2) / 3) = 1/2, so the solver gets (3/4)/(1/2 + eps) and each
# failure (-1/4)/(1/2 + eps). The cell prints the library's values and checks them
# against exactly that arithmetic.

# %%
G = 4
rewards = torch.tensor([1., 0., 0., 0.,
                        1., 1., 0., 0.])
advantages = group_advantages(rewards, G, scale="std", eps=1e-4)
centered = group_advantages(rewards, G, scale="none")
print("rewards           ", rewards)
print("advantages (std)  ", advantages)
print("advantages (none) ", centered)

hand_first_group = torch.tensor([0.75, -0.25, -0.25, -0.25]) / (0.5 + 1e-4)
assert torch.allclose(advantages[:G], hand_first_group)
print("first group matches (r - 1/4) / (1/2 + 1e-4):",
      torch.allclose(advantages[:G], hand_first_group))
print("advantages sum to zero in each group:", advantages.view(-1, G).sum(dim=1))

# %% [markdown]
# Two things to notice. With std scaling the *one* success of a hard prompt gets a larger
# advantage than each of the two successes of an easier prompt: scaling by the std gives
# rare successes more weight (Dr. GRPO calls this a difficulty bias; `scale="none"`
# removes it). And every group's advantages sum to zero — keep that in mind for section 5.
#
# ## 2. The clipped surrogate, token by token
#
#     ratio_t = exp(logp_t - old_logp_t)
#     loss_t  = -min(ratio_t * A, clip(ratio_t, 1 - eps_low, 1 + eps_high) * A)
#
# The `min` is pessimistic: once the ratio has moved far enough in the direction the
# advantage asks for, the clipped term is the smaller one, it is constant in the
# parameters, and that token's gradient is zero. Below, two completions of three tokens;
# the first has A = +1, the second A = -1; the tokens' ratios are 1.5, 1.0 and 0.7 in both.
# With eps_low = 0.2 and eps_high = 0.28 the allowed band is [0.8, 1.28]. By hand:
#
# * A = +1: ratio 1.5 is past 1.28, the loss is -1.28 and the gradient 0; ratio 0.7 is
#   *not* clipped (moving it up is what the advantage asks for): loss -0.7.
# * A = -1: ratio 0.7 is below 0.8, the loss is 0.8 and the gradient 0; ratio 1.5 is not
#   clipped: loss 1.5.
#
# The cell prints the losses and, through autograd, each token's gradient with respect to
# its log-probability (zero exactly where the clip holds).

# %%
ratios = torch.tensor([[1.5, 1.0, 0.7],
                       [1.5, 1.0, 0.7]])
old_logps = torch.log(torch.tensor([[0.2, 0.4, 0.5],
                                    [0.2, 0.4, 0.5]]))
logps = (old_logps + torch.log(ratios)).requires_grad_()
token_advantages = torch.tensor([1.0, -1.0])

per_token_loss, ratio = clipped_surrogate(logps, old_logps, token_advantages,
                                          clip_eps_low=0.2, clip_eps_high=0.28)
per_token_loss.sum().backward()
print("ratio\n", ratio.detach())
print("per-token loss\n", per_token_loss.detach())
print("d loss / d logp\n", logps.grad)
# The hand calculation above, checked: clipped tokens have a constant loss and no gradient.
assert torch.allclose(per_token_loss.detach(), torch.tensor([[-1.28, -1.0, -0.7], [1.5, 1.0, 0.8]]))
assert logps.grad[0, 0] == 0 and logps.grad[1, 2] == 0
mask = torch.ones_like(ratios)
metrics = policy_metrics(ratio.detach(), token_advantages, mask, clip_eps_low=0.2,
                         clip_eps_high=0.28)
print({name: round(value, 4) for name, value in metrics.items()})

# %% [markdown]
# `policy_metrics` counts the clipped tokens as TRL does: `clip_fraction_high` for tokens
# pushed above 1 + eps_high with a positive advantage, `clip_fraction_low` for tokens
# pushed below 1 - eps_low with a negative one.
#
# ## 3. Clip-higher
#
# DAPO (section 3.1) noticed that a symmetric clip lets a likely token grow a lot in
# absolute probability but an unlikely one hardly at all: for a token at p = 0.01, a
# ratio capped at 1.2 means p can only reach 0.012 in an update. Raising only the upper
# bound (eps_high = 0.28 > eps_low = 0.2) leaves more room to promote rare good tokens,
# which keeps entropy from collapsing. One token with ratio 1.25 and A = +1: the cell
# prints its gradient under the symmetric clip and under clip-higher.

# %%
for eps_high in (0.2, 0.28):
    logp = torch.log(torch.tensor([[0.01 * 1.25]])).requires_grad_()
    loss, _ = clipped_surrogate(logp, torch.log(torch.tensor([[0.01]])), torch.tensor([1.0]),
                                clip_eps_low=0.2, clip_eps_high=eps_high)
    loss.sum().backward()
    print(f"eps_high={eps_high:<5} ratio 1.25, A=+1: loss {loss.item():+.4f}, "
          f"gradient {logp.grad.item():+.4f}")

# %% [markdown]
# ## 4. Aggregation: token, sequence, constant
#
# The per-token losses become one number in one of three ways (m = completion mask,
# L = max_new_tokens):
#
#     token      sum_it m_it l_it / sum_it m_it               SRPO, DAPO
#     sequence   1/N sum_i (sum_t m_it l_it / sum_t m_it)     original GRPO
#     constant   sum_it m_it l_it / (N * L)                   Dr. GRPO
#
# What differs is how much *one token* weighs. Below, two completions with the same
# advantage: a short one (2 tokens) and a long one (6 tokens), with L = 8. The gradient of
# the loss with respect to each per-token loss is that token's weight; the cell prints the
# weight of one token of each completion. Under "sequence" a token of the short answer
# weighs more than a token of the long one (each completion gets the same total
# weight, spread over its tokens, so the ratio printed is the inverse ratio of the
# lengths), which GRPO's critics call a length bias; under "token" and "constant" every
# token weighs the same.

# %%
lengths = [2, 6]
T, L = max(lengths), 8
completion_mask = torch.tensor([[1.0] * n + [0.0] * (T - n) for n in lengths])   # (2, T)
for aggregation in ("token", "sequence", "constant"):
    per_token = torch.ones(2, T, requires_grad=True)       # stand-in per-token losses
    loss = aggregate_loss(per_token, completion_mask, aggregation, max_new_tokens=L)
    loss.backward()
    short_weight, long_weight = per_token.grad[0, 0].item(), per_token.grad[1, 0].item()
    print(f"{aggregation:9s} weight of a token: short answer {short_weight:.4f}, "
          f"long answer {long_weight:.4f}, ratio {short_weight / long_weight:.2f}")

# %% [markdown]
# ## 5. Why the micro-batch split must not matter
#
# Each aggregation is a sum over rows divided by a *normalizer* (token count, row count,
# or N * L). To fit memory the update splits the N rows into micro-batches and
# accumulates gradients. If each micro-batch divides by its *own* token count (a common
# shortcut, and TRL's `loss_type="bnpo"`), a micro-batch of short completions weighs its
# tokens more than a micro-batch of long ones, and the gradient changes with the
# micro-batch size — memory settings become a hyperparameter. `srpo_mini` computes the
# normalizer once from the whole batch (`loss_normalizer`) and passes it to every
# micro-batch (`aggregate_loss(..., normalizer=...)`), so the micro-batch losses add up
# to the full-batch loss exactly.
#
# The cell takes six rows of random per-token losses with different lengths and compares,
# for micro-batches of 2 rows: the full-batch loss, the sum of micro-batch losses with
# the shared normalizer, and the mean of micro-batch losses each with its own normalizer.

# %%
generator = torch.Generator().manual_seed(0)
lengths = [1, 2, 3, 8, 8, 8]
T = max(lengths)
mask6 = torch.tensor([[1.0] * n + [0.0] * (T - n) for n in lengths])
per_token6 = torch.randn(6, T, generator=generator)
micro = [slice(0, 2), slice(2, 4), slice(4, 6)]
for aggregation in ("token", "sequence", "constant"):
    full = aggregate_loss(per_token6, mask6, aggregation)
    normalizer = loss_normalizer(aggregation, mask6)
    shared = sum(aggregate_loss(per_token6[rows], mask6[rows], aggregation,
                                normalizer=normalizer, max_new_tokens=T)
                 for rows in micro)
    own = sum(aggregate_loss(per_token6[rows], mask6[rows], aggregation,
                             max_new_tokens=T) for rows in micro) / len(micro)
    print(f"{aggregation:9s} full batch {full.item():+.6f}   shared normalizer "
          f"{shared.item():+.6f}   own normalizer, averaged {own.item():+.6f}")

# %% [markdown]
# With micro-batches of equal size only the token count changes from one micro-batch to
# the next (the row count and N * L do not), so "token" — SRPO's choice — is exactly the
# aggregation where the shortcut goes wrong. (With unequal micro-batches, e.g. a last
# smaller one, "sequence" goes wrong too.)
#
# Now the real thing: `optimize_policy` runs one update on a tiny randomly initialised
# model (built in-process, no download). With plain SGD (learning rate 1) the parameter
# change *is* the gradient, so comparing the parameters after one update with
# `micro_batch_size` = all rows, 3 and 1 compares the gradients. Gradient clipping is
# switched off so nothing rescales them.

# %%
from srpo_mini.model import build_tiny_model
from srpo_mini.sampler import generate_rollouts
from srpo_mini.config import Config, LossConfig, OptimConfig
from srpo_mini.update import optimize_policy

model, tokenizer = build_tiny_model(seed=0, hidden_size=32, num_layers=2, num_heads=2,
                                    num_kv_heads=1, intermediate_size=64)
prompts = ["User: Compute 3+4*5.\nAssistant:", "User: Compute 1/2+1/4.\nAssistant:"]
rollout = generate_rollouts(model, tokenizer, prompts, group_size=3, max_new_tokens=12,
                            seed=0)
print("completion lengths:", rollout.completion_lengths.tolist())
rollout_rewards = torch.tensor([1., 0., 0., 1., 1., 0.])
rollout_advantages = group_advantages(rollout_rewards, rollout.group_size)


def updated_parameters(micro_batch_size):
    policy = copy.deepcopy(model)
    optimizer = torch.optim.SGD(policy.parameters(), lr=1.0)
    config = Config(optim=OptimConfig(micro_batch_size=micro_batch_size, max_grad_norm=None),
                    loss=LossConfig(aggregation="token"))
    history = optimize_policy(policy, optimizer, rollout, rollout_advantages, config)
    return torch.cat([p.detach().flatten() for p in policy.parameters()]), history[0]


initial = torch.cat([p.detach().flatten() for p in model.parameters()])
reference, first_update = updated_parameters(len(rollout))
print(f"size of the update (largest parameter change): "
      f"{(reference - initial).abs().max().item():.2e}")
for size in (3, 1):
    params, _ = updated_parameters(size)
    print(f"micro_batch_size={size}: largest parameter difference from one full batch "
          f"{(params - reference).abs().max().item():.2e}")

# %% [markdown]
# Compare the differences with the size of the update printed first: what is left is
# float rounding (the same sums added in a different order).
#
# ## 6. Why a loss of about 0 is normal
#
# With one update per rollout batch (mu = 1, SRPO's setting) the "old" log-probs are the
# current ones, so every ratio is exactly 1 and nothing is clipped. The per-token loss is
# then just `-A_i`, and the token-aggregated loss is
#
#     -sum_i A_i * len_i / sum_i len_i
#
# Since the advantages of each group sum to zero (section 1), this is zero when the
# completions of a group have equal lengths and small otherwise — whether or not the
# model is learning. The *gradient* is not small:
# `-sum_i A_i * grad(sum_t logp_it) / tokens`. So a flat loss curve near zero says nothing
# about progress; watch the reward, the gradient norm and, with mu > 1, the clip
# fractions. The cell prints what the update above logged.

# %%
print({key: round(float(first_update[key]), 6) for key in
       ("loss", "grad_norm", "ratio_mean", "clip_fraction", "approx_kl")})
assert abs(first_update["ratio_mean"] - 1.0) < 1e-6 and first_update["clip_fraction"] == 0.0

# %% [markdown]
# ## 7. The KL term SRPO leaves out
#
# GRPO adds `beta * KL(pi || pi_ref)` per token with the k3 estimator
# `exp(ref - logp) - (ref - logp) - 1`, which is never negative and zero only where the
# two policies agree. SRPO and DAPO set beta = 0 (no reference model is even loaded,
# `loss.beta`). The cell evaluates `k3_kl` for a few log-ratios.

# %%
logp = torch.log(torch.tensor([[0.5, 0.5, 0.5, 0.5]]))
ref = torch.log(torch.tensor([[0.5, 0.25, 0.75, 0.05]]))
print("ref/pi ratio:", torch.exp(ref - logp))
print("k3 KL       :", k3_kl(logp, ref))

# %%
print("chapter 1 done")
