"""Muon: momentum SGD whose update for each weight matrix is orthogonalized.

For a matrix parameter W with gradient g, momentum mu and learning rate lr:

    B <- mu * B + (1 - mu) * g                      (momentum buffer, as a lerp)
    U <- (1 - mu) * g + mu * B                      (Nesterov look-ahead)
    O <- NS5(U / ||U||_F)                            (~ U V^T of U's SVD)
    W <- W * (1 - lr * weight_decay) - lr * 0.2 * sqrt(max(A, B)) * O

NS5 is the quintic Newton-Schulz iteration of Jordan et al. (2024, "Muon: An optimizer for
hidden layers in neural networks") with their coefficients; the 0.2 * sqrt(max(A, B)) scale
is Liu et al. (2025, "Muon is Scalable for LLM Training"), so Muon reuses AdamW's learning
rate. This is the same algorithm as `torch.optim.Muon(adjust_lr_fn="match_rms_adamw")`.

Differences from torch.optim.Muon: the iteration runs in `ortho_dtype`, float32 unless
given. torch always casts to bfloat16, which is fast on GPUs and on CPUs with native bf16
matrix multiply (AVX512-BF16, AMX) but emulated, about 7x slower for the tiny base's
whole SFT step, on CPUs with only AVX2. Passing `ortho_dtype=torch.bfloat16` on a GPU
gives torch's numerics.
"""

from __future__ import annotations

import math

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan et al. 2024, maximal slope at zero
NS_STEPS = 5


def orthogonalize(update: torch.Tensor, dtype: torch.dtype = torch.float32,
                  steps: int = NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """Approximately U V^T for update = U S V^T, by `steps` quintic Newton-Schulz steps.

    Args:
        update: (A, B) matrix.
        dtype: the dtype the iteration runs in.
    Returns:
        (A, B) matrix in `dtype` whose singular values lie roughly in [0.5, 1.5].
    """
    a, b, c = NS_COEFFICIENTS
    x = update.to(dtype)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T  # iterate on the wide side: the Gram matrix x @ x.T is the smaller one
    x = x / x.norm().clamp(min=eps)  # spectral norm <= Frobenius norm <= 1
    for _ in range(steps):
        gram = x @ x.T  # (min(A, B), min(A, B))
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Muon for 2-D parameters (see the module docstring for the update).

    Args:
        params: 2-D parameters (weight matrices of the transformer blocks).
        lr, weight_decay, momentum, nesterov: as in torch.optim.Muon.
        ortho_dtype: dtype of the Newton-Schulz iteration (default float32).
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ortho_dtype: torch.dtype = torch.float32):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                        nesterov=nesterov, ortho_dtype=ortho_dtype)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                if param.ndim != 2:
                    raise ValueError(f"Muon takes 2-D parameters only, got shape "
                                     f"{tuple(param.shape)}")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(grad)
                buffer = state["momentum_buffer"]
                buffer.lerp_(grad, 1 - momentum)
                update = grad.lerp(buffer, momentum) if group["nesterov"] else buffer
                ortho = orthogonalize(update, group["ortho_dtype"])
                scale = 0.2 * math.sqrt(max(param.shape))  # match AdamW's update RMS
                param.mul_(1 - lr * group["weight_decay"])
                param.add_(ortho.to(param.dtype), alpha=-lr * scale)
        return loss
