"""The read-along tutorials run, and print what their prose tells the reader to look for.

Each chapter in tutorials/ is run as a script in a subprocess (as a reader would run it),
with a time limit; the test asserts that it exits with 0, prints its final
"chapter N done" line, and prints the specific numbers the chapter is about (a hand-checked
advantage, a rejected hostile answer, an exact resume, ...), parsed from its output.
Chapters 4, 6 and 7 load the tiny base model (built once per session by the `tiny_base_dir`
fixture, then cached) and are marked slow. A last test checks that tutorials/README.md
lists every chapter, in order.

Run: python -m pytest tests/test_tutorials.py -q          (all, about two minutes once the
     tiny base is cached; `-m "not slow"` leaves out chapters 4, 6 and 7)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"
TIMEOUT = 240  # seconds per chapter: about 4x its run time on a loaded 2-core machine


def run_chapter(name: str) -> str:
    """Run tutorials/<name> as a script from the repository root; return its stdout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(TUTORIALS / name)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, (f"{name} exited with {proc.returncode} after {seconds:.0f} s"
                                  f"\n--- stdout (tail)\n{proc.stdout[-3000:]}"
                                  f"\n--- stderr (tail)\n{proc.stderr[-3000:]}")
    print(f"{name}: {seconds:.1f} s")
    return proc.stdout


def number(pattern: str, text: str) -> float:
    """The number captured by the first group of `pattern` in `text` (fails if absent)."""
    match = re.search(pattern, text)
    assert match, f"pattern {pattern!r} not found in the output"
    return float(match.group(1))


def test_chapter_0_landscape():
    out = run_chapter("00_landscape.py")
    assert "SRPO  = two-Staged history-Resampling Policy Optimization" in out
    assert "GRPO  = Group Relative Policy Optimization" in out
    assert re.search(r"AIME24\s+50\.0\s+47\.0\s+\+3\.0", out)
    assert re.search(r"LiveCodeBench\s+41\.6\s+40\.2\s+\+1\.4", out)
    assert number(r"groups with no learning signal: (\d+) of 3", out) == 2
    # The recipe table: SRPO, GRPO, DAPO, Dr. GRPO columns read back from the configs.
    assert re.search(r"loss\.clip_eps_high\s+0\.28\s+0\.2\s+0\.28\s+0\.2", out)
    assert re.search(r"loss\.aggregation\s+token\s+sequence\s+token\s+constant", out)
    assert re.search(r"resampling\.strategy\s+srpo\s+none\s+dapo\s+none", out)
    assert out.rstrip().endswith("chapter 0 done")


def test_chapter_1_advantages_and_loss():
    out = run_chapter("01_advantages_and_loss.py")
    assert "first group matches (r - 1/4) / (1/2 + 1e-4): True" in out
    # Clip-higher: ratio 1.25 is clipped (no gradient) at eps_high 0.2, not at 0.28.
    assert number(r"eps_high=0\.2 .*gradient ([+-]\d\.\d+)", out) == 0.0
    assert number(r"eps_high=0\.28 .*gradient ([+-]\d\.\d+)", out) == -1.25
    # Sequence aggregation weighs a token of a 2-token answer 3x one of a 6-token answer.
    assert number(r"sequence\s+weight of a token: .*ratio (\d+\.\d+)", out) == 3.0
    assert number(r"token\s+weight of a token: .*ratio (\d+\.\d+)", out) == 1.0
    # Token aggregation: the shared normalizer reproduces the full batch, one's own does not.
    full = number(r"token\s+full batch ([+-]\d\.\d+)", out)
    assert number(r"token\s+full batch .* shared normalizer ([+-]\d\.\d+)", out) == full
    assert number(r"token\s+full batch .* own normalizer, averaged ([+-]\d\.\d+)", out) != full
    update = number(r"size of the update \(largest parameter change\): (\S+)", out)
    for size in (3, 1):
        difference = number(rf"micro_batch_size={size}: .* full batch (\S+)", out)
        assert difference < 1e-4 * update
    # At ratio 1 (mu = 1) nothing is clipped; the logged loss is small, the gradient is not.
    assert number(r"\{'loss': \S+, 'grad_norm': \S+, 'ratio_mean': (\d\.\d+)", out) == 1.0
    assert number(r"\{'loss': \S+, 'grad_norm': (\d\.\d+)", out) > 0
    assert out.rstrip().endswith("chapter 1 done")


def test_chapter_2_math_verifier():
    out = run_chapter("02_math_verifier.py")
    assert "canary file created: False" in out
    assert re.search(r"gold 1/3\s+answer 0\.333\s+incorrect", out)
    assert re.search(r"gold 1/3\s+answer 0\.3333333\s+correct", out)
    assert re.search(r"gold \\frac\{1\}\{2\^\{99\}\}\s+answer \\frac\{1\}\{2\^\{98\}\}"
                     r"\s+incorrect", out)
    assert re.search(r"gold 5\s+answer x \+ 1 = 6\s+incorrect", out)
    assert re.search(r"answer Candidates: 21 22 23 24 25\s+incorrect no answer found", out)
    for name in ("tower of powers", "100,000 digits", "deep nesting", "unbalanced braces"):
        assert number(rf"{name}\s+correct=False in\s+(\d+\.\d+) s", out) < 2.5
    assert out.rstrip().endswith("chapter 2 done")


def test_chapter_3_code_verifier():
    out = run_chapter("03_code_verifier.py")
    assert number(r"passed=True pass_fraction=(\d\.\d+)", out) == 1.0
    for label in ("off by one (a slip)", "always-equal object", "exit(0) before tests",
                  "os._exit(0) in call", "infinite loop", "memory bomb", "syntax error"):
        assert re.search(rf"{re.escape(label)}\s+passed=False", out), label
    assert re.search(r"fork bomb\s+passed=False", out) or "fork bomb left out" in out
    assert number(r"special-cases a test\s+passed=False (\d\.\d+)", out) == 0.25
    assert re.search(r"infinite loop .*\['timeout', 'skipped', 'skipped', 'skipped'\]", out)
    assert number(r"infinite loop\s+passed=False \d\.\d+\s+(\d+\.\d+)s", out) < 10
    assert re.search(r"output flood\s+passed=False .*'output_limit'", out)
    assert re.search(r"worked solution\s+passed=True", out)
    assert re.search(r"value  True\s+vs 1\s+-> False", out)
    assert out.rstrip().endswith("chapter 3 done")


@pytest.mark.slow
def test_chapter_4_history_resampling(tiny_base_dir):
    out = run_chapter("04_history_resampling.py")
    counts = {kind: number(rf"{kind}\s+(\d+) groups", out)
              for kind in ("all correct", "mixed", "all wrong")}
    assert sum(counts.values()) == 32
    zero_share = number(r"rollouts with zero advantage: (\d+\.\d)%", out)
    # Zero advantage exactly in the rows of the groups whose rewards all match.
    # Printed with one decimal: 18.75 may print as 18.8, so allow half a unit and a hair.
    assert zero_share == pytest.approx(100 * (counts["all correct"] + counts["all wrong"]) / 32,
                                       abs=0.05 + 1e-9)
    table = re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", out,
                       re.MULTILINE)
    pools = [int(row[1]) for row in table]
    assert len(pools) == 7 and pools[0] == 40
    assert pools == sorted(pools, reverse=True) and pools[-1] < pools[0]
    strategies = {name: [int(x) for x in row] + [float(per)] for name, *row, per in
                  re.findall(r"^(none|srpo|dapo)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d)$",
                             out, re.MULTILINE)}
    none, srpo, dapo = strategies["none"], strategies["srpo"], strategies["dapo"]
    assert srpo[0] <= none[0] < dapo[0]               # rollouts generated
    assert dapo[2] == dapo[1]                          # DAPO trains only informative groups
    assert srpo[2] >= none[2]                          # a pool without mastered prompts
    assert srpo[3] < none[3]                           # rollouts per informative group
    # The recorded five-seed comparison, as the prose reads it
    full = {name: [float(x.replace(",", "")) for x in values] for name, *values in re.findall(
        r"^(none|srpo|dapo)\s+seeds (\d+), reached (\d+): tokens to target\s+([\d,]+) "
        r"\(steps\s+(\d+)\), ratio to GRPO (\S+), zero-std 2nd half (\S+), "
        r"final pass@1 (\S+)$", out, re.MULTILINE)}
    assert sorted(full) == ["dapo", "none", "srpo"] and full["none"][0] >= 5
    assert full["none"][4] == 1.0                      # GRPO against itself
    assert full["none"][5] >= 0.40 > full["srpo"][5]   # the paper's regime, and SRPO's cut
    # The recorded easy-share sweep, as the prose reads it: GRPO's zero-std share climbs
    # with the easy share while SRPO's stays near a quarter; tokens are even up to half
    # easy and SRPO is cheaper, and sooner, only at three quarters.
    sweep = {float(share): [float(x) for x in values] for share, *values in re.findall(
        r"^easy share (\S+): seeds (\d+), zero-std GRPO (\S+) SRPO (\S+), tokens SRPO/GRPO "
        r"(\S+) \((\S+)-(\S+)\), steps to target SRPO (\d+) GRPO (\d+)$", out, re.MULTILINE)}
    assert sorted(sweep) == [0.0, 0.25, 0.5, 0.75] and all(v[0] >= 5 for v in sweep.values())
    grpo_zero = [sweep[share][1] for share in sorted(sweep)]
    assert grpo_zero == sorted(grpo_zero) and grpo_zero[0] < 0.25 and grpo_zero[-1] > 0.45
    assert all(0.2 <= v[2] <= 0.3 for v in sweep.values())
    assert all(0.95 <= sweep[share][3] <= 1.05 for share in (0.0, 0.25, 0.5))
    assert 0.67 < sweep[0.75][3] <= 0.9 and sweep[0.75][6] < sweep[0.75][7]
    assert out.rstrip().endswith("chapter 4 done")


def test_chapter_5_two_stage_schedule():
    out = run_chapter("05_two_stage_schedule.py")
    assert number(r"steps=30\s+switched at step (\d+)", out) == 30
    assert number(r"epochs=3\s+switched at step (\d+)", out) == 24
    plateau = number(r"plateau W=5\s+switched at step (\d+)", out)
    assert 10 <= plateau < 40
    assert number(r"plateau, cap 12\s+switched at step (\d+)", out) == 12
    assert re.search(rf"step\s+{int(plateau)}: switched to 'math\+code'", out)
    resumed = number(r"resumed switch step (\d+)", out)
    assert resumed == number(r"uninterrupted (\d+)", out) == plateau
    assert "schedule.done=True" in out and "all_solved=True" in out
    assert "stages.0.switch: switch=end is for the last stage only" in out
    # The recorded stage comparison, as the prose reads it: mixing from the start leaves
    # maths shorter at the end of stage 1 and less accurate at the end, and matches the
    # two-stage run at an equal number of maths prompts.
    rows = {name: [float(x) for x in values] for name, *values in re.findall(
        r"^(two_stages|mixed_from_start)\s+seeds 3: maths length (\S+) / (\S+) / (\S+), "
        r"code length (\S+); final pass@1 maths (\S+), code (\S+)$", out, re.MULTILINE)}
    two, mixed = rows["two_stages"], rows["mixed_from_start"]
    assert two[1] > mixed[1] and two[4] > mixed[4]
    equal_length, equal_accuracy = (float(x) for x in re.search(
        r"maths length (\S+); maths pass@1 at step 90 (\S+)", out).groups())
    assert abs(equal_length - mixed[2]) < 5 and abs(equal_accuracy - mixed[4]) < 0.05
    assert out.rstrip().endswith("chapter 5 done")


@pytest.mark.slow
def test_chapter_6_end_to_end_run(tiny_base_dir):
    out = run_chapter("06_end_to_end_run.py")
    assert number(r"trained (\d+) steps", out) == 8
    assert "'from': 'math', 'to': 'math+code', 'step': 4" in out
    assert number(r"resuming from step_\d+ at step (\d+)", out) == 4
    rewards = re.findall(r"step (\d+): reward (\d\.\d+) \(uninterrupted (\d\.\d+)\)", out)
    assert [int(step) for step, _, _ in rewards] == [5, 6, 7, 8]
    assert all(resumed == original for _, resumed, original in rewards)
    assert number(r"largest parameter difference from the uninterrupted run: (\S+)", out) == 0
    assert "ledger identical: True" in out
    assert "metrics.jsonl" in out and "ledger.jsonl" in out and "summary.txt" in out
    # The recorded default run: reasoning length and accuracy rise together.
    first, last = (float(x) for x in re.search(
        r"math completion length (\d+\.\d) -> (\d+\.\d) tokens", out).groups())
    assert last >= 1.5 * first
    before, after = (float(x) for x in re.search(
        r"greedy (\d\.\d+) -> (\d\.\d+)", out).groups())
    assert after >= before + 0.05
    assert out.rstrip().endswith("chapter 6 done")


@pytest.mark.slow
def test_chapter_7_porting_and_scaling(tiny_base_dir):
    out = run_chapter("07_porting_and_scaling.py")
    assert "loss_type = 'dapo'" in out and "epsilon_high = 0.28" in out
    assert "actor_rollout_ref.actor.clip_ratio_high=0.28" in out
    assert "actor_rollout_ref.actor.loss_agg_mode=token-mean" in out
    if "TRL is not installed" not in out:
        assert "missing: []" in out
        assert "SRPO_GRPO_SETTINGS disagreeing with the translation: {}" in out
        assert number(r"generation batch: TRL (\d+) completions", out) == \
            number(r"srpo_mini B\*G = (\d+)", out)
    assert number(r"largest relative difference of the advantages: (\S+)", out) < 1e-3
    assert number(r"ratio\s+10\.0: srpo_mini loss\s+(\d+\.\d+)", out) == 10.0
    assert number(r"scored at T=0\.7 \(right\): ratio in \[(\d\.\d+),", out) == 1.0
    assert number(r"scored at T=1\.0 \(wrong\): .*, (\d+\.\d)% of tokens outside", out) > 0
    assert number(r"float32 logits of one micro-batch\s+(\d+\.\d+) GiB", out) > 1
    assert out.rstrip().endswith("chapter 7 done")


def test_readme_lists_every_chapter_in_order():
    chapters = sorted(p.name for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    listed = re.findall(r"^\| (\d+) \| \[[^\]]+\]\(([^)]+)\) \| .+ \|$",
                        (TUTORIALS / "README.md").read_text(), re.MULTILINE)
    assert [name for _, name in listed] == chapters
    assert [int(n) for n, _ in listed] == list(range(len(chapters))) and len(chapters) == 8


def test_chapters_are_percent_scripts_that_use_the_library():
    for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.py")):
        text = path.read_text()
        assert "format_name: percent" in text, path.name
        assert text.count("# %% [markdown]") >= 2, path.name
        assert "from srpo_mini" in text, path.name
        assert "torch.set_num_threads(1)" in text, path.name
