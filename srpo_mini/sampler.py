"""Rollouts: G completions per prompt with Hugging Face `generate()`.

For a batch of B prompts the sampler returns B*G completions, row `i*G + j` being the j-th
completion of prompt i, together with everything the later stages need: the left-padded
prompt ids and mask, the completion ids, a completion mask that is 1 up to and including
the first stop (EOS) token, a `truncated` flag for completions that hit `max_new_tokens`
without stopping, the group index of each row and the decoded text.

    token_t ~ softmax(filter(logits_t / temperature))      filter = top-k, then top-p

Generation is batched (`generation_batch_size` rows at a time bounds memory), left-padded
(generation appends on the right, so every prompt must end flush against it), uses the KV
cache and stops a row at its first EOS; there is no Python loop per token here. Two
savings, neither of which changes the distribution sampled:
- shared prefill: the G rows of a group have the same prompt, so its KV cache is
  computed once per prompt (all but its last token) and copied to the G rows;
- rounds: `generate()` runs `round_tokens` new tokens at a time; between rounds the rows
  that have stopped leave the batch and the KV cache, so no compute goes to finished
  rows while the longest completions go on (one call would carry them to the end).

Reference: DeepSeekMath (arXiv 2402.03300) section 4.1 (G outputs per question);
SRPO (arXiv 2504.14286) section 2 uses the same group sampling.

Differences from the paper:
- The model's own generation defaults (repetition penalty, top-k, ... from a hub
  checkpoint's `generation_config.json`) are ignored: the sampling distribution is exactly
  the one above, so that `logprobs.per_token_logps` with the same temperature scores the
  sampled tokens under the policy that drew them (top-k / top-p are not reproduced there,
  as in TRL; leave them off for on-policy ratios).
- Sampling is on-policy with `generate()`; large frameworks use an inference engine
  (vLLM, SGLang) whose log-probs differ slightly from the learner's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields

import torch

from .model import cache_keyword, copy_cache_to_rows, output_cache, prefill


@dataclass
class RolloutBatch:
    """B prompts x G completions, row `i*G + j` = j-th completion of prompt i (N = B*G).

    prompt_ids:      (N, P) long, left-padded with the pad id.
    prompt_mask:     (N, P) long, 1 on prompt tokens.
    completion_ids:  (N, T) long, pad id after the first EOS.
    completion_mask: (N, T) long, 1 through the first EOS inclusive (all 1 when truncated).
    truncated:       (N,) bool, no EOS within `max_new_tokens`.
    group_index:     (N,) long, which prompt the row answers.
    texts:           N decoded completions, special tokens skipped.
    group_size:      G.
    pad_token_id:    the id in padded positions (for re-padding in `concat_rollouts`).
    All tensors are on the CPU as returned by `generate_rollouts`.
    """

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    truncated: torch.Tensor
    group_index: torch.Tensor
    texts: list[str]
    group_size: int
    pad_token_id: int = 0

    def __len__(self) -> int:
        return self.completion_ids.shape[0]

    @property
    def input_ids(self) -> torch.Tensor:
        """Prompt and completion ids side by side: (N, P + T)."""
        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        """Prompt and completion masks side by side: (N, P + T)."""
        return torch.cat([self.prompt_mask, self.completion_mask], dim=1)

    @property
    def completion_lengths(self) -> torch.Tensor:
        """Tokens per completion, EOS included: (N,)."""
        return self.completion_mask.sum(dim=1)

    def select(self, indices) -> RolloutBatch:
        """The rows `indices` (list or 1-D tensor), in that order, as a new batch.

        `group_size` is kept as is: select whole groups to keep the group structure.
        """
        index = torch.as_tensor(indices, dtype=torch.long)
        picked = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in picked.items():
            if isinstance(value, torch.Tensor):
                picked[name] = value[index.to(value.device)]
        picked["texts"] = [self.texts[i] for i in index.tolist()]
        return RolloutBatch(**picked)


def concat_rollouts(batches: list[RolloutBatch]) -> RolloutBatch:
    """Several rollout batches (e.g. DAPO's refill rounds) as one, rows in order.

    Prompts are re-padded on the left and completions on the right to the widest batch;
    the group indices of each batch are shifted past those of the batches before it.

    Args:
        batches: RolloutBatch objects with the same group_size.
    Returns:
        RolloutBatch with sum(len(b)) rows, P = max P, T = max T.
    """
    if not batches:
        raise ValueError("no rollout batches to concatenate")
    if len({b.group_size for b in batches}) > 1:
        raise ValueError("rollout batches have different group sizes")
    pad_id = batches[0].pad_token_id
    P = max(b.prompt_ids.shape[1] for b in batches)
    T = max(b.completion_ids.shape[1] for b in batches)

    def left(x, value):  # (n, p) -> (n, P), padding on the left
        return torch.nn.functional.pad(x, (P - x.shape[1], 0), value=value)

    def right(x, value):  # (n, t) -> (n, T), padding on the right
        return torch.nn.functional.pad(x, (0, T - x.shape[1]), value=value)

    group_index, offset = [], 0
    for b in batches:
        group_index.append(b.group_index + offset)
        offset += int(b.group_index.max()) + 1 if len(b) else 0
    return RolloutBatch(
        prompt_ids=torch.cat([left(b.prompt_ids, pad_id) for b in batches]),
        prompt_mask=torch.cat([left(b.prompt_mask, 0) for b in batches]),
        completion_ids=torch.cat([right(b.completion_ids, pad_id) for b in batches]),
        completion_mask=torch.cat([right(b.completion_mask, 0) for b in batches]),
        truncated=torch.cat([b.truncated for b in batches]),
        group_index=torch.cat(group_index),
        texts=[text for b in batches for text in b.texts],
        group_size=batches[0].group_size, pad_token_id=pad_id)


def stop_token_ids(model, tokenizer) -> list[int]:
    """The ids that end a completion: the tokenizer's EOS and the model's configured EOS ids.

    Instruct checkpoints often stop on more than one id (Qwen2.5-Instruct: <|im_end|> and
    <|endoftext|>); the completion mask must end at whichever comes first.
    """
    ids = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    for value in (tokenizer.eos_token_id, configured):
        if value is None:
            continue
        for token_id in (value if isinstance(value, (list, tuple)) else [value]):
            if int(token_id) not in ids:
                ids.append(int(token_id))
    if not ids:
        raise ValueError("the tokenizer has no EOS token and the model configures none")
    return ids


def completion_mask_from_ids(completion_ids: torch.Tensor, stop_ids: list[int]
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask through the first stop token, and which rows never stop.

    Args:
        completion_ids: (N, T) generated ids.
        stop_ids: ids that end a completion.
    Returns:
        completion_mask (N, T) long, 1 at positions <= the first stop token (all 1 if none);
        truncated (N,) bool, True where no stop token appears.
    """
    is_stop = torch.isin(completion_ids, torch.tensor(stop_ids, device=completion_ids.device))
    has_stop = is_stop.any(dim=1)
    T = completion_ids.shape[1]
    # argmax of a bool row is its first True; rows without a stop keep all T tokens.
    first_stop = torch.where(has_stop, is_stop.int().argmax(dim=1),
                             torch.full_like(has_stop, T - 1, dtype=torch.long))
    positions = torch.arange(T, device=completion_ids.device).unsqueeze(0)  # (1, T)
    completion_mask = (positions <= first_stop.unsqueeze(1)).long()  # (N, T)
    return completion_mask, ~has_stop


def _generation_config(tokenizer, stop_ids, *, max_new_tokens, temperature, top_p, top_k,
                       greedy):
    """Every option that shapes the distribution set explicitly (nothing from the model)."""
    from transformers import GenerationConfig

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    sampling = {} if greedy else {"temperature": temperature, "top_p": top_p,
                                  "top_k": top_k}
    return GenerationConfig(max_new_tokens=max_new_tokens, do_sample=not greedy,
                            num_beams=1, eos_token_id=stop_ids, pad_token_id=pad_id,
                            use_cache=True, return_dict_in_generate=True, **sampling)


def _shared_prefill(model, ids: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor):
    """KV cache of every prompt token but the last, computed once per distinct prompt.

    Args:
        ids, mask: (U, P) distinct prompts, left-padded, on the model's device.
        rows: (n,) which prompt each generated row continues.
    Returns:
        the cache expanded to the n rows (P - 1 positions), or None when there is nothing
        to prefill or the model's cache cannot select rows (generate() then prefills).
    """
    if ids.shape[1] < 2:
        return None
    # The last prompt token is left out: generate() feeds it and samples after it.
    return copy_cache_to_rows(prefill(model, ids[:, :-1], mask[:, :-1]), rows)


def _generate_rows(model, config, ids: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor,
                   stop_ids: list[int], round_tokens: int | None) -> torch.Tensor:
    """Completions of n rows: shared prefill, then generate() in rounds of new tokens.

    Args:
        config: the GenerationConfig (its max_new_tokens is the completion cap).
        ids, mask: (U, P) the distinct prompts of these rows, left-padded, on the device.
        rows: (n,) which of the U prompts each row continues (on the device).
        round_tokens: new tokens per generate() call; None = all in one call.
    Returns:
        (n, t) completion ids on the CPU, t = the longest completion; rows that stopped
        earlier hold the pad id after their stop token.
    """
    cache = _shared_prefill(model, ids, mask, rows)
    sequences, attention = ids[rows], mask[rows]  # (n, P)
    n, cap = len(rows), config.max_new_tokens
    round_tokens = round_tokens or cap
    if cache is None:
        round_tokens = cap  # without a selectable cache every round would prefill anew
    completion_ids = torch.full((n, cap), config.pad_token_id, dtype=torch.long)
    alive = torch.arange(n)  # rows still generating
    stop = torch.tensor(stop_ids, device=sequences.device)
    keyword, done = cache_keyword(model), 0
    round_config = copy.copy(config)
    while done < cap and len(alive):
        round_config.max_new_tokens = min(round_tokens, cap - done)
        kwargs = {keyword: cache} if cache is not None else {}
        output = model.generate(input_ids=sequences, attention_mask=attention,
                                generation_config=round_config, **kwargs)
        new = output.sequences[:, sequences.shape[1]:]  # (alive, k); k < round if all stopped
        k = new.shape[1]
        completion_ids[alive, done:done + k] = new.cpu()
        done += k
        # The cache now holds every token but the last sampled one, which the next round
        # feeds; rows that stopped in this round leave the batch and the cache.
        keep = (~torch.isin(new, stop).any(dim=1)).nonzero().flatten()  # (alive',)
        cache = output_cache(output)
        if len(keep) and len(keep) < len(alive):
            cache.batch_select_indices(keep)
        attention = torch.cat([attention, attention.new_ones(len(alive), k)], dim=1)[keep]
        sequences, alive = output.sequences[keep], alive[keep.cpu()]
    return completion_ids[:, :done]


@torch.no_grad()
def generate_rollouts(model, tokenizer, prompts: list[str], *, group_size: int,
                      max_new_tokens: int, temperature: float = 1.0, top_p: float = 1.0,
                      top_k: int = 0, generation_batch_size: int | None = None,
                      seed: int | None = None, greedy: bool = False,
                      round_tokens: int | None = 16) -> RolloutBatch:
    """Sample `group_size` completions for each prompt.

    Args:
        model: a Hugging Face causal LM (its train/eval mode is left as is).
        tokenizer: its tokenizer; prompts are tokenized without adding special tokens
            (render any BOS into the prompt text, as chat templates do).
        prompts: B rendered prompt strings.
        group_size: G completions per prompt.
        max_new_tokens: completion length cap; longer completions are `truncated`.
        temperature, top_p, top_k: sampling; top_k = 0 and top_p = 1.0 switch them off.
        generation_batch_size: rows per `generate()` call (default: all B*G at once);
            bounds the KV cache and activation memory.
        seed: same seed, same rollouts (for the same generation_batch_size and device);
            the caller's global RNG state is left untouched. None draws from the global RNG.
        greedy: argmax decoding (the G rows of a group are then identical).
        round_tokens: new tokens per generate() call; stopped rows leave the batch between
            calls. Smaller rounds waste less compute on finished rows at the price of more
            calls; None = one call per generation batch. Same seed and round_tokens, same
            rollouts.
    Returns:
        RolloutBatch with N = B*G rows; T is the longest completion, at most max_new_tokens.
    """
    if group_size < 1 or max_new_tokens < 1:
        raise ValueError("group_size and max_new_tokens must be >= 1")
    if not greedy and temperature <= 0:
        raise ValueError("temperature must be > 0 for sampling; use greedy=True for argmax")
    if not prompts:
        raise ValueError("no prompts to sample from")
    device = next(model.parameters()).device
    stop_ids = stop_token_ids(model, tokenizer)
    config = _generation_config(tokenizer, stop_ids, max_new_tokens=max_new_tokens,
                                temperature=temperature, top_p=top_p, top_k=top_k,
                                greedy=greedy)
    pad_id = config.pad_token_id

    encoded = tokenizer(list(prompts), padding=True, padding_side="left",
                        add_special_tokens=False, return_tensors="pt")
    prompt_ids = encoded["input_ids"].repeat_interleave(group_size, dim=0)  # (B*G, P)
    prompt_mask = encoded["attention_mask"].repeat_interleave(group_size, dim=0)
    N = prompt_ids.shape[0]
    chunk = generation_batch_size or N
    prompt_of_row = torch.arange(len(prompts)).repeat_interleave(group_size)  # (B*G,)

    completions = []
    # fork_rng saves and restores the caller's RNG state (CPU, and this GPU if any).
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    saved_config = model.generation_config
    with torch.random.fork_rng(devices=devices, enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        try:
            # A blank config stands in for the model's own, whose None fields generate()
            # would otherwise fill from it (e.g. a checkpoint's repetition_penalty).
            model.generation_config = type(config)()
            for start in range(0, N, chunk):
                # The distinct prompts of this chunk, and which one each row continues.
                distinct, rows = torch.unique_consecutive(prompt_of_row[start:start + chunk],
                                                          return_inverse=True)
                ids, mask = encoded["input_ids"][distinct], encoded["attention_mask"][distinct]
                # Drop the columns that are padding in every row of this chunk: less work,
                # same result (positions come from the attention mask).
                first_column = int((mask.sum(dim=0) > 0).int().argmax())
                ids, mask = ids[:, first_column:].to(device), mask[:, first_column:].to(device)
                completions.append(_generate_rows(model, config, ids, mask, rows.to(device),
                                                  stop_ids, round_tokens))  # (chunk, T_chunk)
        finally:
            model.generation_config = saved_config

    T = max(c.shape[1] for c in completions)
    completion_ids = torch.full((N, T), pad_id, dtype=torch.long)
    completion_mask = torch.zeros((N, T), dtype=torch.long)
    truncated = torch.zeros(N, dtype=torch.bool)
    row = 0
    for ids in completions:
        # Mask per chunk, before padding to T: a pad id equal to EOS must not end a row early.
        mask, no_stop = completion_mask_from_ids(ids, stop_ids)
        n, t = ids.shape
        completion_ids[row:row + n, :t] = ids
        completion_mask[row:row + n, :t] = mask
        truncated[row:row + n] = no_stop
        row += n
    completion_ids = completion_ids.masked_fill(completion_mask == 0, pad_id)
    texts = tokenizer.batch_decode([ids[mask.bool()] for ids, mask
                                    in zip(completion_ids, completion_mask)],
                                   skip_special_tokens=True)
    group_index = torch.arange(len(prompts)).repeat_interleave(group_size)  # (B*G,)
    return RolloutBatch(prompt_ids=prompt_ids, prompt_mask=prompt_mask,
                        completion_ids=completion_ids, completion_mask=completion_mask,
                        truncated=truncated, group_index=group_index, texts=texts,
                        group_size=group_size, pad_token_id=pad_id)
