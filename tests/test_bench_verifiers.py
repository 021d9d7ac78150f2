"""benchmarks/bench_verifiers.py --quick writes one table with the math and the code
verifier workloads, every verdict right and every rate positive (slow: spawns sandboxes).

Run: python -m pytest tests/test_bench_verifiers.py -q -m slow
"""

import re

import pytest


@pytest.mark.slow
def test_quick_mode_writes_one_table(run_benchmark):
    """2 math rows and 4 code rows; verdicts right = checks; s per batch = 64 / rate."""
    text = run_benchmark("bench_verifiers.py")
    rows = re.findall(r"^\| (math|code) \| ([^|]+) \| (\d+) \| (\d+)/(\d+) \| ([\d,.]+) \| "
                      r"([\d,.]+) \| ([\d.]+) \| ([\d.]+) \|$", text, re.MULTILINE)
    assert [(domain, name.strip()) for domain, name, *_ in rows] == [
        ("math", "mixed case set"), ("math", "tiny-world reward batches"),
        ("code", "call x1"), ("code", "call x8"), ("code", "stdin x1"), ("code", "assert x1")]
    for domain, name, checks, right, total, rate, tests, ms, batch in rows:
        assert int(right) == int(total) == int(checks) > 0, name
        rate = float(rate.replace(",", ""))
        assert rate > 0 and float(batch) == pytest.approx(64 / rate, rel=0.01, abs=1e-3)
    call_x1, call_x8 = rows[2], rows[3]
    assert float(call_x8[6].replace(",", "")) == pytest.approx(
        8 * float(call_x8[5].replace(",", "")), rel=0.01)           # 8 tests per check
    assert float(call_x1[6].replace(",", "")) == pytest.approx(
        float(call_x1[5].replace(",", "")), rel=0.01)
