"""What a run will need, worked out before anything heavy loads: `srpo-mini train --plan`.

From the config and the model's shape (its config.json, or the tiny base's), the plan
counts the parameters and the bytes of each thing a training step holds:

    resident       weights + AdamW's two moments          (P * bytes each; 3 P bytes)
    generation     KV cache 2 L n_kv d_head (P_len + T) * n_gen * bytes
                   + the last position's logits, n_gen * V * 4 bytes, ~3 copies alive
    update         gradients P * bytes, AdamW's temporaries ~P / 2 * bytes, a tied
                   embedding's two gradients ~1.5 V d * bytes
                   + activations of one micro-batch of m rows of P_len + T tokens (a
                     group's prompt once, without gradient checkpointing):
                       saved per token and layer ~ 11 d + 4 d_ff values (no checkpointing)
                       or d per layer + one layer's 11 d + 4 d_ff (gradient checkpointing)
                   + its completion logits m T V: the model's output in its dtype, then
                     ~4 float32 copies: scaled, saved by logsumexp, and the gradients
    peak           resident + max(generation, update)

and the completion tokens of a step (B G T at most). The counts follow the tensors that
srpo_mini's sampler, log-prob pass and update make (sampler.py, logprobs.py, update.py)
and the tensors a Qwen2 / Llama decoder layer saves for backward (normalised inputs, q,
k and v with GQA's keys and values repeated, the attention output, the MLP's gate, up,
activation and product). Attention is assumed memory-efficient (SDPA / flash: no T^2
term). `tests/test_plan.py` holds the estimate to the measured peak on the tiny model.

Differences from a real run: allocator caching and fragmentation (a GPU's reserved
memory runs above the allocated peak), CUDA context (~0.5 GB), and prompts that differ
in length are not counted; the prompt length is an assumption the caller states.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024 ** 3
BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# float32 copies of a micro-batch's completion logits alive at the backward's peak, besides
# the model's own output (measured on CPU: 4.5 in float32, 4.8 with bf16 weights).
LOGPROB_LOGIT_COPIES = 4
# Transients of the update, measured on CPU: AdamW's foreach step holds about half the
# weights' size in temporaries, and a tied embedding's two gradients (as input and as
# output layer) sit apart, about 1.5 embedding-sizes, until they are summed.
OPTIMIZER_TEMPORARIES = 0.5
TIED_GRADIENT_COPIES = 1.5
# float32 copies of the generation batch's last-position logits while sampling.
GENERATION_LOGIT_COPIES = 3


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder-only transformer (Qwen2 / Llama layout: GQA, SwiGLU MLP,
    RMSNorm, biases on q, k, v)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    tied_embeddings: bool = True
    qkv_bias: bool = True

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def parameters(self) -> int:
        """Distinct parameters (a tied embedding counted once)."""
        d, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        attention = d * d + 2 * d * kv + d * d + (d + 2 * kv) * self.qkv_bias  # q k v o
        mlp = 3 * d * self.intermediate_size                                 # gate up down
        layer = attention + mlp + 2 * d                                      # + 2 RMSNorms
        embeddings = self.vocab_size * d * (1 if self.tied_embeddings else 2)
        return embeddings + self.num_layers * layer + d                      # + final norm

    @classmethod
    def from_hf_config(cls, config) -> ModelShape:
        """From a transformers `PretrainedConfig` (Qwen2, Llama, Mistral, ...)."""
        return cls(vocab_size=config.vocab_size, hidden_size=config.hidden_size,
                   intermediate_size=config.intermediate_size,
                   num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
                   num_kv_heads=getattr(config, "num_key_value_heads", None)
                   or config.num_attention_heads,
                   tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
                   qkv_bias=config.model_type == "qwen2"
                   or bool(getattr(config, "attention_bias", False)))


@dataclass
class Plan:
    """Bytes of each part of a step (see the module docstring), and what they assume."""

    shape: ModelShape
    dtype: str
    prompt_tokens: int            # P_len, assumed
    completion_tokens: int        # T, sampling.max_new_tokens
    generation_rows: int          # n_gen, rows per generate() call
    micro_batch_rows: int         # m, rows per log-prob / backward pass
    gradient_checkpointing: bool
    weights: int
    gradients: int
    optimizer_state: int
    kv_cache: int
    generation_logits: int
    activations: int
    logprob_logits: int
    update_temporaries: int       # AdamW's and the tied embedding's transients
    completion_tokens_per_step: int
    step_flops: float             # ~2 P per generated token + 6 P per trained token

    @property
    def generation_peak(self) -> int:
        return self.weights + self.optimizer_state + self.kv_cache + self.generation_logits

    @property
    def update_peak(self) -> int:
        return (self.weights + self.optimizer_state + self.gradients + self.activations
                + self.logprob_logits + self.update_temporaries)

    @property
    def peak(self) -> int:
        return max(self.generation_peak, self.update_peak)


def activation_bytes(shape: ModelShape, tokens: int, dtype_bytes: int,
                     checkpointing: bool) -> int:
    """Saved activations of a forward pass over `tokens` tokens (rows x length)."""
    d, d_ff = shape.hidden_size, shape.intermediate_size
    # Per layer and token: the layer input and residual (2 d), the two RMSNorms' output
    # and its normalised product (4 d), q, the repeated k and v, the attention output and
    # its re-laid-out copy (5 d), and the MLP's gate, activation, up and product (4 d_ff).
    per_layer = (11 * d + 4 * d_ff) * dtype_bytes
    if checkpointing:  # each layer keeps its input; one layer at a time is recomputed
        return tokens * (shape.num_layers * d * dtype_bytes + per_layer)
    return tokens * shape.num_layers * per_layer


def plan_run(config, shape: ModelShape, *, prompt_tokens: int, dtype: str | None = None) -> Plan:
    """The plan of one training step of `config` for a model of `shape`.

    Args:
        config: a resolved `Config`.
        shape: the model's sizes (`model_shape(config)`).
        prompt_tokens: P_len, the longest prompt of a batch in tokens (an assumption).
        dtype: float32 | bfloat16 | float16; default: `run.dtype` ("auto" is taken as
            bfloat16 on a GPU device, float32 on "cpu").
    Returns:
        `Plan`, every size in bytes.
    """
    s, optim = config.sampling, config.optim
    if dtype is None:
        dtype = config.run.dtype
        if dtype == "auto":
            dtype = "float32" if config.run.device in ("cpu", "mps") else "bfloat16"
    size = BYTES[dtype]
    P, T, V = shape.parameters, s.max_new_tokens, shape.vocab_size
    rows = s.prompts_per_step * s.group_size
    n_gen = min(s.generation_batch_size or rows, rows)
    m = min(optim.micro_batch_size, rows)
    sequence = prompt_tokens + T
    # The log-prob pass runs a prompt once for the rows of its group in the micro-batch
    # (logprobs.completion_logits), except under gradient checkpointing (one plain pass).
    if config.model.gradient_checkpointing:
        pass_tokens = m * sequence
    else:
        pass_tokens = -(-m // s.group_size) * prompt_tokens + m * T
    kv_per_token = 2 * shape.num_layers * shape.num_kv_heads * shape.head_dim * size
    return Plan(
        shape=shape, dtype=dtype, prompt_tokens=prompt_tokens, completion_tokens=T,
        generation_rows=n_gen, micro_batch_rows=m,
        gradient_checkpointing=config.model.gradient_checkpointing,
        weights=P * size, gradients=P * size,
        optimizer_state=2 * P * size,     # AdamW's exp_avg and exp_avg_sq, in the weights' dtype
        kv_cache=kv_per_token * n_gen * sequence,
        generation_logits=GENERATION_LOGIT_COPIES * n_gen * V * 4,
        activations=activation_bytes(shape, pass_tokens, size,
                                     config.model.gradient_checkpointing),
        # The model's (m, T + 1, V) output in its dtype, then the float32 copies.
        logprob_logits=m * (T + 1) * V * size + LOGPROB_LOGIT_COPIES * m * T * V * 4,
        update_temporaries=int(OPTIMIZER_TEMPORARIES * P * size + TIED_GRADIENT_COPIES
                               * V * shape.hidden_size * size * shape.tied_embeddings),
        completion_tokens_per_step=rows * T,
        step_flops=2.0 * P * rows * T + 6.0 * P * rows * sequence * optim.mu)


def model_shape(config) -> ModelShape:
    """The shape of `model.name_or_path` from its config.json alone (no weights), or the
    tiny base's when it is null."""
    if config.model.name_or_path is None:
        from .base import BaseConfig
        from .model import build_tokenizer

        base = BaseConfig()
        return ModelShape(vocab_size=len(build_tokenizer()), hidden_size=base.hidden_size,
                          intermediate_size=base.intermediate_size,
                          num_layers=base.num_layers, num_heads=base.num_heads,
                          num_kv_heads=base.num_kv_heads)
    from transformers import AutoConfig

    from .model import _resolve_source  # a missing local path fails here, not on the hub

    return ModelShape.from_hf_config(
        AutoConfig.from_pretrained(_resolve_source(config.model.name_or_path)))


def _gib(n: int) -> str:
    return f"{n / GIB:8.2f} GiB"


def format_plan(plan: Plan, name: str = "") -> str:
    """The plan as the text `srpo-mini train --plan` prints."""
    shape = plan.shape
    lines = [
        f"plan for {name or 'the model'}: {plan.dtype}, {shape.num_layers} layers, hidden "
        f"{shape.hidden_size}, vocabulary {shape.vocab_size:,}",
        f"  parameters                    {shape.parameters:>14,}",
        f"  weights                       {_gib(plan.weights)}",
        f"  gradients                     {_gib(plan.gradients)}",
        f"  AdamW state (2 moments)       {_gib(plan.optimizer_state)}",
        f"  weights + gradients + AdamW   {_gib(plan.weights + plan.gradients + plan.optimizer_state)}",
        f"  generation batch: {plan.generation_rows} rows x ({plan.prompt_tokens} prompt + "
        f"{plan.completion_tokens} new) tokens",
        f"    KV cache                    {_gib(plan.kv_cache)}",
        f"    logits (last position)      {_gib(plan.generation_logits)}",
        f"  log-prob micro-batch: {plan.micro_batch_rows} rows, gradient checkpointing "
        f"{'on' if plan.gradient_checkpointing else 'off'}",
        f"    completion logits           {_gib(plan.logprob_logits)}",
        f"    activations                 {_gib(plan.activations)}",
        f"    gradient + AdamW transients {_gib(plan.update_temporaries)}",
        f"  peak, generating              {_gib(plan.generation_peak)}",
        f"  peak, updating                {_gib(plan.update_peak)}",
        f"  peak (estimate)               {_gib(plan.peak)}",
        f"  completion tokens per step    {plan.completion_tokens_per_step:>14,} (at most)",
        f"  compute per step              {plan.step_flops / 1e12:11.1f} TFLOP "
        f"(2 P per generated, 6 P per trained token)",
        f"  assumed: prompts of {plan.prompt_tokens} tokens (--prompt-tokens); allocator "
        "overhead and the CUDA context not counted",
    ]
    return "\n".join(lines)
