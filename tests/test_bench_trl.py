"""benchmarks/bench_trl_throughput.py --quick: srpo_mini and TRL's GRPOTrainer alternate
steps on a random-init tiny model and the script writes its table (slow; skipped without TRL).

Checks the Markdown section (both rows, a ratio, the srpo_mini breakdown) and the JSON
records: 1 warm-up + 2 measured steps of each, in the shared settings, one torch thread,
both frameworks generating the same number of rows and tokens of the same order.

Run: python -m pytest tests/test_bench_trl.py -q -m slow
"""

import json
import re

import pytest

pytest.importorskip("trl")


@pytest.mark.slow
def test_quick_mode_writes_table_and_records(tmp_path, run_benchmark):
    """Quick run: B=2 x G=4, 16 new tokens; medians > 0, ratio = srpo / TRL medians."""
    records = tmp_path / "trl.json"
    text = run_benchmark("bench_trl_throughput.py", "--json", str(records), timeout=900)
    row = {name: [float(x) for x in re.search(
        rf"^\| {name} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", text,
        re.MULTILINE).groups()] for name in ("TRL GRPOTrainer", "srpo_mini")}
    assert all(value >= 0 for values in row.values() for value in values)
    assert row["TRL GRPOTrainer"][0] > 0 and row["srpo_mini"][0] > 0
    ratio = float(re.search(r"srpo_mini / TRL: \*\*([\d.]+)x\*\*", text).group(1))
    # The table rounds the medians to 3 decimals, so quick-mode ratios recomputed from it
    # carry a few percent of rounding error.
    assert ratio == pytest.approx(row["srpo_mini"][0] / row["TRL GRPOTrainer"][0], rel=0.1)
    assert "torch threads: 1 for both" in text and "B = 2 prompts x G = 4" in text

    result = json.loads(records.read_text())
    assert result["warmup"] == 1 and result["steps"] == 2
    assert len(result["trl"]) == len(result["srpo"]) == 3
    for trl_step, srpo_step in zip(result["trl"], result["srpo"]):
        assert trl_step["threads"] == srpo_step["threads"] == 1
        assert 8 <= trl_step["tokens"] <= 8 * 16 and 8 <= srpo_step["tokens"] <= 8 * 16
        parts = srpo_step["generate"] + srpo_step["verify"] + srpo_step["train"]
        assert parts <= srpo_step["seconds"] + 1e-6
