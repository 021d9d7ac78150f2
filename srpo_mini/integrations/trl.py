"""SRPO as a plug-in for TRL's `GRPOTrainer`: verifier rewards, history resampling, stages.

TRL's `GRPOTrainer` already does the GRPO part of SRPO (G completions per prompt,
group-relative advantages, the clipped token-level loss) on one GPU or many (accelerate,
DeepSpeed, FSDP, vLLM). This module adds the rest of SRPO without leaving TRL:

1. Rewards in TRL's signature, `fn(prompts, completions, **columns) -> list[float | None]`,
   backed by `srpo_mini.verifiers.check_completions`: `math_accuracy_reward` and
   `code_accuracy_reward` (None on the other domain's rows, so TRL logs each domain's mean
   apart) and `accuracy_reward` (both domains, routed by the `domain` column).
2. History resampling. `SRPOCallback.track(fn)` wraps the accuracy reward so that every
   rollout's outcome is recorded under its prompt `id`. At each epoch boundary the pool is
   rebuilt from that history by `srpo_mini.resampling` (all-correct prompts dropped,
   mixed and all-wrong ones kept).
   `HistoryResamplingSampler` takes the place of TRL's `RepeatSampler` with the same
   grouped layout (each prompt G times in a row, each generation batch of B prompts
   repeated num_iterations * steps_per_generation times), the prompts coming from the pool.
3. The stage schedule (`srpo_mini.schedule`): after every optimizer step the callback
   feeds it; at a switch it moves the pool to the next stage's domains and ends the Trainer
   epoch, so the next epoch starts on the new stage (math, then math + code).
4. Checkpoints: `on_save` writes `srpo_state.json` (pool order and position, history,
   schedule) into TRL's `checkpoint-<step>` folder; `SRPOGRPOTrainer` reads it back in
   `train(resume_from_checkpoint=...)`.

How the pieces meet the Trainer's loop (epochs, resume, several processes): docs/trl.md.

Reference: SRPO (arXiv 2504.14286), "History Resampling" and "Two-Staged Training"; TRL
`GRPOTrainer` (https://huggingface.co/docs/trl/grpo_trainer).

Differences from the paper and from srpo_mini's own trainer:
- Truncated completions are verified as written (srpo_mini's default rule scores them 0);
  `GRPOConfig(mask_truncated_completions=True)` leaves them out of the loss (DAPO).
- Only the `srpo` (history resampling) and `none` (GRPO) strategies: DAPO's dynamic
  sampling needs a refill loop inside a step, which TRL's sampler cannot drive.
- An epoch with fewer prompts than one generation batch is padded by repeating them.
- A checkpoint taken between the updates of one generation batch (num_iterations > 1)
  resumes at the next generation batch; TRL regenerates after a resume too.
- TRL's `shuffle_dataset` is ignored: the pool shuffles each epoch with its own seed.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sys
from pathlib import Path

from srpo_mini.config import Config
from srpo_mini.data.schema import DOMAINS, Problem
from srpo_mini.ledger import LedgerWriter
from srpo_mini.resampling import PromptPool, Resampler, make_resampler
from srpo_mini.schedule import StageConfig, StageSchedule
from srpo_mini.verifiers import check_completions

try:
    from accelerate.utils import gather_object
    from transformers import TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
    from trl import GRPOTrainer
    from trl.trainer.utils import RepeatSampler
except ImportError as err:  # the optional extra is missing
    raise ImportError("srpo_mini.integrations.trl needs TRL: pip install 'srpo_mini[trl]'") from err

logger = logging.getLogger(__name__)

STATE_FILE = "srpo_state.json"       # in each checkpoint-<step> folder
LEDGER_FILE = "srpo_ledger.jsonl"    # in output_dir: one row per prompt per epoch

# srpo_mini's defaults (config.py) in GRPOConfig's names: GRPOConfig(**SRPO_GRPO_SETTINGS, ...)
_DEFAULTS = Config()
SRPO_GRPO_SETTINGS = {
    "loss_type": "dapo",           # loss.aggregation=token: mean over all tokens of the batch
    "epsilon": _DEFAULTS.loss.clip_eps_low,
    "epsilon_high": _DEFAULTS.loss.clip_eps_high,   # clip-higher (DAPO sec. 3.1)
    "beta": _DEFAULTS.loss.beta,   # no KL term, no reference model (SRPO, DAPO)
    "scale_rewards": "group",      # loss.advantage_scale=std: (r - mean) / (std + eps)
    "num_iterations": _DEFAULTS.optim.mu,             # one update per rollout batch
    "temperature": _DEFAULTS.sampling.temperature,
    "lr_scheduler_type": "constant_with_warmup",   # optim: warmup, then constant
}


# --- 1. rewards in TRL's signature --------------------------------------------------------
def _text(completion) -> str:
    """A completion as text: TRL passes strings, or [{"role", "content"}] for chat data."""
    return completion if isinstance(completion, str) else completion[-1]["content"]


def _tests(value):
    """The `tests` column as a dict: datasets store it as a JSON string (schema.to_dataset)."""
    return json.loads(value) if isinstance(value, str) else value


def _verify_rows(domains_wanted, completions, domain, answer, tests, ids) -> list:
    """1.0 / 0.0 per row whose domain is wanted (check_completions), None elsewhere."""
    n = len(completions)
    answer, tests, ids = answer or [None] * n, tests or [None] * n, ids or [None] * n
    rows = [i for i in range(n) if domain[i] in domains_wanted]
    problems = [Problem(id=str(ids[i]), domain=domain[i], prompt="", answer=answer[i],
                        tests=_tests(tests[i])) for i in rows]
    verdicts = check_completions(problems, [_text(completions[i]) for i in rows])
    rewards: list = [None] * n
    for i, verdict in zip(rows, verdicts):
        rewards[i] = 1.0 if verdict.correct else 0.0
    return rewards


def accuracy_reward(prompts, completions, *, domain, answer=None, tests=None, id=None,
                    **kwargs) -> list[float]:
    """1.0 when the verifier of the row's domain accepts the completion, else 0.0.

    prompts, completions: N rows as TRL passes them; domain, answer, tests, id: the
    dataset's columns, one value per row (`tests` a dict or its JSON string).
    """
    return _verify_rows(DOMAINS, completions, domain, answer, tests, id)


def math_accuracy_reward(prompts, completions, *, domain, answer=None, id=None,
                         **kwargs) -> list[float | None]:
    """1.0 / 0.0 on math rows (sympy equivalence of the final answer), None on the others."""
    return _verify_rows(("math",), completions, domain, answer, None, id)


def code_accuracy_reward(prompts, completions, *, domain, tests=None, id=None,
                         **kwargs) -> list[float | None]:
    """1.0 / 0.0 on code rows (every test passes in the sandbox), None on the others."""
    return _verify_rows(("code",), completions, domain, None, tests, id)


def make_trl_dataset(problems, template: str = "r1_zero", tokenizer=None):
    """A TRL training dataset: `prompt` (the rendered template), and the schema's columns
    id, domain, answer, tests (JSON), difficulty, source; `problem` keeps the statement.

    problems: `Problem`s; template / tokenizer: as `srpo_mini.prompts.render_prompt`.
    """
    from srpo_mini.data.schema import to_dataset
    from srpo_mini.prompts import render_prompt

    problems = list(problems)
    dataset = to_dataset(problems).rename_column("prompt", "problem")
    return dataset.add_column("prompt", [render_prompt(p, template, tokenizer) for p in problems])


# --- 2-4. history resampling, stages, checkpoints -----------------------------------------
class SRPOCallback(TrainerCallback):
    """The SRPO state of a TRL run: the prompt pool with its history, and the schedule.

    stages: `config.StageConfig`s (or dicts of their fields) for `StageSchedule`; default:
        `config.default_stages()`, the CLI's default (math, then math + code).
    resampler: "srpo" (history resampling) or "none" (GRPO), or a `Resampler` instance.
    seed: seeds the pool's epoch shuffles.
    """

    def __init__(self, stages: list[StageConfig | dict] | None = None,
                 resampler: str | Resampler = "srpo", *, seed: int = 0):
        if isinstance(resampler, str):
            resampler = make_resampler(resampler, seed=seed)
        if resampler.name not in ("srpo", "none"):
            raise ValueError(f"resampler {resampler.name!r} is not supported with TRL; "
                             "use 'srpo' (history resampling) or 'none' (GRPO)")
        self.resampler, self.seed, self.stages = resampler, seed, stages
        self.pool: PromptPool | None = None
        self.schedule: StageSchedule | None = None
        self.index_of: dict[str, int] = {}   # prompt id -> row of the training dataset
        self.last_reward = 0.0               # mean tracked reward of the latest scored batch
        self.ledger: LedgerWriter | None = None
        self.ledger_rows = 0
        self._pending: list[tuple[str, float]] = []   # (prompt id, reward) since the last step
        self._tracked: list[str] = []
        self._recording = False              # True inside a training step (not in eval)
        self._recorded_since_iter: int | None = None
        self._finished = False               # resumed from the run's last checkpoint

    # --- recording -------------------------------------------------------------------
    def track(self, reward_func):
        """`reward_func` in TRL's signature, recording each row's value under its `id`.

        Wrap the accuracy reward(s) only: a row counts as correct when its value is >= 1,
        and each rollout must be recorded once (rows where the function returns None are
        skipped, so a math and a code reward can both be tracked).
        """
        if inspect.iscoroutinefunction(reward_func):
            raise TypeError("track() takes a synchronous reward function")

        @functools.wraps(reward_func)
        def tracked(prompts, completions, **columns):
            rewards = reward_func(prompts, completions, **columns)
            if self._recording:
                if "id" not in columns:
                    raise KeyError("history resampling needs an 'id' column in the dataset")
                self._pending += [(str(pid), float(r)) for pid, r in zip(columns["id"], rewards)
                                  if r is not None]
            return rewards

        self._tracked.append(getattr(reward_func, "__name__", repr(reward_func)))
        return tracked

    def _flush(self) -> float | None:
        """Give the rows scored since the last call to the history; advance the pool past
        their prompts. Collective over processes. Returns their mean reward (None if none)."""
        rows, self._pending = gather_object(self._pending), []
        if not rows:
            return None
        by_prompt: dict[str, list[float]] = {}
        for prompt_id, reward in rows:
            by_prompt.setdefault(prompt_id, []).append(reward)
        pool = self.pool
        expected = pool.order[pool.position:pool.position + len(by_prompt)]
        if set(by_prompt) != set(expected):
            raise RuntimeError("rewards were recorded for prompts the SRPO sampler did not "
                               f"serve next (got {sorted(by_prompt)[:4]}, expected "
                               f"{sorted(expected)[:4]}); train with SRPOGRPOTrainer")
        pool.next_prompts(len(by_prompt))       # never crosses the epoch boundary here
        ledger_rows = [row for prompt_id, rewards in by_prompt.items()
                       for row in self.resampler.observe([prompt_id], rewards, len(rewards))]
        if self.ledger is not None:
            self.ledger.write(ledger_rows)
        self.ledger_rows += len(ledger_rows)
        self._recorded_since_iter = (self._recorded_since_iter or 0) + len(rows)
        return sum(r for _, r in rows) / len(rows)

    # --- the pool, for the sampler ---------------------------------------------------
    def setup(self, dataset, batch_size: int) -> None:
        """Bind to the training dataset (columns `id`, `domain`) with B prompts per
        generation batch; builds the pool and the schedule on the first call."""
        ids, domains = [str(i) for i in dataset["id"]], list(dataset["domain"])
        if self.pool is not None:
            if ids != list(self.index_of) or batch_size != self.pool.batch_size:
                raise ValueError("SRPOCallback is bound to another dataset or batch size")
            return
        self.index_of = {pid: row for row, pid in enumerate(ids)}
        problems = [Problem(id=pid, domain=d, prompt="") for pid, d in zip(ids, domains)]
        self.pool = PromptPool(problems, self.resampler, batch_size=batch_size, seed=self.seed)
        self.schedule = StageSchedule(self.stages, available_domains=set(domains))
        self._enter_stage()

    def _enter_stage(self) -> None:
        stage = self.schedule.current_stage
        self.pool.set_stage(stage.name, stage.domains, stage.mixture)

    def epoch_rows(self) -> list[int]:
        """Dataset rows of what is left of the current SRPO epoch, rebuilding the pool
        first if the epoch is exhausted (every batch of it has been scored by now)."""
        if self._recorded_since_iter == 0:
            raise RuntimeError("no rewards were recorded during the last epoch: pass "
                               "srpo.track(accuracy_reward) in reward_funcs")
        self._recorded_since_iter = 0
        pool = self.pool
        if self._finished:
            return []              # an empty epoch: the Trainer stops without a step
        pool.next_prompts(0)       # starts the next epoch (the rebuild) when exhausted
        if pool.epoch and pool.position == 0:
            stats = pool.resampler.epoch_stats[-1]
            logger.info("SRPO epoch %d (stage %s): %d prompts; %d newly dropped as all "
                        "correct, %d left out in all; kept %d mixed, %d all wrong",
                        pool.epoch, pool.stage, stats.pool_size, stats.dropped_easy,
                        stats.dropped_total, stats.kept_mixed, stats.kept_all_wrong)
        return [self.index_of[pid] for pid in pool.order[pool.position:]]

    def max_epoch_prompts(self) -> int:
        """The most prompts any stage's epoch can hold (its domains' problem count)."""
        domains = [p.domain for p in self.pool.problems.values()]
        return max(sum(d in stage.domains for d in domains) for stage in self.schedule.stages)

    @property
    def epochs_done(self) -> int:
        """SRPO epochs finished, counting one cut short by a stage switch."""
        return self.pool.epoch + int(self.pool.exhausted)

    # --- Trainer events --------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if self.pool is None:
            raise RuntimeError("SRPOCallback has no prompt pool: train with SRPOGRPOTrainer "
                               "on a map-style dataset (not an IterableDataset)")
        if not self._tracked:
            raise ValueError("no reward function is tracked: pass srpo.track(accuracy_reward) "
                             "in reward_funcs")
        # A run resumed from its last checkpoint has nothing left to train; the Trainer
        # would still start an epoch (its epoch count assumes fixed-length epochs).
        if args.max_steps > 0:
            self._finished = state.global_step >= args.max_steps
        else:
            self._finished = self.pool.exhausted and self.epochs_done >= args.num_train_epochs
        if state.is_world_process_zero:
            resumed = state.global_step > 0
            self.ledger = LedgerWriter(Path(args.output_dir) / LEDGER_FILE,
                                       resume_rows=self.ledger_rows if resumed else None)

    def on_step_begin(self, args, state, control, **kwargs):
        self._recording = True

    def on_step_end(self, args, state, control, **kwargs):
        self._recording = False
        mean_reward = self._flush()
        if mean_reward is not None:
            self.last_reward = mean_reward
        if self.schedule.update(state.global_step, self.pool.epochs_completed, self.last_reward,
                                all_solved=self.pool.all_solved):
            self._enter_stage()                 # applies the history so far, new epoch
            control.should_epoch_stop = True    # the next Trainer epoch serves the new stage
            logger.info("SRPO stage switch at step %d: %s", state.global_step,
                        self.schedule.switches[-1])
        if self.schedule.done:
            control.should_training_stop = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        # After a resume the Trainer's epoch counter lags (it assumes fixed-length epochs).
        if args.max_steps <= 0 and self.epochs_done >= args.num_train_epochs:
            control.should_training_stop = True
        return control

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if folder.is_dir():
                self.save(folder)
            else:
                logger.warning("SRPO state not saved: no checkpoint folder %s", folder)
        return control

    # --- state -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Pool (order, position, epoch, RNG, resampler history), schedule, ledger size."""
        return {"pool": self.pool.state_dict(), "schedule": self.schedule.state_dict(),
                "last_reward": self.last_reward, "ledger_rows": self.ledger_rows}

    def load_state_dict(self, state: dict) -> None:
        if state["pool"]["batch_size"] != self.pool.batch_size:
            raise ValueError(f"checkpoint has {state['pool']['batch_size']} prompts per "
                             f"generation batch, this run {self.pool.batch_size}")
        self.pool.load_state_dict(state["pool"])
        self.schedule.load_state_dict(state["schedule"])
        self.last_reward, self.ledger_rows = state["last_reward"], state["ledger_rows"]

    def save(self, checkpoint_dir) -> Path:
        """Write `srpo_state.json` into `checkpoint_dir` (atomically)."""
        path = Path(checkpoint_dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state_dict()), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def load(self, checkpoint_dir) -> None:
        """Restore from `checkpoint_dir/srpo_state.json` (after `setup`)."""
        path = Path(checkpoint_dir) / STATE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not an SRPO checkpoint (saved without "
                                    "SRPOCallback?); cannot resume the history")
        self.load_state_dict(json.loads(path.read_text(encoding="utf-8")))


class HistoryResamplingSampler(RepeatSampler):
    """TRL's grouped repeat layout over the SRPO pool, one SRPO epoch per iteration.

    srpo: a set-up `SRPOCallback`; mini_repeat_count: G; batch_size: B prompts per
    generation batch; repeat_count: num_iterations * steps_per_generation.
    Yields dataset rows: for each chunk of B prompts, `repeat_count` times, each row G times.
    """

    def __init__(self, srpo: SRPOCallback, *, mini_repeat_count: int, batch_size: int,
                 repeat_count: int = 1):
        super().__init__(list(srpo.index_of.values()), mini_repeat_count=mini_repeat_count,
                         batch_size=batch_size, repeat_count=repeat_count, shuffle=False)
        self.srpo = srpo

    def __iter__(self):
        rows = self.srpo.epoch_rows()
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            # Only an epoch smaller than B leaves a short chunk (drop_last cuts the rest).
            chunk = (chunk * self.batch_size)[:self.batch_size]
            for _ in range(self.repeat_count):
                for row in chunk:
                    yield from [row] * self.mini_repeat_count

    def __len__(self) -> int:
        chunks = max(1, self.srpo.max_epoch_prompts() // self.batch_size)
        return chunks * self.batch_size * self.mini_repeat_count * self.repeat_count


class SRPOTrainerMixin:
    """The three hooks SRPO needs in a `GRPOTrainer` (or a subclass of it).

    srpo: the `SRPOCallback` whose tracked rewards are in `reward_funcs`.
    """

    def __init__(self, *args, srpo: SRPOCallback, **kwargs):
        super().__init__(*args, **kwargs)
        self.srpo = srpo
        if srpo not in self.callback_handler.callbacks:
            self.add_callback(srpo)
        # The sampler restores the data position itself; the Trainer's skipping would count
        # batches in fixed-length epochs and skip the wrong ones.
        self.args.ignore_data_skip = True

    def _get_train_sampler(self, dataset=None):
        dataset = self.train_dataset if dataset is None else dataset
        batch_size = self.args.generation_batch_size // self.num_generations
        self.srpo.setup(dataset, batch_size)
        return HistoryResamplingSampler(
            self.srpo, mini_repeat_count=self.num_generations, batch_size=batch_size,
            repeat_count=self.num_iterations * self.args.steps_per_generation)

    def set_initial_training_values(self, args, *rest, **kwargs):
        values = list(super().set_initial_training_values(args, *rest, **kwargs))
        if args.max_steps > 0:
            values[0] = sys.maxsize   # num_train_epochs: epochs shrink, max_steps ends the run
        return tuple(values)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None:
            self.srpo.load(checkpoint)


class SRPOGRPOTrainer(SRPOTrainerMixin, GRPOTrainer):
    """`GRPOTrainer` with SRPO's history resampling and stage schedule.

    Takes GRPOTrainer's arguments plus `srpo=SRPOCallback(...)`; the training dataset needs
    `id` and `domain` columns (`make_trl_dataset`).
    """
