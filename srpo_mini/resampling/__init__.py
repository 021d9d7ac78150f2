"""Which prompts a step trains on: history resampling (SRPO) and its baselines.

    strategies.py   Resampler (`none`, vanilla GRPO), HistoryResampling (`srpo`),
                    DynamicSampling (`dapo`), make_resampler, resampler_from_config
    pool.py         PromptPool: the stage's problems in epoch order, the epoch boundary
    collect.py      collect_groups: one step's sample/observe/filter/refill/merge

The ledger file these strategies' rows go to is `srpo_mini.ledger`; the rules in full
are in docs/resampling.md.
"""

from .collect import CollectedGroups, collect_groups, select_group_rows
from .pool import PromptPool
from .strategies import (
    RESAMPLERS,
    DynamicSampling,
    EpochStats,
    HistoryResampling,
    Resampler,
    make_resampler,
    resampler_from_config,
)

__all__ = ["RESAMPLERS", "CollectedGroups", "DynamicSampling", "EpochStats",
           "HistoryResampling", "PromptPool", "Resampler", "collect_groups",
           "make_resampler", "resampler_from_config", "select_group_rows"]
