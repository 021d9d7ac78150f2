"""The one-line machine description every recorded figure carries (srpo_mini.machine).

Run: python -m pytest tests/test_machine.py -q
"""

import os

import torch

from srpo_mini.machine import cpu_info, describe_cpu, describe_machine

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma {extra}

processor\t: 1
model name\t: a second core that must not be read
"""


def test_cpu_info_reads_the_first_processor(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=""))
    info = cpu_info(path)
    assert info["model name"] == "AMD EPYC 7B13"
    assert info["cpu family"] == "25" and info["model"] == "1"
    assert cpu_info(tmp_path / "missing") == {}


def test_native_bf16_comes_from_the_flags(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=""))
    plain = describe_cpu(cpu_info(path))
    assert plain.startswith("AMD EPYC 7B13 (family 25, model 1), ")
    assert f"{os.cpu_count()} cores" in plain and plain.endswith("no native bf16")
    assert torch.backends.cpu.get_cpu_capability() in plain
    for flag in ("avx512_bf16", "amx_bf16"):
        path.write_text(CPUINFO.format(extra=flag))
        assert describe_cpu(cpu_info(path)).endswith(", native bf16")


def test_without_cpuinfo_the_platform_names_the_cpu():
    text = describe_cpu({})
    assert text and "bf16" not in text  # no flags: no claim either way
    assert f"{os.cpu_count()} cores" in text


def test_describe_machine_adds_torch_and_this_cpu():
    text = describe_machine("cpu")
    assert text.startswith(describe_cpu()) and text.endswith(f"; torch {torch.__version__}")
    assert "GPU" not in text
