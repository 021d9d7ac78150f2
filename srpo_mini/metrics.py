"""What a run records: the metrics.jsonl keys, their logger, the progress postfix, the summary.

`METRIC_KEYS` is the one documented list of every key a `metrics.jsonl` record may hold.
A record is one JSON object per line, written at one optimizer `step` (one rollout batch):
the training record of the step (with what history resampling did at the last epoch
boundary, repeated on every step of the epoch) and evaluation keys (`eval/...`; a record of
their own at step 0 for the base model). Keys with `{domain}` exist per domain (math, code);
`{k}` per value of `eval.k_values`. "Generated" completions are every one sampled in the
step, DAPO's refill rounds and filtered groups included; "trained" ones are the rows the
update used (the same rows unless the strategy is dapo).

The logger appends and flushes each record, so a killed run keeps all it logged; resuming at
step s drops the records after s (the resumed run writes them again, identically when the
resume is exact). Non-finite numbers are written as null (JSON has no NaN). TensorBoard
scalars are optional and need the `tensorboard` package.

Differences from the paper: its training curves are drawn against steps;
`cumulative_generated_tokens` is added as the x-axis that makes history resampling's saving
visible (a DAPO step generates extra rollouts to refill its batch, an SRPO step does not).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable

from .data.schema import DOMAINS

METRICS_FILE = "metrics.jsonl"

METRIC_KEYS: dict[str, str] = {
    # -- where in the run
    "step": "Optimizer step: one rollout batch, 1-based; 0 is the base model's evaluation.",
    "stage": "Name of the current stage (config stages.N.name).",
    "stage_index": "0-based index of the current stage.",
    "machine": "The CPU (model, cores, capability, native bf16 or not), GPU and torch version "
               "the run trains on (srpo_mini.machine); logged at the start, and again when a "
               "resume lands on another machine.",
    "code_isolation": "Code sandbox level, logged only when weaker than namespaces was asked "
                      "for (SRPO_SANDBOX_ISOLATION); the summary then names it.",
    "epoch": "0-based index of the pool's epoch the batch was drawn from (counted over the "
             "run; a stage switch starts a new epoch; a DAPO refill that crosses a boundary "
             "reports the new epoch).",
    "lr": "Learning rate after the step's updates (the next update's; warmup raises it at "
          "each of the mu optimizer steps).",
    "elapsed": "Seconds spent in training steps so far, their evaluations included (not the "
               "base model's evaluation nor checkpoint writes); continues across resumes.",
    # -- rewards of the step's generated completions
    "reward": "Mean reward of the step's generated completions (the advantages are computed "
              "from the trained ones' rewards).",
    "reward/{domain}": "Mean reward of the step's generated completions of that domain.",
    "accuracy": "Fraction of generated completions the verifier judged correct (code: all "
                "tests pass).",
    "accuracy/{domain}": "Accuracy of the step's generated completions of that domain.",
    "format_rate": "Fraction of generated completions with the template's <think>/<answer> "
                   "structure.",
    "zero_std_fraction": "Fraction of the step's generated groups whose G rewards are all "
                         "equal: zero advantage, no learning signal. History resampling "
                         "exists to lower it.",
    "verify_failures": "Generated completions whose verifier failed (crashed, or a math check "
                       "ran past its time limit); reward 0. A code program's own timeout is "
                       "not counted.",
    # -- the pool and history resampling: the last epoch boundary's, logged on every step
    "pool_size": "Prompts in the current epoch's pool (before the drop_last cut).",
    "epoch_length": "Prompts the current epoch serves (mixture and whole batches applied).",
    "dropped_easy": "Prompts dropped at the last epoch boundary: every rollout was correct.",
    "kept_mixed": "Prompts kept at the last epoch boundary: mixed outcomes.",
    "kept_all_wrong": "Prompts kept at the last epoch boundary although every rollout was "
                      "wrong (SRPO keeps them: they may become solvable).",
    "kept_all_correct": "Prompts kept although every rollout was correct (none and dapo "
                        "strategies only; srpo drops them).",
    "kept_unseen": "Prompts kept at the last epoch boundary without rollouts in the epoch "
                   "before (new to the stage, or cut from that epoch).",
    "readmitted": "Dropped prompts returned to the pool at the last epoch boundary.",
    "dropped_total": "The stage's prompts left out of the current epoch (dropped so far).",
    "all_solved": "True when the boundary found every prompt of the stage solved (all were "
                  "re-admitted; the `end` switch rule fires on it).",
    "dapo_rounds": "dapo only: extra generation rounds this step to refill the batch.",
    "dapo_dropped_groups": "dapo only: generated groups not trained on this step: filtered "
                           "(all rewards equal) or beyond the B groups a batch holds.",
    # -- the completions
    "completion_length": "Mean length in tokens (through EOS) of the trained completions; a "
                         "truncated one counts max_new_tokens, also when rewards.truncation "
                         "= mask leaves it out of the loss.",
    "completion_length/{domain}": "Mean completion length of the trained completions of that "
                                  "domain (a mixed stage's overall mean moves with the mix).",
    "truncation_rate": "Fraction of the trained completions that reached max_new_tokens "
                       "without EOS.",
    "generated_tokens": "Completion tokens generated this step, every row of every round "
                        "(extra DAPO rounds included).",
    "cumulative_generated_tokens": "Completion tokens generated since the run started (the "
                                   "sum of generated_tokens): the cost axis of the plots.",
    # -- the update (srpo_mini.grpo.policy_metrics names): the step's last of its mu updates,
    #    so with mu > 1 the ratio metrics show how far the earlier updates moved the policy
    "loss": "Policy loss (plus beta * kl when loss.beta > 0) of the step's last update.",
    "clip_fraction_low": "Fraction of completion tokens with negative advantage whose ratio "
                         "is below 1 - clip_eps_low (clipped: no gradient).",
    "clip_fraction_high": "Fraction of completion tokens with positive advantage whose ratio "
                          "is above 1 + clip_eps_high (clipped: no gradient).",
    "clip_fraction": "Fraction of completion tokens clipped either way (low + high).",
    "approx_kl": "Token mean of (ratio - 1) - log ratio, the k3 estimate of "
                 "KL(rollout policy || current policy); 0 at the first update, so "
                 "always 0 when mu = 1.",
    "ratio_mean": "Token mean of the importance ratio pi / pi_rollout (1 when on-policy).",
    "kl": "Token mean of the k3 KL to the reference model (only when loss.beta > 0).",
    "entropy": "Token mean entropy of the policy on the completions (logging.entropy).",
    "grad_norm": "Global gradient norm before clipping, at the step's last update.",
    "nan_skips": "Updates skipped since the run started (cumulative, across resumes) because "
                 "the loss or a gradient was NaN/Inf.",
    # -- time
    "time_generate": "Seconds spent generating rollouts this step.",
    "time_verify": "Seconds spent verifying completions this step.",
    "time_train": "Seconds spent on log-probs, losses and optimizer updates this step.",
    "time_eval": "Seconds of the evaluation in this record.",
    "time_step": "Seconds of the whole step (generate + verify + train + the step's "
                 "evaluation, if any, + bookkeeping).",
    # -- held-out evaluation
    "eval/{domain}/greedy_accuracy": "Held-out accuracy of one greedy decode per problem.",
    "eval/{domain}/pass@{k}": "Held-out unbiased pass@k, 1 - C(n-c, k) / C(n, k), averaged "
                              "over problems (n = eval.n_samples); pass@1 is the mean "
                              "accuracy of the samples.",
}

_PLACEHOLDERS = {"{domain}": "(?:" + "|".join(DOMAINS) + ")", "{k}": "[1-9][0-9]*"}
_KEY_PATTERNS = []
for _key in METRIC_KEYS:
    _pattern = re.escape(_key)
    for _slot, _regex in _PLACEHOLDERS.items():
        _pattern = _pattern.replace(re.escape(_slot), _regex)
    _KEY_PATTERNS.append(re.compile(_pattern + r"\Z"))


def is_known_key(key: str) -> bool:
    """True when `key` is in METRIC_KEYS with its placeholders filled (`eval/code/pass@4`)."""
    return any(pattern.match(key) for pattern in _KEY_PATTERNS)


def _clean(value: Any) -> Any:
    """A JSON-able scalar: tensors and numpy scalars unwrapped, NaN/Inf -> None."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"metric values are numbers or strings, got {type(value).__name__}")


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics.jsonl (or of `<run_dir>/metrics.jsonl`), in file order.

    A line that is not valid JSON (the torn last line of a killed run) is skipped.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


class MetricsLogger:
    """Appends records to `<run_dir>/metrics.jsonl` (and TensorBoard when asked).

    Args:
        run_dir: the run directory (created if missing).
        resume_step: None starts a new file (an old one is overwritten); a step keeps the
            records with step <= resume_step and appends after them.
        tensorboard: also write scalars to `<run_dir>/tensorboard`; skipped with a message
            when the `tensorboard` package is missing.
        strict: reject keys that are not in METRIC_KEYS (keeps that list the whole truth).
    Attributes:
        latest: every key's most recent value (a running merge of the records), for the
            progress postfix.
    """

    def __init__(self, run_dir: str | Path, *, resume_step: int | None = None,
                 tensorboard: bool = False, strict: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / METRICS_FILE
        self.strict = strict
        self.latest: dict[str, Any] = {}
        kept = []
        if resume_step is not None and self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:  # rewrite, then swap in atomically
            for record in kept:
                handle.write(json.dumps(record) + "\n")
                self.latest.update(record)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", encoding="utf-8")
        self._tensorboard = None
        if tensorboard:
            self._tensorboard = _open_tensorboard(self.run_dir / "tensorboard", resume_step)

    def log(self, record: dict) -> dict:
        """Write one record (must hold `step`); returns it as written."""
        if "step" not in record:
            raise ValueError("a metrics record needs a 'step'")
        unknown = [k for k in record if not is_known_key(k)]
        if self.strict and unknown:
            raise KeyError(f"metric keys not documented in srpo_mini.metrics.METRIC_KEYS: "
                           f"{unknown}")
        clean = {"step": int(_clean(record["step"]))}
        clean.update((k, _clean(v)) for k, v in record.items() if k != "step")
        self._file.write(json.dumps(clean) + "\n")
        self._file.flush()
        self.latest.update(clean)
        if self._tensorboard is not None:
            for key, value in clean.items():
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                if key != "step" and numeric:
                    self._tensorboard.add_scalar(key, value, clean["step"])
        return clean

    def close(self) -> None:
        """Flush and close the file (and TensorBoard)."""
        if not self._file.closed:
            self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _open_tensorboard(log_dir: Path, resume_step: int | None):
    """A SummaryWriter, or None with a one-line explanation when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("TensorBoard logging is off: the `tensorboard` package is not installed "
              "(pip install tensorboard); metrics.jsonl is still written.", file=sys.stderr)
        return None
    # purge_step drops events after the resumed step, as the JSONL file does.
    purge = resume_step + 1 if resume_step is not None else None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge)


# --------------------------------------------------------------------------------------------
# Progress postfix and the end-of-run summary
# --------------------------------------------------------------------------------------------

def format_postfix(latest: dict) -> dict[str, str]:
    """Short strings for `tqdm.set_postfix` from `MetricsLogger.latest`.

    stage, reward, zero-std fraction, mean completion length, then the pool and what the
    last epoch boundary did (mixed / all-wrong kept, dropped as all-correct).
    """
    fields = (("stage", "stage", "{}"), ("reward", "reward", "{:.3f}"),
              ("zero_std_fraction", "zero_std", "{:.2f}"), ("completion_length", "len", "{:.0f}"),
              ("pool_size", "pool", "{}"), ("kept_mixed", "mixed", "{}"),
              ("kept_all_wrong", "wrong", "{}"), ("dropped_easy", "dropped", "{}"))
    return {short: fmt.format(latest[key]) for key, short, fmt in fields
            if latest.get(key) is not None}


def format_table(headers: list[str], rows: Iterable[list]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _mean(values: list) -> float | None:
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(values) / len(values) if values else None


def run_machines(records: list[dict]) -> str | None:
    """The machine(s) the run trained on, from its `machine` records in order ("A; then B"
    after a resume elsewhere); None for runs made before the trainer recorded it."""
    names = list(dict.fromkeys(r["machine"] for r in records if r.get("machine")))
    return "; then ".join(names) or None


def format_summary(records: list[dict]) -> str:
    """The end-of-run table from metrics records.

    Evaluation keys: first evaluation (usually the base model) vs last. Training keys: the
    mean over the first vs the last few steps (a quarter of the run, at most 10 steps).
    Then totals: steps, stages with their step ranges, generated tokens and where the time
    went.
    """
    train = [r for r in records if "reward" in r]
    evals = [r for r in records if any(k.startswith("eval/") for k in r)]
    lines = []
    if evals:
        first, last = evals[0], evals[-1]
        keys = sorted({k for r in evals for k in r if k.startswith("eval/")})
        rows = []
        for key in keys:
            start, end = first.get(key), last.get(key)
            change = end - start if start is not None and end is not None else None
            rows.append([key, start, end, f"{change:+.3f}" if change is not None else "-"])
        lines += [format_table([f"evaluation (step {first['step']} -> {last['step']})",
                                "start", "end", "change"], rows), ""]
    if train:
        window = max(1, min(10, len(train) // 4))
        keys = [k for k in ("reward", "accuracy", "reward/math", "reward/code",
                            "zero_std_fraction", "completion_length", "truncation_rate")
                if any(k in r for r in train)]
        rows = [[key, _mean([r.get(key) for r in train[:window]]),
                 _mean([r.get(key) for r in train[-window:]])] for key in keys]
        lines += [format_table([f"training (mean of first / last {window} steps)", "first",
                                "last"], rows), ""]
    lines += _totals(records, train)
    return "\n".join(lines).rstrip() + "\n"


def _totals(records: list[dict], train: list[dict]) -> list[str]:
    steps = max((r.get("step", 0) for r in records), default=0)
    stages: dict[str, list[int]] = {}
    for r in train:
        if r.get("stage") is not None:
            stages.setdefault(r["stage"], []).append(r["step"])
    stage_text = ", ".join(f"{name} (steps {min(s)}-{max(s)})" for name, s in stages.items())
    tokens = max((r.get("cumulative_generated_tokens") or 0 for r in records), default=0)
    times = {part: sum(r.get(f"time_{part}") or 0.0 for r in records)
             for part in ("generate", "verify", "train", "eval")}
    total = sum(times.values())
    time_text = ", ".join(f"{part} {seconds:.0f}s ({seconds / total:.0%})"
                          for part, seconds in times.items() if seconds) if total else "-"
    # Every step logs its epoch's boundary stats, so count each epoch once.
    per_epoch = {r.get("epoch", r.get("step")): r.get("dropped_easy") or 0 for r in records
                 if "dropped_easy" in r}
    dropped = sum(per_epoch.values())
    pool = next((r["pool_size"] for r in reversed(records) if r.get("pool_size") is not None),
                None)
    lines = [f"steps: {steps}" + (f"   stages: {stage_text}" if stage_text else ""),
             f"generated tokens: {tokens:,}   time: {time_text}"]
    if pool is not None:
        lines.append(f"final pool: {pool} prompts   dropped as all-correct over the run: "
                     f"{dropped}")
    machines = run_machines(records)
    if machines:
        lines.append(f"machine: {machines}")
    weaker = next((r["code_isolation"] for r in records if r.get("code_isolation")), None)
    if weaker is not None:
        lines.append(f"code sandbox: weaker isolation level {weaker!r} (SRPO_SANDBOX_ISOLATION)")
    return lines
