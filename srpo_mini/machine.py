"""The machine a measurement was made on, in one line: `describe_machine()`.

Timings (and, on a CPU without native bf16, what a bf16 run costs) depend on the machine, so
every recorded figure names it: the trainer logs it into metrics.jsonl (a `machine` record,
again only when a resumed run lands on a different machine), the run's summary and plots
print it, and the benchmarks write it above their tables. Read from /proc/cpuinfo where
there is one, otherwise from `platform`; torch is asked for its CPU capability (AVX2,
AVX512, ...) and, on CUDA, for the GPU's name.

    AMD EPYC 7B13 (family 25, model 1), 2 cores, AVX2, no native bf16; torch 2.13.0+cpu
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# CPU flags that give native bf16 matrix multiply (AVX512-BF16, AMX) on x86.
_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_info(path: str | Path = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    info: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info.setdefault(key.strip(), value.strip())
    return info


def describe_cpu(info: dict[str, str] | None = None) -> str:
    """CPU model (family, model), cores, torch's capability and whether bf16 is native."""
    info = cpu_info() if info is None else info
    name = info.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    if "cpu family" in info:
        name += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    flags = set(info.get("flags", "").split())
    parts = [name, f"{os.cpu_count()} cores"]
    try:
        import torch

        parts.append(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - torch missing or too old: name the flags instead
        parts.append("AVX2" if "avx2" in flags else "no AVX2")
    if flags:
        parts.append("native bf16" if flags & _BF16_FLAGS else "no native bf16")
    return ", ".join(parts)


def describe_machine(device: str | None = None) -> str:
    """`describe_cpu()`, the GPU's name when `device` is a CUDA device, and torch's version."""
    text = describe_cpu()
    try:
        import torch
    except ImportError:
        return text
    if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(torch.device(device))}"
    return f"{text}; torch {torch.__version__}"
