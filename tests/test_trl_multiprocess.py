"""SRPO in TRL's GRPOTrainer across two processes (torchrun, gloo, CPU).

What it checks: the keyed run of tests/test_integration_trl.py (6 math prompts, then 4 math
+ 4 code; rewards keyed on prompt id) trained by two processes, each scoring half of every
step's B * G = 4 rollouts:
- after the epoch boundary both ranks hold the same history and pool, and it is the
  single-process run's (the all-correct prompts dropped, mixed and all-wrong kept);
- both ranks together served each step the prompts the single-process run served;
- a two-process resume from checkpoint-4 (one step into epoch 1) ends, on both ranks, in
  the state of the uninterrupted run.

Run: python -m pytest tests/test_trl_multiprocess.py -q   (slow: two torchrun launches,
about a minute; skipped without TRL: pip install "srpo_mini[trl]")
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*:FutureWarning")]

from test_integration_trl import EASY, MIXED, WRONG, train_keyed  # noqa: E402

TESTS = Path(__file__).resolve().parent

# Each rank trains the keyed run with half of every step's rollouts and writes its SRPO
# state, the rows it scored and its step count to rank<RANK>.json.
WORKER = """
import json, os, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_integration_trl import train_keyed
output_dir, resume = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
srpo, calls, trainer = train_keyed(output_dir, resume=resume, per_device_train_batch_size=2,
                                   save_strategy="steps", save_steps=1)
with open(os.path.join(output_dir, f"rank{{os.environ['RANK']}}.json"), "w") as handle:
    json.dump({{"state": srpo.state_dict(), "calls": calls, "step": trainer.state.global_step,
               "processes": trainer.accelerator.num_processes}}, handle)
# A clean shutdown: a process group left to interpreter exit can abort in its threads'
# teardown ("terminate called without an active exception", SIGABRT).
import torch.distributed as dist
if dist.is_initialized():
    dist.barrier()
    dist.destroy_process_group()
"""


def torchrun(tmp_path, output_dir, *extra):
    """Launch the worker on 2 CPU processes; return the two ranks' reports."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(TESTS)), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS.parent)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(script), str(output_dir), *extra],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads((output_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The single-process keyed run, for reference."""
    srpo, calls, _ = train_keyed(tmp_path_factory.mktemp("single"))
    return {"state": json.loads(json.dumps(srpo.state_dict())), "calls": calls}


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("torchrun")
    return tmp_path, torchrun(tmp_path, tmp_path / "whole")


def test_both_ranks_hold_the_same_history_and_pool(two_processes, single):
    """Each rank scored 2 of every step's 4 rollouts; the gathered history is the same on
    both and equals the single-process run's, epoch boundary and stage switch included."""
    _, ranks = two_processes
    assert [r["processes"] for r in ranks] == [2, 2] and [r["step"] for r in ranks] == [7, 7]
    assert [len(ids) for *_, ids in ranks[0]["calls"]] == [2] * 7
    assert ranks[0]["state"] == ranks[1]["state"] == single["state"]
    pool = ranks[0]["state"]["pool"]
    assert pool["resampler"]["dropped"] == {pid: 1 for pid in EASY}
    assert pool["epoch"] == 1 and ranks[0]["state"]["schedule"]["index"] == 1
    stats = pool["resampler"]["epoch_stats"][1]
    assert (stats["dropped_easy"], stats["kept_mixed"], stats["kept_all_wrong"],
            stats["pool_size"]) == (2, len(MIXED) - 1, len(WRONG), 8)


def test_ranks_together_serve_the_single_process_prompts(two_processes, single):
    """Step by step, rank 0's rows plus rank 1's are the single-process run's rows."""
    _, ranks = two_processes
    for step, (_, _, stage, ids) in enumerate(single["calls"]):
        together = Counter(ranks[0]["calls"][step][3]) + Counter(ranks[1]["calls"][step][3])
        assert together == Counter(ids), f"step {step}"
        assert ranks[0]["calls"][step][2] == ranks[1]["calls"][step][2] == stage


def test_two_process_resume_ends_in_the_uninterrupted_state(two_processes, single):
    """Resuming both ranks from checkpoint-4 gives both the state of the whole run."""
    tmp_path, ranks = two_processes
    checkpoint = tmp_path / "whole" / "checkpoint-4"
    saved = json.loads((checkpoint / "srpo_state.json").read_text())
    assert saved["pool"]["position"] == 2 and saved["schedule"]["index"] == 1
    resumed = torchrun(tmp_path, tmp_path / "from4", str(checkpoint))
    assert [r["step"] for r in resumed] == [7, 7]
    assert [len(r["calls"]) for r in resumed] == [3, 3]     # steps 5, 6, 7
    assert resumed[0]["state"] == resumed[1]["state"] == ranks[0]["state"] == single["state"]
