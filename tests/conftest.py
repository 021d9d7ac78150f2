"""Shared fixtures: the tiny base model, a runner for the benchmarks' quick modes, and quiet
torch.

The tiny base is the real one that `srpo-mini make-base` builds; it ships with the package
(`srpo_mini/weights/`), so the suite builds nothing. A build in $SRPO_MINI_CACHE (default
~/.cache/srpo_mini) takes precedence over the shipped one.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# The tiny model's matmuls are too small to split across threads; one thread is faster
# and keeps the verifiers' worker processes from fighting torch for the cores.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_base_dir():
    from srpo_mini.base import ensure_tiny_base

    return ensure_tiny_base(progress=False)


@pytest.fixture
def run_benchmark(tmp_path):
    """Run `benchmarks/SCRIPT --quick --output FILE [EXTRA...]` in a fresh process from the
    repository root; return the Markdown text it wrote to FILE."""

    def run(script: str, *extra: str, timeout: int = 600) -> str:
        output = tmp_path / f"{Path(script).stem}.md"
        done = subprocess.run(
            [sys.executable, f"benchmarks/{script}", "--quick", "--output", str(output), *extra],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=timeout,
            capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-4000:]
        return output.read_text(encoding="utf-8")

    return run
