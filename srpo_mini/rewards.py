"""Rewards: verifier accuracy routed by domain, plus optional format, length and user terms.

For rollout i (a completion of problem p; N = B*G rollouts in all):

    reward_i = accuracy_i                     verifier: math answer, or code tests
             + format_weight * format_i       1 if <think> .. </think> <answer> .. </answer>
             + overlong_i                     DAPO soft overlong penalty, in [-1, 0]
             + sum_k w_k * user_k(i)          TRL-style reward functions

accuracy_i is 1 or 0 (code: every test passes); with `code_pass_fraction` a code rollout
scores the fraction of tests passed instead. `correct_i` (bool) is the verifier's full
success whatever the shaping; history resampling reads it.

Truncated completions (no EOS within max_new_tokens) follow `truncation`:

    zero           (default) accuracy, format and user terms are 0 and the verifier is not
                   run: an unfinished answer earns nothing
    mask           as zero, and the row's `loss_mask` is False so the trainer leaves it out
                   of the loss (DAPO's "overlong filtering"); it still counts in its group's
                   mean and std
    soft_overlong  every completion is verified and scored as usual, and every rollout gets
                   DAPO's soft overlong penalty (off under the other two rules)

With L the completion length in tokens (EOS included), L_max = `max_new_tokens` (the
sampler's cap, `sampling.max_new_tokens`) and L_cache = `overlong_buffer` (< L_max):

    overlong(L) = 0                                  L <= L_max - L_cache
                = ((L_max - L_cache) - L) / L_cache  L_max - L_cache < L <= L_max
                = -1                                 L > L_max

so a truncated completion (L = L_max) gets -1 and a completion ending in the buffer a
linear share of it.

A verifier error never crashes a run, and user functions take TRL's signature
(`compute_rewards`).

Reference: SRPO (arXiv 2504.14286): rule-based accuracy reward, R1-Zero template; DAPO
(arXiv 2503.14476) section 3.4, "Overlong Reward Shaping"; TRL `GRPOTrainer` reward
functions.

Differences from the paper:
- SRPO's reward is accuracy only; the format, overlong and user terms are options (off by
  default) for comparisons and other tasks.
- The truncation rule is this implementation's choice; SRPO does not state one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from srpo_mini.config import RewardsConfig, validate_rewards
from srpo_mini.prompts import has_format

RewardFunc = Callable[..., list]


@dataclass(frozen=True)
class TruncationRule:
    """How truncated rollouts are treated: verified or not, kept in the loss or not, and
    whether the soft overlong penalty applies (to every rollout)."""

    verify: bool
    in_loss: bool
    soft_overlong: bool


TRUNCATION_RULES = {
    "zero": TruncationRule(verify=False, in_loss=True, soft_overlong=False),
    "mask": TruncationRule(verify=False, in_loss=False, soft_overlong=False),
    "soft_overlong": TruncationRule(verify=True, in_loss=True, soft_overlong=True),
}


def verifier_options_for(rewards: RewardsConfig) -> dict:
    """Keyword arguments of `check_completions` taken from `config.rewards`."""
    return {"code_pass_fraction": rewards.code_pass_fraction, "timeout": rewards.verify_timeout,
            "code_total_timeout": rewards.code_total_timeout, "memory_mb": rewards.code_memory_mb,
            "workers": rewards.verify_workers, "math_extraction": rewards.math_extraction}


@dataclass
class RewardBatch:
    """Per-rollout rewards and their parts, all (N,) with N = B*G."""

    rewards: torch.Tensor        # (N,) float32, the training reward
    accuracy: torch.Tensor       # (N,) float32, verifier score in [0, 1]
    correct: torch.Tensor        # (N,) bool, the verifier's full success
    format: torch.Tensor         # (N,) float32, 1.0 when the completion has the tag format
    overlong: torch.Tensor       # (N,) float32, soft overlong penalty (0 when off)
    loss_mask: torch.Tensor      # (N,) bool, False for rows to leave out of the loss
    terms: dict[str, torch.Tensor]  # user reward functions' raw values by name, (N,) each
    domains: list[str]
    reasons: list[str]           # verifier reason per rollout ("truncated" if not verified)

    def domain_rows(self, domain: str) -> torch.Tensor:
        """(N,) bool, True on the rollouts of `domain`."""
        return torch.tensor([d == domain for d in self.domains])

    def per_domain(self) -> dict[str, dict[str, float]]:
        """{domain: {"reward", "accuracy", "rollouts"}} means over the rollouts."""
        out = {}
        for domain in sorted(set(self.domains)):
            rows = self.domain_rows(domain)
            out[domain] = {"reward": self.rewards[rows].mean().item(),
                           "accuracy": self.accuracy[rows].mean().item(),
                           "rollouts": int(rows.sum())}
        return out

    def select(self, indices) -> RewardBatch:
        """The rows `indices` (list or 1-D long tensor), in that order."""
        index = torch.as_tensor(indices, dtype=torch.long)
        rows = index.tolist()
        return RewardBatch(
            rewards=self.rewards[index], accuracy=self.accuracy[index],
            correct=self.correct[index], format=self.format[index],
            overlong=self.overlong[index], loss_mask=self.loss_mask[index],
            terms={name: values[index] for name, values in self.terms.items()},
            domains=[self.domains[i] for i in rows], reasons=[self.reasons[i] for i in rows])

    def reason_counts(self) -> dict[str, Counter]:
        """{domain: Counter(reason_category(reason))} over the rollouts."""
        counts: dict[str, Counter] = {}
        for domain, reason in zip(self.domains, self.reasons):
            counts.setdefault(domain, Counter())[reason_category(reason)] += 1
        return counts


def concat_reward_batches(batches: Sequence[RewardBatch]) -> RewardBatch:
    """Several batches' rows end to end (DAPO refill rounds), in the given order."""
    names = set(batches[0].terms)
    if any(set(b.terms) != names for b in batches):
        raise ValueError("concat_reward_batches: batches have different reward terms")

    def cat(field: str) -> torch.Tensor:
        return torch.cat([getattr(b, field) for b in batches])

    return RewardBatch(
        rewards=cat("rewards"), accuracy=cat("accuracy"), correct=cat("correct"),
        format=cat("format"), overlong=cat("overlong"), loss_mask=cat("loss_mask"),
        terms={n: torch.cat([b.terms[n] for b in batches]) for n in sorted(names)},
        domains=[d for b in batches for d in b.domains],
        reasons=[r for b in batches for r in b.reasons])


_CODE_TEST_REASON = re.compile(r"^test \d+: (\w+)")


def reason_category(reason: str) -> str:
    """A countable category of a verifier reason: the code outcome of "test 3: timeout
    (...)" ("timeout"), else the text before the first ':' ("unequal: 3 vs 4" -> "unequal")."""
    match = _CODE_TEST_REASON.match(reason)
    if match:
        return match.group(1)
    return reason.split(":", 1)[0].strip() or "unknown"


def soft_overlong_penalty(lengths, max_new_tokens: int, buffer: int) -> torch.Tensor:
    """DAPO's soft overlong penalty (section 3.4) for completion lengths (N,) -> (N,) in [-1, 0]."""
    lengths = torch.as_tensor(lengths, dtype=torch.float32)
    soft_start = max_new_tokens - buffer
    penalty = (soft_start - lengths) / buffer                     # negative past soft_start
    return penalty.clamp(min=-1.0, max=0.0)                       # 0 before, -1 beyond L_max


def _verify(problems, completions, check_fn, options) -> list[tuple[bool, float, str]]:
    """(correct, score, reason) per completion; never raises."""
    if not completions:
        return []
    try:
        results = list(check_fn(problems, completions, **options))
        if len(results) != len(completions):
            raise ValueError(f"{len(results)} results for {len(completions)} completions")
        # The code verifier leaves the reason empty for a pass.
        return [(bool(r.correct), float(r.score), str(r.reason) or ("passed" if r.correct
                                                                     else "failed"))
                for r in results]
    except Exception as err:  # a verifier bug must cost reward, not the run
        return [(False, 0.0, f"verifier_error: {type(err).__name__}")] * len(completions)


def _default_check_fn():
    from srpo_mini.verifiers import check_completions

    return check_completions


def _columns(problems, truncated, lengths) -> dict[str, list]:
    """Problem fields as per-rollout lists, the keyword arguments of a TRL reward function."""
    columns = {name: [getattr(p, name) for p in problems]
               for name in ("id", "domain", "answer", "tests", "difficulty", "source")}
    for key in sorted({k for p in problems for k in p.extra}):
        columns.setdefault(key, [p.extra.get(key) for p in problems])
    columns["truncated"] = list(truncated)
    columns["completion_length"] = list(lengths)
    return columns


def _call_user(fn, prompts, completions, columns) -> torch.Tensor:
    name = getattr(fn, "__name__", repr(fn))
    try:
        values = fn(prompts, completions, **columns)
    except Exception as err:
        raise RuntimeError(f"reward function {name!r} failed: {err}") from err
    values = list(values)
    if len(values) != len(completions):
        raise ValueError(f"reward function {name!r} returned {len(values)} values for "
                         f"{len(completions)} completions")
    return torch.tensor([0.0 if v is None else float(v) for v in values], dtype=torch.float32)


def compute_rewards(problems: Sequence, completions: Sequence[str], *,
                    truncated=None, completion_lengths=None, prompts: Sequence[str] | None = None,
                    config: RewardsConfig | None = None,
                    max_new_tokens: int | None = None,
                    reward_funcs: Sequence[RewardFunc] = (),
                    reward_weights: Sequence[float] | None = None,
                    check_fn: Callable | None = None,
                    verifier_options: dict | None = None) -> RewardBatch:
    """Score N = B*G completions of B problems (row i*G + j answers problems[i]).

    problems: B `Problem`s; completions: N decoded texts; truncated: (N,) bool (default
    none); completion_lengths: (N,) tokens (needed by the overlong penalty); prompts: the
    B or N model inputs passed to user functions (default: the problem statements);
    config: `config.rewards` (default: its defaults); max_new_tokens: the completion cap,
    `sampling.max_new_tokens` (needed by soft_overlong);
    reward_funcs / reward_weights: TRL-style functions and their weights (default 1 each);
    check_fn: the verifier (default `srpo_mini.verifiers.check_completions`), called on
    the rows to verify as check_fn(problems, completions, **options), one problem per
    completion, with options = `verifier_options_for(config)` updated by
    `verifier_options`. Returns a `RewardBatch`.

    A verifier never crashes a run: if it raises, or returns a malformed result, the rows it
    was checking get accuracy 0 and the reason "verifier_error: <exception type>"; every
    reason is counted per domain (`RewardBatch.reason_counts`).

    User reward functions have TRL's signature, `fn(prompts, completions, **columns) ->
    list[float]`, one value per rollout; `columns` carries the problem fields as lists
    aligned with the completions (id, domain, answer, tests, difficulty, source and any
    extra dataset column) plus `truncated` and `completion_length`. A None value counts as
    0 (TRL uses None for "not applicable"). An error in a user function is raised, naming
    the function.
    """
    config = config or RewardsConfig()
    validate_rewards(config, max_new_tokens)
    rule = TRUNCATION_RULES[config.truncation]
    n_rollouts = len(completions)
    if not problems or n_rollouts % len(problems):
        raise ValueError(f"{n_rollouts} completions for {len(problems)} problems: "
                         "need a whole group per problem")
    group_size = n_rollouts // len(problems)
    rows = [p for p in problems for _ in range(group_size)]                    # N problems
    truncated = torch.zeros(n_rollouts, dtype=torch.bool) if truncated is None \
        else torch.as_tensor(truncated, dtype=torch.bool).flatten()            # (N,)
    if completion_lengths is None:
        if rule.soft_overlong:
            raise ValueError("compute_rewards: soft_overlong needs completion_lengths")
        completion_lengths = [0] * n_rollouts
    lengths = torch.as_tensor(completion_lengths).flatten()                    # (N,)

    # Verify the rows the truncation rule allows; the others are wrong by rule.
    to_verify = [i for i in range(n_rollouts) if rule.verify or not truncated[i]]
    verdicts = _verify([rows[i] for i in to_verify], [completions[i] for i in to_verify],
                       check_fn or _default_check_fn(),
                       {**verifier_options_for(config), **(verifier_options or {})})
    correct = torch.zeros(n_rollouts, dtype=torch.bool)
    accuracy = torch.zeros(n_rollouts)
    reasons = ["truncated"] * n_rollouts
    for i, (is_correct, score, reason) in zip(to_verify, verdicts):
        correct[i], reasons[i] = is_correct, reason
        partial = config.code_pass_fraction and rows[i].domain == "code"
        accuracy[i] = min(max(score, 0.0), 1.0) if partial else float(is_correct)

    scored = rule.verify | ~truncated         # rows whose content may earn reward, (N,)
    format_ok = torch.tensor([has_format(text) for text in completions], dtype=torch.float32)
    format_ok = format_ok * scored
    overlong = torch.zeros(n_rollouts)
    if rule.soft_overlong:
        overlong = soft_overlong_penalty(lengths, max_new_tokens, config.overlong_buffer)

    rewards = accuracy + config.format_weight * format_ok + overlong
    terms = {}
    if reward_funcs:
        weights = list(reward_weights) if reward_weights is not None else [1.0] * len(reward_funcs)
        if len(weights) != len(reward_funcs):
            raise ValueError(f"{len(weights)} reward_weights for {len(reward_funcs)} reward_funcs")
        user_prompts = list(prompts) if prompts is not None else [p.prompt for p in problems]
        if len(user_prompts) == len(problems):
            user_prompts = [q for q in user_prompts for _ in range(group_size)]
        columns = _columns(rows, truncated.tolist(), lengths.tolist())
        for fn, weight in zip(reward_funcs, weights):
            values = _call_user(fn, user_prompts, list(completions), columns) * scored
            terms[getattr(fn, "__name__", f"reward_{len(terms)}")] = values
            rewards = rewards + weight * values

    loss_mask = torch.ones(n_rollouts, dtype=torch.bool) if rule.in_loss else ~truncated
    return RewardBatch(rewards=rewards.float(), accuracy=accuracy, correct=correct,
                       format=format_ok, overlong=overlong, loss_mask=loss_mask, terms=terms,
                       domains=[p.domain for p in rows], reasons=reasons)
