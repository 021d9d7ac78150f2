"""History resampling (SRPO), its baselines (none, DAPO dynamic sampling) and the prompt pool.

Checks that history resampling drops all-correct prompts and keeps mixed and all-wrong ones,
only at epoch boundaries; the re-admission options; epoch definition with drop_last and
with a domain mixture; stage switches; exact resume from a mid-epoch state; DAPO's
in-batch filter, refill sizing and cap; one step's collection (`collect_groups`: rounds
merged, surplus trimmed, ledger rows); the renamed strategy's old checkpoints; the ledger file.

Run: python -m pytest tests/test_resampling.py -q
"""

import json
import random

import pytest
import torch

from srpo_mini.data.schema import Problem
from srpo_mini.ledger import LedgerWriter, read_ledger, write_ledger
from srpo_mini.resampling import (DynamicSampling, HistoryResampling, PromptPool, Resampler,
                                  collect_groups, make_resampler, resampler_from_config,
                                  select_group_rows)
from srpo_mini.rewards import RewardBatch
from srpo_mini.sampler import RolloutBatch

G = 4
OUTCOMES = {"all_correct": [1, 1, 1, 1], "mixed": [1, 0, 1, 0], "all_wrong": [0, 0, 0, 0]}


def math_problems(n, prefix="m"):
    return [Problem(id=f"{prefix}{i}", domain="math", prompt=f"q{i}", answer="1") for i in range(n)]


def code_problems(n):
    tests = {"cases": [{"input": "", "output": "1"}]}
    return [Problem(id=f"c{i}", domain="code", prompt=f"p{i}", tests=tests) for i in range(n)]


def run_epoch(pool, resampler, outcome_of):
    """Serve and observe every batch of the current epoch; return the ids served."""
    served = []
    while True:
        batch = pool.next_prompts()
        ids = [p.id for p in batch]
        correct = [c for pid in ids for c in OUTCOMES[outcome_of(pid)]]
        resampler.observe(ids, correct, G)
        served += ids
        if pool.exhausted:
            return served


def test_history_drops_all_correct_keeps_mixed_and_all_wrong():
    """Outcome table -> next epoch's pool: all-correct out, mixed and all-wrong in."""
    table = {"m0": "all_correct", "m1": "mixed", "m2": "all_wrong",
             "m3": "all_correct", "m4": "mixed", "m5": "all_wrong"}
    resampler = HistoryResampling()
    pool = PromptPool(math_problems(6), resampler, batch_size=2, seed=1)
    pool.set_stage("math", ["math"])
    assert sorted(run_epoch(pool, resampler, table.get)) == sorted(table)

    epoch1 = run_epoch(pool, resampler, table.get)           # the rebuild happens here
    assert sorted(epoch1) == ["m1", "m2", "m4", "m5"]
    stats = resampler.epoch_stats[-1]
    assert (stats.epoch, stats.pool_size, stats.dropped_easy) == (1, 4, 2)
    assert (stats.kept_mixed, stats.kept_all_wrong, stats.kept_unseen) == (2, 2, 0)
    assert stats.dropped_total == 2 and stats.epoch_length == 4
    assert sorted(resampler.dropped) == ["m0", "m3"]


def test_history_changes_the_pool_only_at_epoch_boundaries():
    """Observing all-correct mid-epoch filters nothing until the epoch is exhausted."""
    resampler = HistoryResampling()
    pool = PromptPool(math_problems(6), resampler, batch_size=2, seed=0)
    pool.set_stage("math", ["math"])
    order = list(pool.order)
    first = [p.id for p in pool.next_prompts()]
    resampler.observe(first, [1] * (2 * G), G)
    # In-batch: history resampling trains on every group, even zero-advantage ones.
    assert resampler.filter_groups(torch.ones(2 * G), G).tolist() == [True] * (2 * G)
    second = [p.id for p in pool.next_prompts()]
    assert second == order[2:4] and pool.order == order
    assert resampler.dropped == {} and len(resampler.epoch_stats) == 1
    resampler.observe(second, [0] * (2 * G), G)
    third = [p.id for p in pool.next_prompts()]
    resampler.observe(third, [1, 0, 0, 0] * 2, G)
    assert pool.exhausted and resampler.dropped == {}
    pool.next_prompts()                                      # epoch 1 starts: rebuild
    assert sorted(resampler.dropped) == sorted(first) and pool.epoch == 1
    assert not set(first) & set(pool.order)


@pytest.mark.parametrize("readmit_after, back_in_epoch", [(1, 2), (2, 3), (3, 4)])
def test_readmit_after_k_epochs(readmit_after, back_in_epoch):
    """m0 all-correct in epoch 0 -> out of epochs 1 .. k, back in epoch k + 1."""
    resampler = HistoryResampling(readmit_after_epochs=readmit_after)
    pool = PromptPool(math_problems(4), resampler, batch_size=1, seed=0)
    pool.set_stage("math", ["math"])
    membership = []
    for _ in range(5):
        served = run_epoch(pool, resampler, lambda pid: "all_correct" if pid == "m0" and
                           pool.epoch == 0 else "mixed")
        membership.append("m0" in served)
    expected = [True] + [e >= back_in_epoch for e in range(1, 5)]
    assert membership == expected
    assert resampler.epoch_stats[back_in_epoch].readmitted == 1


@pytest.mark.parametrize("readmit_prob, readmitted", [(0.0, 0), (1.0, 2)])
def test_readmit_probability_extremes(readmit_prob, readmitted):
    """p = 1 brings every dropped prompt back at the next boundary; p = 0 never."""
    resampler = HistoryResampling(readmit_prob=readmit_prob)
    pool = PromptPool(math_problems(4), resampler, batch_size=2, seed=0)
    pool.set_stage("math", ["math"])
    run_epoch(pool, resampler, lambda pid: "all_correct" if pid in ("m0", "m1") else "mixed")
    run_epoch(pool, resampler, lambda pid: "mixed")          # epoch 1: m0, m1 dropped
    run_epoch(pool, resampler, lambda pid: "mixed")          # epoch 2: re-admission draw
    assert resampler.epoch_stats[1].pool_size == 2
    assert resampler.epoch_stats[2].readmitted == readmitted
    assert resampler.epoch_stats[2].pool_size == 2 + readmitted


def test_readmit_probability_is_a_seeded_fraction():
    """p = 0.3 over 400 dropped prompts: 120 expected, binomial sd 9.2; same seed, same draw."""
    counts = []
    for _ in range(2):
        resampler = HistoryResampling(seed=7, readmit_prob=0.3)
        resampler.observe([f"m{i}" for i in range(400)], [1] * 400 * G, G)
        candidates = [f"m{i}" for i in range(400)] + ["x"]
        resampler.rebuild(candidates, 1, "math")             # all 400 dropped
        counts.append(len(resampler.rebuild(candidates, 2, "math")) - 1)
    assert counts[0] == counts[1] and 90 <= counts[0] <= 150


def test_everything_solved_readmits_the_stage():
    """A rebuild that would leave the stage empty re-admits its prompts instead."""
    resampler = HistoryResampling()
    pool = PromptPool(math_problems(3), resampler, batch_size=3, seed=0)
    pool.set_stage("math", ["math"])
    run_epoch(pool, resampler, lambda pid: "all_correct")
    assert len(pool.next_prompts()) == 3
    stats = resampler.epoch_stats[-1]
    assert (stats.dropped_easy, stats.readmitted, stats.pool_size) == (3, 3, 3)
    assert stats.all_solved and pool.all_solved


def test_none_keeps_every_prompt_and_group():
    """Vanilla GRPO: all-correct prompts stay in the pool, every group is trained on."""
    resampler = make_resampler("none")
    pool = PromptPool(math_problems(4), resampler, batch_size=2, seed=0)
    pool.set_stage("math", ["math"])
    run_epoch(pool, resampler, lambda pid: "all_correct")
    assert sorted(run_epoch(pool, resampler, lambda pid: "all_correct")) == ["m0", "m1", "m2", "m3"]
    stats = resampler.epoch_stats[1]
    assert (stats.pool_size, stats.kept_all_correct, stats.dropped_easy) == (4, 4, 0)
    assert resampler.filter_groups(torch.ones(8), G).all()
    assert resampler.needs_more(0, 2, 0) is False


def test_drop_last_cuts_the_epoch_to_whole_batches():
    """7 prompts, B = 3: drop_last serves 3 + 3 per epoch; without it 3 + 3 + 1."""
    for drop_last, sizes in [(True, [3, 3, 3, 3]), (False, [3, 3, 1, 3])]:
        pool = PromptPool(math_problems(7), batch_size=3, seed=0, drop_last=drop_last)
        pool.set_stage("math", ["math"])
        got, completed = [], []
        for _ in range(4):
            got.append(len(pool.next_prompts()))
            completed.append(pool.epochs_completed)
        assert got == sizes
        assert completed == ([0, 1, 1, 2] if drop_last else [0, 0, 1, 1])


def test_pool_smaller_than_a_batch_serves_a_short_batch():
    """2 prompts, B = 4: each epoch is one batch of 2 (drop_last cannot drop everything)."""
    pool = PromptPool(math_problems(2), batch_size=4, seed=0)
    pool.set_stage("math", ["math"])
    assert [len(pool.next_prompts()) for _ in range(3)] == [2, 2, 2]
    assert pool.epochs_completed == 3


@pytest.mark.parametrize("n_math, n_code, mixture, per_batch, length", [
    # L = max(20 / 0.5, 8 / 0.5) = 40 -> 20 math + 20 code (8 code prompts, repeated)
    (20, 8, {"math": 0.5, "code": 0.5}, {"math": 2, "code": 2}, 40),
    # L = max(12 / 0.75, 12 / 0.25) = 48 -> 36 math (12, repeated) + 12 code
    (12, 12, {"math": 0.75, "code": 0.25}, {"math": 3, "code": 1}, 48),
])
def test_mixture_epoch_is_realized_in_every_batch(n_math, n_code, mixture, per_batch, length):
    """An epoch with a mixture: every prompt served, the scarcer domain repeated evenly
    (no prompt twice before its domain has been served once), each batch mixed."""
    pool = PromptPool(math_problems(n_math) + code_problems(n_code), batch_size=4, seed=3)
    pool.set_stage("math+code", ["math", "code"], mixture)
    assert len(pool.order) == length and len(set(pool.order)) == n_math + n_code
    for domain, n in (("math", n_math), ("code", n_code)):
        served = [pid for pid in pool.order if pool.problems[pid].domain == domain]
        passes = [served[i:i + n] for i in range(0, len(served), n)]
        assert all(len(set(chunk)) == len(chunk) for chunk in passes)
    while not pool.exhausted:
        batch = pool.next_prompts()
        counts = {d: sum(p.domain == d for p in batch) for d in ("math", "code")}
        assert all(abs(counts[d] - per_batch[d]) <= 1 for d in counts), counts
        assert sum(counts.values()) == 4


def test_mixture_epoch_keeps_full_batches_as_a_domain_is_solved():
    """Dropping all but one code prompt leaves the epoch as long as math needs."""
    resampler = HistoryResampling()
    pool = PromptPool(math_problems(8) + code_problems(8), resampler, batch_size=4, seed=0)
    pool.set_stage("math+code", ["math", "code"], {"math": 0.5, "code": 0.5})
    while not pool.exhausted:
        batch = pool.next_prompts()
        outcomes = [OUTCOMES["mixed"] if p.domain == "math" or p.id == "c0"
                    else OUTCOMES["all_correct"] for p in batch]
        resampler.observe([p.id for p in batch], [x for o in outcomes for x in o], G)
    pool.next_prompts()  # the boundary: seven code prompts dropped
    assert len(resampler.dropped) == 7
    assert len(pool.order) == 16
    assert sorted(pool.problems[pid].domain for pid in pool.order) == ["code"] * 8 + ["math"] * 8


def test_stage_switch_ends_the_epoch_and_dropped_stay_dropped():
    """Stage 1 math, m0 all-correct mid-epoch; switching to math + code drops it and adds code."""
    resampler = HistoryResampling()
    pool = PromptPool(math_problems(4) + code_problems(4), resampler, batch_size=2, seed=0)
    pool.set_stage("math", ["math"])
    assert {p.domain for p in map(pool.problems.get, pool.order)} == {"math"}
    batch = [p.id for p in pool.next_prompts()]
    rows = resampler.observe(batch, OUTCOMES["all_correct"] + OUTCOMES["mixed"], G)
    pool.set_stage("math+code", ["math", "code"], {"math": 0.5, "code": 0.5})
    assert pool.epoch == 1 and pool.epochs_completed == 0 and pool.position == 0
    assert batch[0] in resampler.dropped and batch[0] not in pool.order
    # L = max(3 / 0.5, 4 / 0.5) = 8 -> 4 math (3 prompts, one twice) + 4 code
    domains = [pool.problems[pid].domain for pid in pool.order]
    assert sorted(domains) == ["code"] * 4 + ["math"] * 4
    assert rows[0] == {"prompt_id": batch[0], "epoch": 0, "stage": "math", "correct": 4,
                       "group_size": 4}


def test_state_round_trip_mid_epoch_gives_identical_prompts():
    """Save mid-epoch (through JSON), resume in a fresh pool: same prompts, stats and ledger."""
    problems = math_problems(10) + code_problems(6)

    def outcome_of(pid, epoch):   # a fixed pseudo-random outcome per (prompt, epoch)
        return random.Random(f"{pid}/{epoch}").choice(list(OUTCOMES))

    def steps(pool, resampler, n, rows=None):
        served = []
        for _ in range(n):
            ids = [p.id for p in pool.next_prompts()]
            outcomes = [c for i in ids for c in OUTCOMES[outcome_of(i, pool.epoch)]]
            (rows if rows is not None else []).extend(resampler.observe(ids, outcomes, G))
            served.append(ids)
        return served

    def fresh():
        resampler = HistoryResampling(seed=5, readmit_prob=0.3)
        return PromptPool(problems, resampler, batch_size=3, seed=11), resampler

    pool, resampler = fresh()
    pool.set_stage("math", ["math"])
    steps(pool, resampler, 4)
    pool.set_stage("both", ["math", "code"], {"math": 0.5, "code": 0.5})
    steps(pool, resampler, 1)
    assert 0 < pool.position < len(pool.order)               # mid-epoch
    state = json.loads(json.dumps(pool.state_dict()))
    expected_rows, rows = [], []
    expected = steps(pool, resampler, 12, expected_rows)
    expected_stats = resampler.epoch_stats

    pool2, resampler2 = fresh()
    pool2.load_state_dict(state)
    assert steps(pool2, resampler2, 12, rows) == expected
    assert resampler2.epoch_stats == expected_stats
    assert rows == expected_rows
    assert pool2.epoch >= 3                                  # several rebuilds after the resume


def test_load_state_rejects_unknown_prompt_ids():
    """A checkpoint from other data fails loudly with the ids it cannot find."""
    pool = PromptPool(math_problems(3), batch_size=1)
    pool.set_stage("math", ["math"])
    other = PromptPool(math_problems(3, prefix="z"), batch_size=1)
    with pytest.raises(ValueError, match="absent from the training data"):
        other.load_state_dict(pool.state_dict())
    with pytest.raises(ValueError, match="'srpo', not 'none'"):
        Resampler().load_state_dict(HistoryResampling().state_dict())


def test_state_from_before_the_rename_loads():
    """A checkpoint that calls SRPO "history" (with its empty pending rows) still loads; the
    strategy's name is "srpo" everywhere else, and "history" is refused with the new name."""
    old = HistoryResampling(seed=3)
    old.rebuild(["m0", "m1"], 0, "math")
    old.observe(["m0"], [1, 1], 2)
    state = {**old.state_dict(), "name": "history", "pending_rows": []}
    resampler = HistoryResampling()
    resampler.load_state_dict(state)
    assert resampler.name == "srpo" and resampler.state_dict() == old.state_dict()
    with pytest.raises(ValueError, match="'srpo', not 'none'"):
        Resampler().load_state_dict(state)
    with pytest.raises(ValueError, match="'history' is now called 'srpo'"):
        make_resampler("history")


def test_dapo_filter_drops_groups_whose_rewards_all_match():
    """Case table, G = 2: equal rewards (all 1, all 0, all 0.3) dropped; any spread kept."""
    rewards = torch.tensor([1.0, 1.0,   0.0, 1.0,   0.0, 0.0,   0.3, 0.3,   0.5, 0.51])
    keep = DynamicSampling().filter_groups(rewards, 2)
    assert keep.tolist() == [False, False, True, True, False, False, False, False, True, True]
    assert select_group_rows(keep, 2).tolist() == [2, 3, 8, 9]
    assert select_group_rows(keep, 2, max_groups=1).tolist() == [2, 3]


@pytest.mark.parametrize("kept, generated, wanted, expected", [
    (4, 8, 8, 8),     # keep rate 0.5, 4 missing -> 4 / 0.5 = 8 prompts
    (2, 8, 8, 24),    # keep rate 0.25, 6 missing -> 24
    (0, 8, 8, 32),    # keep rate 0 floored at 0.25, 8 missing -> 32
    (1, 8, 4, 12),    # keep rate 0.125 floored at 0.25, 3 missing -> 12
    (8, 8, 8, 0),     # nothing missing
])
def test_dapo_refill_size(kept, generated, wanted, expected):
    """Refill size = ceil(missing / max(keep rate so far, min_keep_rate))."""
    assert DynamicSampling(min_keep_rate=0.25).refill_size(kept, generated, wanted) == expected


def scored(problems, outcomes):
    """A RewardBatch with reward = correct = OUTCOMES[outcome] for each problem's G rows;
    `reasons` carries each row's prompt id, so a test can see which groups were kept."""
    rewards = torch.tensor([float(c) for outcome in outcomes for c in OUTCOMES[outcome]])
    n = len(rewards)
    return RewardBatch(rewards=rewards, accuracy=rewards, correct=rewards.bool(),
                       format=torch.zeros(n), overlong=torch.zeros(n),
                       loss_mask=torch.ones(n, dtype=torch.bool), terms={},
                       domains=[p.domain for p in problems for _ in range(G)],
                       reasons=[p.id for p in problems for _ in range(G)])


def rollout_of(problems, width):
    """A hand-built RolloutBatch: row i*G + j holds problem i's index number in its
    `width` completion tokens, so a merged batch shows which rows it kept, and where."""
    ids = torch.tensor([int(p.id[1:]) for p in problems for _ in range(G)])   # (n*G,)
    n = len(ids)
    return RolloutBatch(prompt_ids=torch.ones(n, 2, dtype=torch.long),
                        prompt_mask=torch.ones(n, 2, dtype=torch.long),
                        completion_ids=ids[:, None].repeat(1, width),
                        completion_mask=torch.ones(n, width, dtype=torch.long),
                        truncated=torch.zeros(n, dtype=torch.bool),
                        group_index=torch.arange(len(problems)).repeat_interleave(G),
                        texts=[p.id for p in problems for _ in range(G)], group_size=G)


def test_collect_groups_srpo_trains_on_every_group_of_the_step():
    """srpo: one round, the step's B groups in order, one ledger row per group with step."""
    pool = PromptPool(math_problems(8), HistoryResampling(), batch_size=4, seed=0)
    pool.set_stage("math", ["math"])
    problems = pool.next_prompts()
    outcomes = ["all_correct", "mixed", "all_wrong", "mixed"]
    batch = collect_groups(problems, pool, lambda ps, r: (rollout_of(ps, 3), scored(ps, outcomes)),
                           group_size=G, step=1)
    assert (batch.refill_rounds, batch.dropped_groups) == (0, 0)
    assert batch.rollout.texts == [p.id for p in problems for _ in range(G)]
    assert torch.equal(batch.rewards.rewards, batch.generated_rewards.rewards)
    assert [(r["prompt_id"], r["correct"], r["step"]) for r in batch.ledger_rows] == [
        (problems[0].id, 4, 1), (problems[1].id, 2, 1), (problems[2].id, 0, 1),
        (problems[3].id, 2, 1)]


def test_collect_groups_dapo_merges_the_kept_rows_of_every_round():
    """dapo, B = 2: round 0 keeps 1 of 2 groups, the refill (2 prompts, wider completions)
    keeps both; the merge holds round 0's kept group and the refill's first, padded."""
    pool = PromptPool(math_problems(8), DynamicSampling(), batch_size=2, seed=0)
    pool.set_stage("math", ["math"])
    rounds = [["all_correct", "mixed"], ["mixed", "mixed"]]

    def sample(problems, round_):
        return rollout_of(problems, 2 + round_), scored(problems, rounds[round_])

    first = pool.next_prompts()
    batch = collect_groups(first, pool, sample, group_size=G, step=3)
    refill = pool.order[2:4]                       # the refill asked ceil(1 / 0.5) = 2 prompts
    assert (batch.refill_rounds, batch.dropped_groups) == (1, 2)
    assert batch.rewards.reasons == [first[1].id] * G + [refill[0]] * G
    # round 0's rows padded from 2 to 3 completion tokens; completion mask 0 on the pad
    assert batch.rollout.completion_ids.shape == (2 * G, 3)
    assert batch.rollout.completion_mask.sum(dim=1).tolist() == [2] * G + [3] * G
    assert batch.rollout.group_index.tolist() == [1] * G + [2] * G
    assert len(batch.generated_rewards.rewards) == 4 * G and len(batch.ledger_rows) == 4


@pytest.mark.parametrize("solvable_positions, max_extra_rounds, rounds, groups", [
    # batch = order[0:4] keeps 2 (rate 0.5) -> refill 2 / 0.5 = 4 prompts, all mixed:
    # 6 kept after 1 round, trimmed to B = 4
    (range(2, 12), 3, 1, 4),
    # keeps 1 of 4 -> refill 3 / 0.25 = 12, none mixed -> again 12 -> cap 2: 1 group
    (range(1, 2), 2, 2, 1),
    # no extra rounds allowed: the step has nothing to train on
    (range(0), 0, 0, 0),
])
def test_dapo_refill_loop_and_cap(solvable_positions, max_extra_rounds, rounds, groups):
    """The trainer's collection (`collect_groups`): mixed groups only, refill until B groups
    or the cap, every generated group in the ledger rows."""
    resampler = DynamicSampling(max_extra_rounds=max_extra_rounds)
    pool = PromptPool(math_problems(40), resampler, batch_size=4, seed=0)
    pool.set_stage("math", ["math"])
    solvable = {pool.order[i] for i in solvable_positions}
    B, generated = 4, []

    def sample(problems, round_):   # mixed outcomes for solvable prompts, all wrong otherwise
        generated.extend(problems)
        return None, scored(problems, ["mixed" if p.id in solvable else "all_wrong"
                                       for p in problems])

    batch = collect_groups(pool.next_prompts(B), pool, sample, group_size=G, step=7)
    assert batch.refill_rounds == rounds and len(batch.rewards.rewards) == groups * G
    assert batch.rollout is None and all(pid in solvable for pid in batch.rewards.reasons)
    assert len(batch.ledger_rows) == len(generated)   # every generated group logged
    assert [row["prompt_id"] for row in batch.ledger_rows] == [p.id for p in generated]
    assert all(row["step"] == 7 for row in batch.ledger_rows)
    assert len(batch.generated_rewards.rewards) == len(generated) * G
    assert batch.dropped_groups == len(generated) - groups


def test_resampler_from_config_maps_the_config_fields():
    """The config's names: strategy srpo|none|dapo, readmit_*, dapo_max_rounds."""
    class Cfg:
        strategy, readmit_after_epochs, readmit_prob, dapo_max_rounds = "srpo", 2, 0.1, 5
    history = resampler_from_config(Cfg)
    assert isinstance(history, HistoryResampling) and history.name == "srpo"
    assert (history.readmit_after_epochs, history.readmit_prob) == (2, 0.1)
    Cfg.strategy = "dapo"
    assert resampler_from_config(Cfg).max_extra_rounds == 5
    Cfg.strategy = "none"
    assert type(resampler_from_config(Cfg)) is Resampler


def test_ledger_writer_appends_and_resumes(tmp_path):
    """Rows written after a checkpoint are discarded on resume, so the ledger is exact."""
    path = tmp_path / "ledger.jsonl"
    resampler = HistoryResampling()
    resampler.rebuild(["m0", "m1"], 0, "math")
    writer = LedgerWriter(path)
    writer.write(resampler.observe(["m0", "m1"], [1, 1, 0, 1], 2))
    checkpoint_rows = writer.rows
    writer.write(resampler.observe(["m0"], [0, 0], 2))
    assert (checkpoint_rows, writer.rows) == (2, 3)
    resumed = LedgerWriter(path, resume_rows=checkpoint_rows)
    assert resumed.rows == 2
    assert read_ledger(path) == [
        {"prompt_id": "m0", "epoch": 0, "stage": "math", "correct": 2, "group_size": 2},
        {"prompt_id": "m1", "epoch": 0, "stage": "math", "correct": 1, "group_size": 2}]
    with pytest.raises(ValueError, match="checkpoint expects 5"):
        LedgerWriter(path, resume_rows=5)
    resumed.write([{"prompt_id": "m1", "epoch": 1, "stage": "math", "correct": 0,
                    "group_size": 2, "step": 7}])
    assert read_ledger(path)[-1]["step"] == 7 and resumed.rows == 3
    with pytest.raises(ValueError, match=r"lacks \['group_size'\]"):
        resumed.write([{"prompt_id": "m1", "epoch": 1, "stage": "math", "correct": 0}])


def test_errors_name_the_problem():
    """Bad strategy names, stages and observation shapes fail with a readable message."""
    with pytest.raises(ValueError, match="unknown resampling strategy 'grpo'"):
        make_resampler("grpo")
    pool = PromptPool(math_problems(2), batch_size=1)
    with pytest.raises(RuntimeError, match="set_stage"):
        pool.next_prompts()
    with pytest.raises(ValueError, match=r"stage 'code' trains on 'code' but the training data "
                                         r"has no code problems"):
        pool.set_stage("code", ["math", "code"])
    with pytest.raises(ValueError, match="mixture"):
        pool.set_stage("math", ["math"], {"code": 1.0})
    # the config's rule: a weight for each of the stage's domains, not for some of them
    with pytest.raises(ValueError, match="mixture: must give a weight to each domain"):
        PromptPool(math_problems(2) + [Problem(id="c0", domain="code", prompt="p")],
                   batch_size=1).set_stage("both", ["math", "code"], {"math": 1.0})
    with pytest.raises(ValueError, match="3 outcomes for 1 prompts x group_size 4"):
        HistoryResampling().observe(["m0"], [1, 1, 1], 4)


def test_read_ledger_names_a_bad_line_or_skips_it(tmp_path):
    """Strict by default (file and line named); skip_torn drops a killed writer's last line."""
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, [{"prompt_id": "m0", "epoch": 0, "stage": "math", "correct": 1,
                         "group_size": 2}])
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"prompt_id": "m1", "epoch": 0}\n{"prompt_id": "to')
    with pytest.raises(ValueError, match=r"ledger.jsonl, line 2: not a ledger row"):
        read_ledger(path)
    assert [row["prompt_id"] for row in read_ledger(path, skip_torn=True)] == ["m0"]
