"""`srpo-mini plot`: every figure is drawn from a synthetic run directory written here.

The run has two stages of 12 steps, epochs of 4 steps with resampling counts, evaluations at
steps 0, 12 and 24, and a ledger of 20 prompts whose easy ones leave the pool. Checks that
each PNG exists, is a real non-trivial PNG, that a missing metrics file gives exit code 2
with a message, and that a missing matplotlib is reported with the install command (exit 1).

    python -m pytest tests/test_plots.py -q
"""

from __future__ import annotations

import json
import random
import sys

import pytest

from srpo_mini.cli import main
from srpo_mini.metrics import METRICS_FILE, MetricsLogger
from srpo_mini.plots import LEDGER_FILE, plot_run

FIGURES = ["completion_length.png", "eval.png", "pass_rate_heatmap.png", "pool.png",
           "reward.png", "zero_std.png"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(run_dir, steps_per_stage: int = 12, prompts: int = 20) -> None:
    """metrics.jsonl and ledger.jsonl shaped like a two-stage SRPO run."""
    rng = random.Random(0)
    tokens, pool = 0, prompts
    with MetricsLogger(run_dir) as logger:
        logger.log({"step": 0, "eval/math/pass@1": 0.2, "eval/math/greedy_accuracy": 0.25,
                    "eval/code/pass@1": 0.05, "eval/code/pass@4": 0.12, "time_eval": 3.0})
        for step in range(1, 2 * steps_per_stage + 1):
            stage_index = 0 if step <= steps_per_stage else 1
            epoch = (step - 1 - stage_index * steps_per_stage) // 4
            generated = rng.randint(900, 1100)
            tokens += generated
            record = {"step": step, "stage": ["math", "math+code"][stage_index],
                      "stage_index": stage_index, "epoch": epoch, "lr": 1e-4,
                      "reward": 0.2 + 0.02 * step + rng.uniform(-0.05, 0.05),
                      "reward/math": 0.25 + 0.02 * step,
                      "zero_std_fraction": rng.uniform(0.2, 0.6),
                      "completion_length": 40 + step + rng.uniform(-3, 3),
                      "truncation_rate": rng.uniform(0, 0.2), "generated_tokens": generated,
                      "cumulative_generated_tokens": tokens, "pool_size": pool,
                      "time_generate": 2.0, "time_verify": 0.3, "time_train": 1.0}
            if stage_index == 1:
                record["reward/code"] = 0.1 + 0.01 * step
            if step > 1 and (step - 1) % 4 == 0 and epoch > 0:
                dropped = 2
                pool -= dropped
                record.update(pool_size=pool, dropped_easy=dropped, kept_all_wrong=4,
                              kept_mixed=pool - 4)
            logger.log(record)
            if step % steps_per_stage == 0:
                logger.log({"step": step, "eval/math/pass@1": 0.2 + 0.01 * step,
                            "eval/math/greedy_accuracy": 0.25 + 0.01 * step,
                            "eval/code/pass@1": 0.05 + 0.005 * step})
    with open(run_dir / LEDGER_FILE, "w") as handle:
        for stage in ("math", "math+code"):
            for epoch in range(3):
                for p in range(prompts):
                    if p >= prompts - 2 * epoch:  # the easiest prompts were dropped
                        continue
                    correct = min(8, max(0, p // 3 + epoch + rng.randint(-1, 1)))
                    handle.write(json.dumps({"prompt_id": f"math-{p:03d}", "epoch": epoch,
                                             "stage": stage, "correct": correct,
                                             "group_size": 8}) + "\n")
        handle.write('{"prompt_id": "torn')  # a killed writer's last line


def test_plot_run_writes_every_figure(tmp_path):
    """All six figures are written as PNGs of real size into RUN_DIR/plots."""
    write_run(tmp_path)
    written = plot_run(tmp_path)
    assert sorted(p.name for p in written) == FIGURES
    for path in written:
        assert path.parent == tmp_path / "plots"
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC, path.name
        assert len(data) > 5_000, f"{path.name} is only {len(data)} bytes"


def test_cli_plot_through_main(tmp_path, capsys):
    """`srpo-mini plot RUN_DIR` exits 0 and prints one path per figure."""
    write_run(tmp_path)
    assert main(["plot", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(p.rsplit("/", 1)[-1] for p in printed) == FIGURES


def test_missing_metrics_and_ledger(tmp_path, capsys):
    """No metrics.jsonl: exit 2 (bad input) naming the file. No ledger: the heatmap alone
    is skipped."""
    assert main(["plot", str(tmp_path)]) == 2
    assert "metrics.jsonl not found" in capsys.readouterr().err
    write_run(tmp_path)
    (tmp_path / LEDGER_FILE).unlink()
    written = plot_run(tmp_path)
    assert "pass_rate_heatmap.png" not in [p.name for p in written] and len(written) == 5
    assert "skipped pass_rate_heatmap.png" in capsys.readouterr().err


def test_missing_matplotlib_message(tmp_path, monkeypatch, capsys):
    """Without matplotlib the command says how to install the plot extra and exits 1."""
    write_run(tmp_path)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    assert main(["plot", str(tmp_path)]) == 1
    assert "pip install 'srpo_mini[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "plots").exists()


@pytest.mark.parametrize("steps", [1, 3])
def test_short_runs_still_plot(tmp_path, steps):
    """A run of 1 or 3 steps (no stage switch, no boundary) still gives the step figures."""
    write_run(tmp_path, steps_per_stage=steps, prompts=3)
    names = [p.name for p in plot_run(tmp_path)]
    assert {"reward.png", "eval.png", "completion_length.png", "zero_std.png",
            "pool.png"} <= set(names)


def test_figures_name_the_machine_the_run_trained_on(tmp_path, monkeypatch):
    """A run with machine records gets a footer on every figure; one without gets none."""
    from matplotlib.figure import Figure

    footers = []
    original = Figure.supxlabel
    monkeypatch.setattr(Figure, "supxlabel",
                        lambda self, text, **kw: footers.append(text) or original(self, text, **kw))
    write_run(tmp_path / "plain")
    plot_run(tmp_path / "plain")
    assert footers == []
    write_run(tmp_path / "named")
    with open(tmp_path / "named" / METRICS_FILE, "a") as handle:
        handle.write(json.dumps({"step": 0, "machine": "test CPU, 2 cores"}) + "\n")
    assert len(plot_run(tmp_path / "named")) == len(FIGURES)
    assert footers == ["trained on test CPU, 2 cores"] * len(FIGURES)
