"""The stage schedule: switching by steps, epochs, reward plateau and the max_steps cap,
the end of the last stage, state round trip, config validation, and the schedule driving
a prompt pool the way the trainer does.

Every rule is driven by a hand-built sequence of (step, epoch, reward) with the expected
switch step worked out in a comment.

Run: python -m pytest tests/test_schedule.py -q
"""

import json
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import pytest

from srpo_mini.config import Config, apply_overrides, validate
from srpo_mini.data.schema import Problem
from srpo_mini.resampling import HistoryResampling, PromptPool
from srpo_mini.schedule import StageConfig, StageSchedule, default_stages, validate_stages


def two_stages(**first):
    if first.get("switch") in ("plateau", "end"):
        first.setdefault("max_steps", 100)   # a cap these rules need; far past every test
    return [StageConfig("math", ["math"], **first),
            StageConfig("math+code", ["math", "code"], {"math": 0.5, "code": 0.5},
                        switch="end", max_steps=100)]


def first_switch(schedule, rewards, epochs=None):
    """Feed steps 1..n; return the step at which `update` first returned True (or None)."""
    for step, reward in enumerate(rewards, start=1):
        epoch = epochs[step - 1] if epochs else 0
        if schedule.update(step, epoch, reward):
            return step
    return None


def test_default_is_math_then_math_and_code():
    """Stage 1 math only; stage 2 math + code half and half."""
    stages = default_stages(stage1_steps=7)
    assert [s.domains for s in stages] == [["math"], ["math", "code"]]
    assert stages[1].mixture == {"math": 0.5, "code": 0.5} and stages[0].steps == 7


def test_default_stages_are_the_configs_and_pass_its_validation():
    """One default list: what the TRL integration uses when given no stages
    (StageSchedule(None)) is the CLI's default, and `srpo-mini train`'s validator takes it."""
    schedule = StageSchedule(None, available_domains={"math", "code"})
    assert schedule.stages == Config().stages == default_stages()
    assert [(s.name, s.switch, s.steps) for s in schedule.stages] == [
        ("math", "steps", 120), ("math+code", "steps", 50)]
    config = Config()
    config.stages = schedule.stages
    validate(config, available_domains={"math", "code"})   # raises on any fault
    # and a stage list the CLI rejects is rejected by the schedule too, with the same text
    bad = apply_overrides(Config(), ["stages.1.switch=end"])
    with pytest.raises(ValueError) as cli:
        validate(bad)
    with pytest.raises(ValueError) as schedule_error:
        StageSchedule(bad.stages)
    assert str(schedule_error.value) == str(cli.value) == (
        "stages.1.max_steps: switch=end needs max_steps (>= 1) as a cap, since it may never "
        "fire")


def test_switch_after_steps_then_stage_counts_from_its_start():
    """Stage 1 ends at step 3; stage 2 (steps=2) counts from there and ends at step 5."""
    stages = [StageConfig("a", ["math"], switch="steps", steps=3),
              StageConfig("b", ["math", "code"], switch="steps", steps=2),
              StageConfig("c", ["code"], switch="end", max_steps=100)]
    schedule = StageSchedule(stages)
    switched = [schedule.update(step, 0, 0.0) for step in range(1, 7)]
    assert switched == [False, False, True, False, True, False]
    assert schedule.current_stage.name == "c"
    assert [(s["from"], s["to"], s["step"]) for s in schedule.switches] == \
        [("a", "b", 3), ("b", "c", 5)]


def test_switch_after_epochs():
    """epochs=2: pool.epochs_completed 0,0,1,1,2 -> switch at step 5."""
    schedule = StageSchedule(two_stages(switch="epochs", epochs=2))
    assert first_switch(schedule, [0.0] * 6, epochs=[0, 0, 1, 1, 2, 2]) == 5
    assert schedule.stage_start_epoch == 2 and schedule.current_stage.name == "math+code"


@pytest.mark.parametrize("rewards, window, min_delta, patience, expected", [
    # W=2: m2=.2 (best), m3=.4 (>.25, best), m4=.5 (>.45, best), m5=.5 bad 1, m6=.5 bad 2
    ([0.1, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5], 2, 0.05, 2, 6),
    # W=1, +0.02 per step: m1=0 best; .02 bad 1; .04 bad 2 -> patience 2 switches at 3
    ([0.02 * t for t in range(10)], 1, 0.05, 2, 3),
    # same slow rise, patience 3: .06 > 0+.05 resets at step 4, .12 > .06+.05 at step 7, ...
    # the counter never reaches 3: a rise of min_delta per 3 steps is not a plateau
    ([0.02 * t for t in range(10)], 1, 0.05, 3, None),
    # W=3 on a noisy flat reward: m3=.5 best, m4=.5667 (>.55, best), then .5333, .5667,
    # .5333 are all <= .6167: bad 1, 2, 3 -> switch at step 7
    ([0.4, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6], 3, 0.05, 3, 7),
])
def test_switch_on_reward_plateau(rewards, window, min_delta, patience, expected):
    """The moving-average plateau rule of schedule.py, on hand-built reward sequences."""
    schedule = StageSchedule(two_stages(switch="plateau", plateau_window=window,
                                        plateau_min_delta=min_delta, plateau_patience=patience))
    assert first_switch(schedule, rewards) == expected


def test_max_steps_caps_a_stage_that_keeps_improving():
    """A reward rising 0.1 per step never plateaus; max_steps=4 ends the stage at step 4."""
    schedule = StageSchedule(two_stages(switch="plateau", plateau_window=2, max_steps=4))
    assert first_switch(schedule, [0.1 * t for t in range(10)]) == 4


def test_plateau_patience_defaults_to_the_window():
    """W=3, no patience given: 3 non-improving checks. m3=.5 best, m4..m6=.5 -> step 6."""
    schedule = StageSchedule(two_stages(switch="plateau", plateau_window=3))
    assert first_switch(schedule, [0.5] * 8) == 6


def test_end_rule_fires_when_the_pool_is_all_solved():
    """switch=end: the run ends when pool.all_solved turns True (or at max_steps)."""
    schedule = StageSchedule([StageConfig("a", ["math"], switch="steps", steps=1),
                              StageConfig("b", ["math", "code"], switch="end", max_steps=100)])
    solved = [False, False, False, True]
    assert [schedule.update(s, 0, 0.0, all_solved=solved[s - 1]) for s in (1, 2, 3)] == \
        [True, False, False]
    assert not schedule.done
    schedule.update(4, 0, 0.0, all_solved=True)
    assert schedule.done
    capped = StageSchedule([StageConfig("a", ["math"], switch="end", max_steps=2)])
    capped.update(1, 0, 0.0)
    assert not capped.done
    capped.update(2, 0, 0.0)
    assert capped.done


def test_last_stage_rule_ends_the_run():
    """When the last stage's rule fires, `done` turns True and `update` returns False."""
    stages = [StageConfig("a", ["math"], switch="steps", steps=1),
              StageConfig("b", ["math", "code"], switch="steps", steps=2)]
    schedule = StageSchedule(stages)
    assert [schedule.update(s, 0, 0.0) for s in (1, 2, 3, 4)] == [True, False, False, False]
    assert schedule.done and schedule.current_stage.name == "b"


def test_state_round_trip_mid_plateau():
    """Save after 4 steps (through JSON), resume: the switch comes at the same step (6)."""
    rewards = [0.1, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5]
    stages = two_stages(switch="plateau", plateau_window=2, plateau_min_delta=0.05,
                        plateau_patience=2)
    schedule = StageSchedule(stages)
    assert first_switch(schedule, rewards[:4]) is None
    state = json.loads(json.dumps(schedule.state_dict()))
    resumed = StageSchedule(stages)
    resumed.load_state_dict(state)
    assert resumed.rule.best == pytest.approx(0.5) and resumed.rule.bad_checks == 0
    assert [resumed.update(step, 0, rewards[step - 1]) for step in (5, 6)] == [False, True]
    assert resumed.current_stage.name == "math+code"
    with pytest.raises(ValueError, match="schedule state has stages"):
        StageSchedule(default_stages()[:1] + [StageConfig("other", ["code"], switch="end",
                                                         max_steps=100)]
                      ).load_state_dict(state)


def test_stages_from_dicts_and_config_dataclasses():
    """Stages given as dicts (YAML) or other dataclasses of StageConfig's fields become
    StageConfig objects; an empty mixture means none; a bad key names its stage."""
    @dataclass
    class OtherStage:   # some of srpo_mini.config.StageConfig's fields
        name: str
        domains: list
        mixture: dict = dataclass_field(default_factory=dict)
        switch: str = "end"
        max_steps: int = 100

    schedule = StageSchedule([{"name": "math", "domains": ["math"], "steps": 2},
                              OtherStage("both", ["math", "code"])])
    assert schedule.stages[1].domains == ["math", "code"] and schedule.stages[1].mixture == {}
    assert [schedule.update(s, 0, 0.0) for s in (1, 2)] == [False, True]
    with pytest.raises(ValueError, match=r"stages\.0\.step: unknown config key \(did you mean "
                                         r"'steps'\?\)"):
        StageSchedule([{"name": "math", "step": 2}])


@pytest.mark.parametrize("stage, available, message", [
    (StageConfig("s", ["math", "chem"], switch="end", max_steps=9), None,
     r"stages\.0\.domains"),
    (StageConfig("s", ["math", "code"], switch="end", max_steps=9), ["math"],
     r"stages\.0\.domains: stage 's' trains on 'code' but the training data has no code "
     r"problems"),
    (StageConfig("s", ["math"], {"code": 1.0}, switch="end", max_steps=9), None,
     r"stages\.0\.mixture: must give a weight to each domain"),
    (StageConfig("s", ["math", "code"], {"math": -1, "code": 1}, switch="end", max_steps=9),
     None, "positive sum"),
    (StageConfig("s", ["math"], switch="forever"), None, r"stages\.0\.switch: 'forever'"),
    (StageConfig("s", ["math"], switch="steps"), None,
     r"stages\.0\.steps: switch=steps needs steps \(>= 1\)"),
    # a mixture that names only some of the stage's domains: the CLI's rule, now everywhere
    (StageConfig("s", ["math", "code"], {"math": 1.0}, switch="steps", steps=3), None,
     r"stages\.0\.mixture: must give a weight to each domain"),
    (StageConfig("s", ["math"], switch="plateau"), None,
     r"stages\.0\.max_steps: switch=plateau needs max_steps"),
    (StageConfig("s", ["math"], switch="epochs", epochs=0), None, r"stages\.0\.epochs"),
    (StageConfig("s", ["math"], switch="plateau", plateau_window=0), None, "plateau_window"),
    (StageConfig("s", ["math"], switch="end", max_steps=0), None, "max_steps"),
    (StageConfig("s", ["math"], switch="plateau", plateau_patience=0), None, "plateau_patience"),
])
def test_validation_names_the_field(stage, available, message):
    """Invalid stage values stop before any work, with the field in the message."""
    with pytest.raises(ValueError, match=message):
        validate_stages([stage], available)


def test_schedule_drives_the_pool_as_the_trainer_will():
    """Stage 1 math for 3 steps, then math + code: the pool follows, the ledger says which
    stage each group came from, and prompts dropped in stage 1 stay dropped."""
    problems = [Problem(id=f"m{i}", domain="math", prompt="q", answer="1") for i in range(4)]
    problems += [Problem(id=f"c{i}", domain="code", prompt="p",
                         tests={"cases": [{"input": "", "output": ""}]}) for i in range(4)]
    schedule = StageSchedule([StageConfig("math", ["math"], switch="steps", steps=3),
                              StageConfig("both", ["math", "code"], {"math": 0.5, "code": 0.5},
                                    switch="steps", steps=4)])
    resampler = HistoryResampling()
    pool = PromptPool(problems, resampler, batch_size=2, seed=0)
    pool.set_stage(schedule.current_stage.name, schedule.current_stage.domains)
    step, domains_by_step, rows = 0, [], []
    while not schedule.done:
        batch = pool.next_prompts()
        domains_by_step.append(sorted(p.domain for p in batch))
        # m0 is solved every time; everything else is half right
        rows += resampler.observe([p.id for p in batch],
                                  [c for p in batch for c in ([1, 1] if p.id == "m0" else [1, 0])],
                                  2)
        step += 1
        if schedule.update(step, pool.epochs_completed, 0.5, all_solved=pool.all_solved):
            stage = schedule.current_stage
            pool.set_stage(stage.name, stage.domains, stage.mixture)
    assert step == 7 and schedule.switches[0]["step"] == 3
    assert domains_by_step[:3] == [["math", "math"]] * 3
    assert domains_by_step[3:] == [["code", "math"]] * 4
    assert [r["stage"] for r in rows] == ["math"] * 6 + ["both"] * 8
    assert "m0" in resampler.dropped
    assert all(r["prompt_id"] != "m0" for r in rows[6:])
