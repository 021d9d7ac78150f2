"""The history ledger: one JSONL row per observed group, beside the run's metrics.

Each row says how many of a prompt's G rollouts were correct, in which epoch and stage:

    {"prompt_id": ..., "epoch": e, "stage": ..., "correct": c, "group_size": G, "step": s}

The resampler builds the rows (`Resampler.observe`); the trainer adds the 1-based `step`
(the TRL integration writes no step). The plots read the ledger for the per-prompt
pass-rate heatmap; `LedgerWriter` truncates it to a checkpoint's row count on resume, so a
resumed run's ledger equals an uninterrupted run's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

LEDGER_FILE = "ledger.jsonl"      # in the run directory, beside metrics.jsonl
LEDGER_FIELDS = ("prompt_id", "epoch", "stage", "correct", "group_size")


class LedgerWriter:
    """Appends history-ledger rows to a JSONL file, one row per observed group.

    resume_rows: None starts a new file; an int (the `rows` stored in a checkpoint) keeps
    that many rows and discards any written after the checkpoint, so a resumed run's
    ledger equals an uninterrupted run's.
    """

    def __init__(self, path: str | Path, *, resume_rows: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if resume_rows is not None and self.path.exists():
            kept = self.path.read_text(encoding="utf-8").splitlines(keepends=True)[:resume_rows]
            if len(kept) < resume_rows:
                raise ValueError(f"{self.path}: {len(kept)} ledger rows, checkpoint expects "
                                 f"{resume_rows}")
        self.path.write_text("".join(kept), encoding="utf-8")
        self.rows = len(kept)

    def write(self, rows: Sequence[dict]) -> None:
        """Append `rows` (dicts with LEDGER_FIELDS) and flush."""
        write_ledger(self.path, rows)
        self.rows += len(rows)


def write_ledger(path: str | Path, rows: Sequence[dict]) -> None:
    """Append ledger rows to a JSONL file (created if absent).

    Each row needs LEDGER_FIELDS, written first; extra keys a caller adds (e.g. the
    trainer's `step`) follow.
    """
    for row in rows:   # check all before writing any, so the file stays whole
        missing = [k for k in LEDGER_FIELDS if k not in row]
        if missing:
            raise ValueError(f"ledger row {row} lacks {missing}")
    with Path(path).open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({**{k: row[k] for k in LEDGER_FIELDS}, **row}) + "\n")


def read_ledger(path: str | Path, *, skip_torn: bool = False) -> list[dict]:
    """All rows of a ledger file.

    A line that is not a JSON object with every LEDGER_FIELDS key raises ValueError naming
    the file and line; with `skip_torn=True` such lines are skipped instead (plots of a run
    that is still writing, or was killed mid-line).
    """
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict) and all(k in row for k in LEDGER_FIELDS):
                rows.append(row)
            elif not skip_torn:
                raise ValueError(f"{path}, line {number}: not a ledger row (a JSON object "
                                 f"with {', '.join(LEDGER_FIELDS)})")
    return rows
