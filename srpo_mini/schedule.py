"""The stage schedule: which domains train now, and when to move to the next stage.

SRPO trains in two stages. Stage 1 uses math only, to grow long chains of thought; stage 2
adds code, on top of the reasoning habits stage 1 built. Here the stages are a general
list from the config; each names its domains, an optional mixture, and the rule that ends
it:

    steps     after `steps` training steps in the stage
    epochs    after `epochs` full passes over the stage's pool (`PromptPool.epochs_completed`)
    plateau   when the stage's training reward stops improving (below)
    end       last stage only: when history resampling has solved every prompt of the
              stage (`PromptPool.all_solved`), otherwise never

and, whatever the rule, after `max_steps` steps in the stage if that cap is set (plateau
and end require it). The stages are `config.StageConfig`s, validated by
`config.validate_stages`.

When the last stage's rule fires, `done` turns True (the run ends); `update` returns True
only for a switch to a next stage, after which the caller moves the pool to the new stage.

Reference: SRPO (arXiv 2504.14286), "Two-Staged Training".

Differences from the paper:
- The paper switches stages by hand; the step, epoch, plateau and end rules are this
  implementation's, and so is the list of more than two stages.
- The paper's stage 2 mixture is not given; the default here is 50% math, 50% code.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, is_dataclass

from .config import StageConfig, default_stages, from_dict, validate_stages

__all__ = ["StageConfig", "StageSchedule", "default_stages", "validate_stages"]


class SwitchRule:
    """The interface; every rule sees the same progress of the current stage."""

    def should_switch(self, steps: int, epochs: int, reward: float, all_solved: bool) -> bool:
        """steps / epochs: completed in this stage; reward: this step's mean reward;
        all_solved: the pool found every prompt of the stage solved."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class WhenAllSolved(SwitchRule):
    """Rule "end": the last stage ends when nothing is left to learn from."""

    def __init__(self, stage: StageConfig):
        pass

    def should_switch(self, steps, epochs, reward, all_solved):
        return all_solved


class AfterSteps(SwitchRule):
    """Rule "steps": end after `stage.steps` steps in the stage."""

    def __init__(self, stage: StageConfig):
        self.steps = stage.steps

    def should_switch(self, steps, epochs, reward, all_solved):
        return steps >= self.steps


class AfterEpochs(SwitchRule):
    """Rule "epochs": end after `stage.epochs` full passes over the stage's pool."""

    def __init__(self, stage: StageConfig):
        self.epochs = stage.epochs

    def should_switch(self, steps, epochs, reward, all_solved):
        return epochs >= self.epochs


class RewardPlateau(SwitchRule):
    """Rule "plateau": switch when the W-step moving average of the stage's training reward
    has not risen by min_delta above its best for `patience` checks (default W)."""

    def __init__(self, stage: StageConfig):
        self.window, self.min_delta = stage.plateau_window, stage.plateau_min_delta
        self.patience = stage.plateau_patience or stage.plateau_window
        self.recent: deque[float] = deque(maxlen=self.window)
        self.best: float | None = None
        self.bad_checks = 0

    def should_switch(self, steps, epochs, reward, all_solved):
        # From the W-th step of the stage on, every step is a check of m_t, the mean of the
        # last W rewards. `best` is the average at the last improvement (as Keras'
        # ReduceLROnPlateau keeps it), so a slow rise still counts once it adds up to
        # min_delta; a rise slower than about min_delta / patience per step is a plateau.
        # The earliest switch is at step W + patience.
        self.recent.append(float(reward))
        if len(self.recent) == self.window:
            moving_average = sum(self.recent) / self.window
            if self.best is None or moving_average > self.best + self.min_delta:
                self.best, self.bad_checks = moving_average, 0
            else:
                self.bad_checks += 1
        return self.bad_checks >= self.patience

    def state_dict(self):
        return {"recent": list(self.recent), "best": self.best, "bad_checks": self.bad_checks}

    def load_state_dict(self, state):
        self.recent = deque(state["recent"], maxlen=self.window)
        self.best, self.bad_checks = state["best"], state["bad_checks"]


SWITCH_RULES = {"steps": AfterSteps, "epochs": AfterEpochs, "plateau": RewardPlateau,
                "end": WhenAllSolved}


def _as_stage(stage, index: int) -> StageConfig:
    """A `StageConfig` from a StageConfig, a dict (YAML) or a dataclass of the same fields."""
    if isinstance(stage, StageConfig):
        return stage
    return from_dict(asdict(stage) if is_dataclass(stage) else stage, StageConfig,
                     path=f"stages.{index}")


class StageSchedule:
    """The list of stages, the current one, and the switch rule's state.

    stages: `config.StageConfig`s or dicts of their fields (YAML); default:
    `config.default_stages()`, the run's default.
    available_domains: the training data's domains, to reject a stage naming another.
    """

    def __init__(self, stages: list[StageConfig | dict] | None = None, available_domains=None):
        self.stages = [_as_stage(s, i) for i, s in
                       enumerate(stages if stages is not None else default_stages())]
        validate_stages(self.stages, available_domains)
        self.index = 0
        self.done = False
        self.stage_start_step = 0
        self.stage_start_epoch = 0
        self.switches: list[dict] = []      # {"from", "to", "step", "epoch"} per switch
        self.rule = self._make_rule()

    def _make_rule(self) -> SwitchRule:
        stage = self.current_stage
        return SWITCH_RULES[stage.switch](stage)

    @property
    def current_stage(self) -> StageConfig:
        return self.stages[self.index]

    @property
    def is_last(self) -> bool:
        return self.index == len(self.stages) - 1

    def update(self, step: int, epoch: int, reward: float, all_solved: bool = False) -> bool:
        """Feed one finished step; True when the schedule moved to the next stage.

        step: global steps completed; epoch: global full passes (`pool.epochs_completed`);
        reward: the step's mean training reward (the plateau rule reads it);
        all_solved: `pool.all_solved` (the end rule reads it).
        """
        if self.done:
            return False
        steps_in_stage = step - self.stage_start_step
        fired = self.rule.should_switch(steps_in_stage, epoch - self.stage_start_epoch,
                                        reward, all_solved)
        max_steps = self.current_stage.max_steps
        fired = fired or (max_steps is not None and steps_in_stage >= max_steps)
        if not fired:
            return False
        if self.is_last:
            self.done = True
            return False
        self.switches.append({"from": self.current_stage.name,
                              "to": self.stages[self.index + 1].name,
                              "step": step, "epoch": epoch})
        self.index += 1
        self.stage_start_step, self.stage_start_epoch = step, epoch
        self.rule = self._make_rule()
        return True

    def state_dict(self) -> dict:
        return {"stages": [asdict(s) for s in self.stages], "index": self.index,
                "done": self.done, "stage_start_step": self.stage_start_step,
                "stage_start_epoch": self.stage_start_epoch,
                "switches": list(self.switches), "rule": self.rule.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        names = [s["name"] for s in state["stages"]]
        if names != [s.name for s in self.stages]:
            raise ValueError(f"schedule state has stages {names}, the config has "
                             f"{[s.name for s in self.stages]}")
        self.index, self.done = state["index"], state["done"]
        self.stage_start_step = state["stage_start_step"]
        self.stage_start_epoch = state["stage_start_epoch"]
        self.switches = list(state["switches"])
        self.rule = self._make_rule()
        self.rule.load_state_dict(state["rule"])
