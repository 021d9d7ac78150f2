"""How the code sandbox's fail-closed policy reaches training and evaluation.

Without the required level (`namespaces`), `srpo-mini train` stops before any expensive
work, naming the cause and the opt-in; a weaker level asked for by SRPO_SANDBOX_ISOLATION
is logged in the metrics and named in the run summary and in the evaluation report. The
sandbox's own behaviour is tested in test_code_sandbox.py and test_code_sandbox_attacks.py.

Run: python -m pytest tests/test_sandbox_policy.py -q
"""

from __future__ import annotations

import os
import subprocess
import sys

from srpo_mini.evaluate import format_report
from srpo_mini.metrics import MetricsLogger, format_summary, read_metrics
from srpo_mini.verifiers import sandbox

CLI = "import sys; from srpo_mini.cli import main; sys.exit(main(sys.argv[1:]))"


def test_train_stops_before_any_work_without_the_sandbox(tmp_path):
    """No `unshare` on the PATH and no opt-in: exit 1 with the cause and the opt-in, and
    no run directory (the check runs before the model is built)."""
    env = {key: value for key, value in os.environ.items() if key != sandbox.OPT_IN}
    env["PATH"] = "/nonexistent"
    done = subprocess.run([sys.executable, "-c", CLI, "train", "--run-name", "closed",
                           "run.output_dir=" + str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "error: the code sandbox cannot run at the 'namespaces' isolation level" in done.stderr
    assert f"{sandbox.OPT_IN}=" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs" / "closed").exists()


def test_weaker_level_is_in_the_metrics_and_the_summary(tmp_path):
    """A `code_isolation` record (written by the trainer when a weaker level was asked
    for) is a documented metric, and the summary built from the metrics names the level."""
    with MetricsLogger(tmp_path) as logger:
        logger.log({"step": 0, "code_isolation": "uid"})
        logger.log({"step": 1, "reward": 0.5})
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert records[0]["code_isolation"] == "uid"
    assert "code sandbox: weaker isolation level 'uid'" in format_summary(records)
    assert "code sandbox" not in format_summary(records[1:])


def test_evaluation_report_names_a_weaker_level():
    """The evaluation report ends with the weaker level; at namespaces it says nothing."""
    result = {"summary": {"code": {"n_problems": 1, "greedy_accuracy": 1.0}},
              "levels": {"code": {}},
              "settings": {"n_samples": 0, "k_values": [1], "temperature": 1.0, "greedy": True,
                           "code_isolation": "rlimits"}}
    assert format_report(result).splitlines()[-1] == sandbox.isolation_note("rlimits")
    result["settings"]["code_isolation"] = "namespaces"
    assert "code sandbox" not in format_report(result)
