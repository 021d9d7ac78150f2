"""Per-token log-probabilities of completion tokens under a causal LM.

For a prompt x and completion y_1..y_T the policy-gradient loss needs, per token,

    log pi(y_t | x, y_<t) = z_t[y_t] / tau - logsumexp_v(z_t[v] / tau)

where z_t are the logits at the position before y_t and tau is the sampling temperature
(the sampler drew y_t from softmax(z_t / tau), so that is the policy being scored).
Optionally the entropy of that distribution, H_t = logsumexp(z_t / tau) - sum_v p_v z_v / tau.

Memory: the model is asked only for the logits of the completion positions
(`logits_to_keep`, no logits over the prompt), micro-batch by micro-batch, and the
log-prob is the gathered logit minus a logsumexp, so no (N, T, V) log-softmax is ever
built; the peak is one micro-batch's (m, T, V) logits. Micro-batches group rows of
similar completion length (`length_grouped_rows`) and each is cut to its own longest
completion, so little compute goes to padding; rows that share a prompt share one pass
over it (`completion_logits`), so a group's prompt is computed once, not G times.

Reference: DeepSeekMath (arXiv 2402.03300) eq. 3 (the ratio pi_theta / pi_theta_old of
per-token probabilities); TRL `GRPOTrainer._get_per_token_logps_and_entropies`.

Differences from the paper: none in the maths. Position ids follow `generate()` (counted
from the first non-pad token) so that scores match the sampler's, not only up to RoPE's
shift invariance.
"""

from __future__ import annotations

import torch

from .model import (cache_keyword, copy_cache_to_rows, last_logits_kwargs, position_ids,
                    prefill)


def _checkpointing(model) -> bool:
    """Gradient (activation) checkpointing on: the model then keeps no cache in training."""
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):
        if hasattr(type(model), name):  # the newer name first (the older one warns)
            return bool(getattr(model, name))
    return False


def completion_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      completion_length: int) -> torch.Tensor:
    """The logits that predict each of the last T tokens of every row.

    Rows with the same prompt (the G completions of a group) share one pass over it: the
    distinct prompts run once with their KV cache kept, the cache is copied to their
    rows, and the completions run on top of it. Causal attention makes a prompt's
    activations independent of what follows, so the logits, and the gradients that flow
    back through the shared pass, are those of one pass over every row, for 1/G of the
    prompt's cost. One plain pass when no prompt repeats, and with gradient checkpointing
    (which turns the cache off in training).

    Args:
        input_ids: (m, P + T) prompt (left-padded) followed by the completion.
        attention_mask: (m, P + T).
        completion_length: T.
    Returns:
        logits (m, T, V); position t predicts completion token t.
    """
    T = completion_length
    P = input_ids.shape[1] - T
    positions = position_ids(attention_mask)  # (m, P + T)

    def one_pass():
        logits = model(input_ids=input_ids, attention_mask=attention_mask,
                       position_ids=positions, use_cache=False,
                       **last_logits_kwargs(model, T + 1)).logits
        # The logit at position p predicts token p + 1: keep the T positions before each
        # completion token, dropping the prediction after the last one.
        return logits[:, -(T + 1):-1, :]

    if P == 0 or _checkpointing(model):
        return one_pass()
    prompts, rows = torch.unique(torch.cat([input_ids[:, :P], attention_mask[:, :P]], dim=1),
                                 dim=0, return_inverse=True)  # (U, 2P), (m,)
    if len(prompts) == len(input_ids):
        return one_pass()
    prompt_ids, prompt_mask = prompts[:, :P], prompts[:, P:]  # (U, P) each
    prefix = prefill(model, prompt_ids, prompt_mask)
    cache = copy_cache_to_rows(prefix, rows)  # (U, ...) -> (m, ...): each row's prompt
    if cache is None:
        return one_pass()
    first = prefix.logits[rows, -1:, :]  # (m, 1, V): predicts the first completion token
    if T == 1:
        return first
    # Completion tokens 1..T-1 on top of their prompts predict tokens 2..T.
    rest = model(input_ids=input_ids[:, P:-1], attention_mask=attention_mask[:, :-1],
                 position_ids=positions[:, P:-1], use_cache=True,
                 **{cache_keyword(model): cache}).logits  # (m, T - 1, V)
    return torch.cat([first, rest], dim=1)


def completion_logps(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     completion_length: int, *, temperature: float = 1.0,
                     with_entropy: bool = False
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs (and entropies) of the last `completion_length` tokens of every row.

    Gradients flow through the log-probs when autograd is on; the entropy is detached
    (it is a metric here, not a loss term).

    Args:
        input_ids: (m, P + T) prompt (left-padded) followed by the completion.
        attention_mask: (m, P + T).
        completion_length: T.
        temperature: the sampling temperature tau.
        with_entropy: also return the per-token entropy.
    Returns:
        per_token_logps (m, T) and per-token entropy (m, T) or None.
    """
    T = completion_length
    logits = completion_logits(model, input_ids, attention_mask, T)
    logits = logits.float() / temperature  # (m, T, V)
    completion_ids = input_ids[:, -T:]  # (m, T)
    log_normalizer = torch.logsumexp(logits, dim=-1)  # (m, T)
    token_logits = logits.gather(dim=-1, index=completion_ids.unsqueeze(-1)).squeeze(-1)
    per_token_logps = token_logits - log_normalizer  # (m, T)
    entropy = None
    if with_entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            entropy = log_normalizer - (probs * logits).sum(dim=-1)  # (m, T)
    return per_token_logps, entropy


def rows_logps(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
               completion_ids: torch.Tensor, completion_mask: torch.Tensor, *,
               temperature: float = 1.0, with_entropy: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`completion_logps` for some rows of a rollout batch, trimmed to what they need.

    Prompt columns that are padding in every row, and completion columns past the
    longest completion of these rows, are cut before the forward pass (less work, same
    values) and the result is zero-padded back to the full width T.

    Args:
        prompt_ids, prompt_mask: (m, P), left-padded.
        completion_ids, completion_mask: (m, T).
    Returns:
        per_token_logps (m, T), zero in the columns past these rows' longest completion,
        and entropy (m, T) or None.
    """
    device = next(model.parameters()).device
    T = completion_ids.shape[1]
    first_column = int((prompt_mask.sum(dim=0) > 0).int().argmax())
    kept_length = max(int(completion_mask.sum(dim=1).max()), 1)
    input_ids = torch.cat([prompt_ids[:, first_column:],
                           completion_ids[:, :kept_length]], dim=1).to(device)
    attention_mask = torch.cat([prompt_mask[:, first_column:],
                                completion_mask[:, :kept_length]], dim=1).to(device)
    logps, entropy = completion_logps(model, input_ids, attention_mask, kept_length,
                                      temperature=temperature, with_entropy=with_entropy)
    padding = (0, T - kept_length)
    logps = torch.nn.functional.pad(logps, padding)
    entropy = torch.nn.functional.pad(entropy, padding) if entropy is not None else None
    return logps, entropy


def length_grouped_rows(completion_mask: torch.Tensor, size: int | None) -> list[torch.Tensor]:
    """Row indices of each micro-batch: rows sorted by completion length, cut every `size`.

    `rows_logps` cuts a micro-batch to its longest completion, so grouping rows of similar
    length leaves less padding in each forward (and backward) pass. Every loss aggregation
    sums over rows with a whole-batch normalizer (grpo.py), so the grouping does not change
    the loss or its gradient.

    Args:
        completion_mask: (N, T).
        size: rows per micro-batch; None = all N in one.
    Returns:
        1-D long tensors of row indices (on the CPU), shortest completions first.
    """
    N = completion_mask.shape[0]
    step = size or N
    order = torch.argsort(completion_mask.sum(dim=1).cpu(), stable=True)  # (N,)
    return [order[start:start + step] for start in range(0, N, step)]


@torch.no_grad()
def per_token_logps(model, rollout, *, temperature: float = 1.0,
                    micro_batch_size: int | None = None, with_entropy: bool = False):
    """Log-probs of every completion token of a rollout batch, without gradients.

    Used for the rollout (old) policy's and the reference model's log-probs, once per
    rollout batch.

    Args:
        model: a causal LM (its train/eval mode is left as is).
        rollout: a `RolloutBatch` (prompt_ids, prompt_mask, completion_ids,
            completion_mask, each with N rows).
        temperature: the sampling temperature.
        micro_batch_size: rows per forward pass (default: all N).
        with_entropy: also return per-token entropies.
    Returns:
        per_token_logps (N, T) on the model's device (read them under the completion
        mask: masked positions hold arbitrary values), or the pair
        (per_token_logps, entropy) when `with_entropy`.
    """
    logps, entropies, order = [], [], []
    for rows in length_grouped_rows(rollout.completion_mask, micro_batch_size):
        logp, entropy = rows_logps(
            model, rollout.prompt_ids[rows], rollout.prompt_mask[rows],
            rollout.completion_ids[rows], rollout.completion_mask[rows],
            temperature=temperature, with_entropy=with_entropy)
        logps.append(logp)
        entropies.append(entropy)
        order.append(rows)
    # Back to the rollout's row order.
    inverse = torch.argsort(torch.cat(order)).to(logps[0].device)  # (N,)
    if with_entropy:
        return torch.cat(logps)[inverse], torch.cat(entropies)[inverse]
    return torch.cat(logps)[inverse]
