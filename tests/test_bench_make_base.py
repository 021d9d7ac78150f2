"""benchmarks/bench_make_base.py --quick builds a very small base in a fresh process and
writes its timing and accuracy tables (slow: a subprocess with torch and the verifiers).

Run: python -m pytest tests/test_bench_make_base.py -q -m slow
"""

import re

import pytest


@pytest.mark.slow
def test_quick_mode_writes_timing_and_accuracy_tables(run_benchmark):
    """One run, identical weights trivially, 5 math levels + 3 code levels + 2 totals."""
    text = run_benchmark("bench_make_base.py")
    timing = re.search(r"^\| 1 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d,]+) \| "
                       r"4 \| yes \|$", text, re.MULTILINE)
    assert timing is not None, text
    assert float(timing.group(1)) == float(timing.group(2)) > 0  # median of one run
    assert 0 < int(timing.group(5).replace(",", "")) < 100_000
    rows = re.findall(r"^\| (math|code) \| (\w+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| "
                      r"([\d.]+) \| ([+-][\d.]+) \|$", text, re.MULTILINE)
    assert [(d, level) for d, level, *_ in rows] == [
        ("math", "1"), ("math", "2"), ("math", "3"), ("math", "4"), ("math", "5"),
        ("math", "all"), ("code", "1"), ("code", "2"), ("code", "3"), ("code", "all")]
    assert sum(int(n) for d, level, n, *_ in rows if level != "all") == 260
    for _, _, _, greedy, pass1, _, gap in rows:
        assert float(gap) == pytest.approx(float(greedy) - float(pass1), abs=1.5e-3)
