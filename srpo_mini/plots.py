"""The figures of a run: `srpo-mini plot RUN_DIR` writes PNGs into RUN_DIR/plots/.

Read from `metrics.jsonl` (keys documented in `srpo_mini.metrics.METRIC_KEYS`) and from the
history ledger `ledger.jsonl` (one row per prompt sampled in an epoch:
`{prompt_id, epoch, stage, correct, group_size}`):

    reward.png             training reward (overall, per domain) vs cumulative generated tokens
    eval.png               held-out pass@1 and greedy accuracy per domain vs generated tokens
    completion_length.png  mean completion length (overall, per domain) and truncation rate
    zero_std.png           fraction of groups with equal rewards (no signal) vs step
    pool.png               pool size per epoch, and what each boundary kept and dropped
    pass_rate_heatmap.png  each prompt's pass rate (correct / G) by epoch; grey = not sampled

Stage switches are drawn as dashed vertical lines; each figure's footer names the machine
the run trained on (its `machine` records). Generated tokens, not steps, are the x-axis of
the reward and evaluation curves because they are what a step costs: history resampling
saves rollouts, DAPO's dynamic sampling spends extra ones.

Rendering goes through matplotlib's Agg canvas (`matplotlib.figure.Figure`, no pyplot), so it
needs no display and leaves the caller's pyplot state alone. matplotlib comes with the `plot`
extra: `pip install 'srpo_mini[plot]'`.

Differences from the paper: the paper's figures are reward, response length and benchmark
accuracy against training steps; the per-prompt heatmap and the pool plot are added to show
history resampling at work.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .data.schema import DOMAINS
from .ledger import LEDGER_FILE, read_ledger
from .metrics import METRICS_FILE, read_metrics, run_machines

PLOTS_DIR = "plots"
_MISSING_MATPLOTLIB = ("srpo-mini plot needs matplotlib, which is not installed: "
                       "pip install 'srpo_mini[plot]'")


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Draw every figure the run's files have data for.

    Args:
        run_dir: a run directory with metrics.jsonl (and optionally ledger.jsonl).
        out_dir: where the PNGs go (default `run_dir/plots`).
    Returns:
        the written PNG paths; a figure without data is skipped with a note on stderr.
    Raises:
        ImportError with install instructions when matplotlib is missing.
    """
    try:
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise ImportError(_MISSING_MATPLOTLIB) from None
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / PLOTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_metrics(run_dir / METRICS_FILE)
    ledger_path = run_dir / LEDGER_FILE
    ledger = read_ledger(ledger_path, skip_torn=True) if ledger_path.is_file() else []
    train = [r for r in records if r.get("reward") is not None or "zero_std_fraction" in r]
    figures = {
        "reward.png": lambda: plot_reward(train),
        "eval.png": lambda: plot_eval(records),
        "completion_length.png": lambda: plot_completion_length(train),
        "zero_std.png": lambda: plot_zero_std(train),
        "pool.png": lambda: plot_pool(records),
        "pass_rate_heatmap.png": lambda: plot_pass_rate_heatmap(ledger),
    }
    machines = run_machines(records)
    written = []
    for name, draw in figures.items():
        figure = draw()
        if figure is None:
            print(f"plot: skipped {name} (no data for it in {run_dir})", file=sys.stderr)
            continue
        if machines:  # timings depend on it; tokens and accuracies do not
            figure.supxlabel(f"trained on {machines}", fontsize=7, color="gray")
        figure.savefig(out_dir / name, dpi=110)
        written.append(out_dir / name)
    return written


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _figure(width: float = 7.0, height: float = 4.0):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def _series(records: list[dict], key: str, x_key: str = "step") -> tuple[list, list]:
    """(x, y) of the records holding both keys with non-null values."""
    pairs = [(r[x_key], r[key]) for r in records
             if r.get(key) is not None and r.get(x_key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to `window` values (shorter at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _stage_starts(train: list[dict]) -> list[tuple[int, str]]:
    """(first step, stage name) of each stage after the first."""
    starts, previous = [], None
    for r in train:
        stage = r.get("stage")
        if stage is not None and previous is not None and stage != previous:
            starts.append((r["step"], stage))
        previous = stage if stage is not None else previous
    return starts


def _tokens_at(records: list[dict]):
    """step -> cumulative generated tokens at the end of that step (0 before training)."""
    table = {0: 0}
    for r in records:
        if r.get("cumulative_generated_tokens") is not None:
            table[r["step"]] = r["cumulative_generated_tokens"]
    return lambda step: table.get(step, table[max(s for s in table if s <= step)])


def _epoch_ticks(ax, labels: list[str]) -> None:
    """One tick per epoch column, slanted when there are more than a few."""
    slant = len(labels) > 4
    ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=30 if slant else 0,
                  ha="right" if slant else "center")


def _mark_stages(ax, train: list[dict], to_x=None) -> None:
    """Dashed vertical lines where a new stage begins, labelled with its name."""
    for step, stage in _stage_starts(train):
        x = to_x(step - 1) if to_x else step - 0.5
        ax.axvline(x, color="0.3", linestyle="--", linewidth=1)
        ax.annotate(f" {stage}", (x, 1.0), xycoords=("data", "axes fraction"),
                    va="top", fontsize=8, color="0.3")


# --------------------------------------------------------------------------------------------
# Figures (each returns a Figure, or None when the records hold no data for it)
# --------------------------------------------------------------------------------------------

def plot_reward(train: list[dict]):
    """Training reward (faint: per step; solid: moving average) vs cumulative generated tokens."""
    x_key = "cumulative_generated_tokens"
    if not _series(train, "reward", x_key)[0]:
        return None
    figure, ax = _figure()
    window = max(1, len(train) // 20)
    for key, color in (("reward", "black"), *((f"reward/{d}", c) for d, c in
                                               zip(DOMAINS, ("tab:blue", "tab:orange")))):
        x, y = _series(train, key, x_key)
        if not x:
            continue
        if window > 1:
            ax.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(x, moving_average(y, window), color=color, label=key)
    _mark_stages(ax, train, _tokens_at(train))
    smoothing = f" (moving average of {window} steps)" if window > 1 else ""
    ax.set(xlabel="cumulative generated tokens", ylabel="mean reward",
           title=f"Training reward vs generated tokens{smoothing}")
    ax.legend(fontsize=8)
    return figure


def plot_eval(records: list[dict]):
    """Held-out pass@1 (solid) and greedy accuracy (dashed) per domain vs generated tokens."""
    evals = [r for r in records if any(k.startswith("eval/") for k in r)]
    if not evals:
        return None
    to_tokens = _tokens_at(records)
    figure, ax = _figure()
    for domain, color in zip(DOMAINS, ("tab:blue", "tab:orange")):
        for metric, style in (("pass@1", "-o"), ("greedy_accuracy", "--s")):
            key = f"eval/{domain}/{metric}"
            points = [(to_tokens(r["step"]), r[key]) for r in evals if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), style, color=color, label=key, markersize=4)
    _mark_stages(ax, [r for r in records if "reward" in r], to_tokens)
    ax.set(xlabel="cumulative generated tokens", ylabel="held-out accuracy", ylim=(0, 1),
           title="Evaluation vs generated tokens")
    ax.legend(fontsize=8)
    return figure


def plot_completion_length(train: list[dict]):
    """Mean completion length, overall and per domain (left axis), and truncation rate
    (right axis) vs step."""
    x, y = _series(train, "completion_length")
    if not x:
        return None
    figure, ax = _figure()
    ax.plot(x, y, color="tab:green", label="completion_length")
    domains = sorted({k.split("/", 1)[1] for r in train for k in r
                      if k.startswith("completion_length/")})
    for domain, style in zip(domains, (":", "--", "-.")):
        dx, dy = _series(train, f"completion_length/{domain}")
        ax.plot(dx, dy, style, color="tab:green", alpha=0.7, linewidth=0.8, label=domain)
    ax.set(xlabel="step", ylabel="mean completion tokens", title="Completion length")
    tx, ty = _series(train, "truncation_rate")
    if tx:
        twin = ax.twinx()
        twin.plot(tx, ty, color="tab:red", alpha=0.6, linewidth=0.8, label="truncation_rate")
        twin.set(ylabel="truncation rate", ylim=(0, 1))
        twin.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    _mark_stages(ax, train)
    return figure


def plot_zero_std(train: list[dict]):
    """Fraction of groups with all-equal rewards (zero advantage) vs step."""
    x, y = _series(train, "zero_std_fraction")
    if not x:
        return None
    figure, ax = _figure()
    window = max(1, len(x) // 20)
    if window > 1:
        ax.plot(x, y, color="tab:purple", alpha=0.3, linewidth=0.8)
    ax.plot(x, moving_average(y, window), color="tab:purple")
    smoothing = f" (moving average of {window} steps)" if window > 1 else ""
    ax.set(xlabel="step", ylabel="zero-std group fraction", ylim=(0, 1),
           title=f"Groups with equal rewards: no learning signal{smoothing}")
    _mark_stages(ax, train)
    return figure


def plot_pool(records: list[dict]):
    """Per epoch: pool size (line) and the boundary's kept-mixed / kept-all-wrong / dropped."""
    epochs: dict[tuple, dict] = {}
    for r in records:
        if r.get("pool_size") is None or r.get("epoch") is None:
            continue
        entry = epochs.setdefault((r.get("stage"), r["epoch"]), {})
        for key in ("pool_size", "kept_mixed", "kept_all_wrong", "dropped_easy"):
            if r.get(key) is not None and key not in entry:
                entry[key] = r[key]
    if not epochs:
        return None
    labels = [f"{stage}:{epoch}" if stage is not None else str(epoch) for stage, epoch in epochs]
    values = list(epochs.values())
    positions = range(len(values))
    figure, ax = _figure(max(6.0, 0.45 * len(values) + 2), 4.0)
    bottom = [0] * len(values)
    for key, color in (("kept_mixed", "tab:blue"), ("kept_all_wrong", "tab:orange"),
                       ("dropped_easy", "0.75")):
        heights = [v.get(key, 0) for v in values]
        if any(heights):
            ax.bar(positions, heights, bottom=bottom, color=color, label=key, width=0.7)
            bottom = [b + h for b, h in zip(bottom, heights)]
    ax.plot(positions, [v["pool_size"] for v in values], "k-o", markersize=4, label="pool_size")
    stages = [stage for stage, _ in epochs]
    for i in range(1, len(stages)):
        if stages[i] != stages[i - 1]:
            ax.axvline(i - 0.5, color="0.3", linestyle="--", linewidth=1)
    _epoch_ticks(ax, labels)
    ax.set(xlabel="stage:epoch", ylabel="prompts",
           title="Pool per epoch; bars: the preceding boundary's decisions")
    ax.legend(fontsize=8)
    return figure


def plot_pass_rate_heatmap(ledger: list[dict]):
    """Prompts (rows, hardest first) x epochs (columns): correct / G; grey = not in the batch."""
    if not ledger:
        return None
    import numpy as np
    from matplotlib import colormaps

    columns: dict[tuple, int] = {}
    totals: dict[tuple, list[float]] = {}
    for row in ledger:
        column = columns.setdefault((row.get("stage"), row["epoch"]), len(columns))
        cell = totals.setdefault((str(row["prompt_id"]), column), [0.0, 0.0])
        cell[0] += row["correct"]
        cell[1] += row["group_size"]
    prompts = sorted({p for p, _ in totals})
    rates = np.full((len(prompts), len(columns)), np.nan)
    index = {p: i for i, p in enumerate(prompts)}
    for (prompt, column), (correct, total) in totals.items():
        if total > 0:
            rates[index[prompt], column] = correct / total
    mean_rate = [float(np.mean(r[~np.isnan(r)])) if (~np.isnan(r)).any() else 0.0 for r in rates]
    order = sorted(range(len(prompts)), key=lambda i: (mean_rate[i], prompts[i]))
    rates = rates[order]

    figure, ax = _figure(max(5.0, 0.5 * len(columns) + 3), min(12.0, 3 + 0.04 * len(prompts)))
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(rates), aspect="auto", interpolation="nearest",
                      cmap=cmap, vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, label="pass rate (correct / group size)")
    keys = list(columns)
    _epoch_ticks(ax, [f"{s}:{e}" if s is not None else str(e) for s, e in keys])
    for i in range(1, len(keys)):
        if keys[i][0] != keys[i - 1][0]:
            ax.axvline(i - 0.5, color="white", linestyle="--", linewidth=1.5)
    if len(prompts) <= 40:
        ax.set_yticks(range(len(prompts)), [prompts[i] for i in order], fontsize=7)
    else:
        ax.set_yticks([])
    ax.set(xlabel="stage:epoch", ylabel=f"{len(prompts)} prompts (hardest at the top)",
           title="Per-prompt pass rate by epoch (grey: not sampled)")
    return figure

