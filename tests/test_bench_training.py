"""The training benchmarks' quick mode runs end to end (so the scripts cannot rot).

Run: python -m pytest tests/test_bench_training.py -q
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["resampling", "sweep", "stages"])
def test_quick_mode(tmp_path, tiny_base_dir, experiment):
    import bench_training

    workers = ["--workers", "2"] if experiment == "resampling" else []  # both paths run
    math_only = ["--eval-math-only"] if experiment == "sweep" else []
    assert bench_training.main([experiment, "--quick", "--out", str(tmp_path), *workers,
                                *math_only,
                                f"model.name_or_path={tiny_base_dir}"]) == 0
    result = json.loads((tmp_path / f"training_{experiment}_quick.json").read_text())
    report = (tmp_path / f"training_{experiment}_quick.md").read_text()
    assert (tmp_path / f"training_{experiment}_quick.png").stat().st_size > 0
    if experiment == "sweep":
        # two shares, SRPO and GRPO at each, one row per share
        assert sorted(result["shares"]) == ["0.0", "0.25"]
        for entry in result["shares"].values():
            assert sorted(entry["runs"]) == ["none", "srpo"]
            assert all(0.0 <= r["zero_std_late"] <= 1.0 for r in entry["runs"]["none"])
        assert "| 0.0 |" in report and "| 0.25 |" in report
        # --eval-math-only: every evaluation scored maths and nothing else
        evals = [json.loads(line) for path in (tmp_path / "runs").glob("*/metrics.jsonl")
                 for line in path.read_text().splitlines() if "eval/math/pass@1" in line]
        assert evals and not any("eval/code/pass@1" in r for r in evals)
        return
    names = ("srpo", "none", "dapo") if experiment == "resampling" else \
        ("two_stages", "mixed_from_start", "math_only")
    assert sorted(result["runs"]) == sorted(names)
    assert all(f"| {name} |" in report for name in names)
    if experiment == "resampling":
        assert all(run["zero_std_curve"] for runs in result["runs"].values() for run in runs)
        for run in result["runs"]["none"]:
            first, last = run["length"]
            assert first > 0 and last > 0 and 0.0 <= run["zero_std_late"] <= 1.0
            assert len(run["greedy"]) == len(run["curve"])
        # --reuse reads the finished runs back: the same figures without training again
        assert bench_training.main([experiment, "--quick", "--out", str(tmp_path), "--reuse",
                                    f"model.name_or_path={tiny_base_dir}"]) == 0
        again = json.loads((tmp_path / f"training_{experiment}_quick.json").read_text())
        assert [r["curve"] for r in again["runs"]["srpo"]] == \
            [r["curve"] for r in result["runs"]["srpo"]]
        assert all(r["seconds"] is None for runs in again["runs"].values() for r in runs)
