"""The problem schema shared by both domains, its validation, and loading from files.

One record type serves math and code so that every later stage (resampling, rewards,
evaluation) handles a single shape of data:

    id          str, unique and stable (it keys the resampling history)
    domain      "math" | "code"
    prompt      str, the problem statement (without the prompt template)
    answer      str, math only: the gold answer, LaTeX allowed
    tests       dict, code only: call-, stdin- or assert-based; the code verifier owns
                this format (`verifiers/code_spec.py` lists the three layouts)
    difficulty  int, optional
    source      str, optional

Validation is all-or-nothing: `load_problems` checks every row of every file and raises
one `DataError` naming the file, the 1-based row number and the field at fault before
anything is returned, so a run never starts on half a dataset.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

# The code verifier owns the test spec (and the error type); `test_kind` is re-exported.
from srpo_mini.verifiers.code_spec import (DataError, check_type, test_kind,  # noqa: F401
                                           validate_tests)

DOMAINS = ("math", "code")
OPTIONAL_FIELDS = ("difficulty", "source")


@dataclass(frozen=True)
class Problem:
    """One training or evaluation problem (math or code)."""

    id: str
    domain: str
    prompt: str
    answer: str | None = None
    tests: dict | None = None
    difficulty: int | None = None
    source: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        """The record as a plain dict in the schema (no `extra`, no None fields)."""
        record = asdict(self)
        record.pop("extra")
        return {k: v for k, v in record.items() if v is not None}


def validate_record(record: Any) -> Problem:
    """Check one raw record against the schema and return it as a `Problem`.

    Raises `DataError` naming the field at fault (the caller adds file and row).
    """
    check_type(record, dict, None, "a JSON object")
    for key in ("id", "domain", "prompt"):
        if key not in record or record[key] is None:
            raise DataError("missing", field=key)
    problem_id = record["id"]
    # Integer ids are common in hub datasets; they are stable, so accept and stringify.
    check_type(problem_id, (str, int), "id", "a string")
    problem_id = str(problem_id)
    if not problem_id.strip():
        raise DataError("is empty", field="id")
    check_type(record["domain"], str, "domain", "a string")
    if record["domain"] not in DOMAINS:
        raise DataError(f"unknown domain {record['domain']!r}; expected one of {DOMAINS}",
                        field="domain")
    check_type(record["prompt"], str, "prompt", "a string")
    if not record["prompt"].strip():
        raise DataError("is empty", field="prompt")

    answer, tests = record.get("answer"), record.get("tests")
    if record["domain"] == "math":
        if answer is None:
            raise DataError("missing (a math problem needs a gold answer)", field="answer")
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        check_type(answer, str, "answer", "a string")
        if not answer.strip():
            raise DataError("is empty", field="answer")
    else:
        tests = validate_tests(tests)  # a JSON string is parsed

    difficulty = record.get("difficulty")
    if difficulty is not None:
        check_type(difficulty, int, "difficulty", "an integer")
    source = record.get("source")
    if source is not None:
        check_type(source, str, "source", "a string")
    known = {"id", "domain", "prompt", "answer", "tests", *OPTIONAL_FIELDS}
    extra = {k: v for k, v in record.items() if k not in known}
    return Problem(id=problem_id, domain=record["domain"], prompt=record["prompt"],
                   answer=answer if record["domain"] == "math" else None,
                   tests=tests if record["domain"] == "code" else None,
                   difficulty=difficulty, source=source, extra=extra)


def validate_records(records: Iterable[Any], *, file: str = "<records>",
                     seen_ids: dict[str, tuple[str, int]] | None = None) -> list[Problem]:
    """Validate every record (rows numbered from 1); raise on the first fault, return all.

    `seen_ids` maps id -> (file, row) across several files so duplicates between files
    are caught too.
    """
    seen_ids = {} if seen_ids is None else seen_ids
    problems = []
    for row, record in enumerate(records, start=1):
        try:
            problem = validate_record(record)
        except DataError as err:
            raise DataError(err.reason, file=file, row=row, field=err.field) from None
        if problem.id in seen_ids:
            first_file, first_row = seen_ids[problem.id]
            raise DataError(f"duplicate id {problem.id!r} (first seen in {first_file}, "
                            f"row {first_row})", file=file, row=row, field="id")
        seen_ids[problem.id] = (file, row)
        problems.append(problem)
    return problems


def read_rows(path: str | Path) -> list[Any]:
    """Read the raw rows of a JSONL, JSON (list of objects) or Parquet file."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        with path.open(encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        while lines and not lines[-1].strip():  # trailing blank lines are harmless
            lines.pop()
        for row, line in enumerate(lines, start=1):
            if not line.strip():
                raise DataError("blank line (JSONL needs one object per line)",
                                file=str(path), row=row)
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"malformed JSON: {err.msg} at column {err.colno}",
                                file=str(path), row=row) from None
        return rows
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"malformed JSON: {err.msg} at line {err.lineno}, "
                            f"column {err.colno}", file=str(path)) from None
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]
        if not isinstance(data, list):
            raise DataError("a JSON dataset must be a list of objects", file=str(path))
        return data
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # installed with `datasets`

        try:
            table = pq.read_table(path)
        except Exception as err:  # pyarrow raises several types for a corrupt file
            raise DataError(f"unreadable Parquet file: {err}", file=str(path)) from None
        return table.to_pylist()
    raise DataError(f"unsupported file type {suffix!r}; use .jsonl, .json or .parquet",
                    file=str(path))


def load_problems(paths: str | Path | Iterable[str | Path]) -> list[Problem]:
    """Load and validate one or more dataset files; all-or-nothing.

    Returns the problems in file order. Raises `DataError` (file, row, field) on the
    first bad row of any file, before returning anything.
    """
    return [problem for _, problems in load_problem_files(paths) for problem in problems]


def load_problem_files(paths: str | Path | Iterable[str | Path]) -> list[tuple[str, list[Problem]]]:
    """`load_problems` kept per file: (file name, its problems) in order, each file read once
    and ids unique across all of them; for checks whose messages name the file."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    seen: dict[str, tuple[str, int]] = {}
    return [(str(path), validate_records(read_rows(path), file=str(path), seen_ids=seen))
            for path in paths]


def write_jsonl(problems: Iterable[Problem], path: str | Path) -> Path:
    """Write problems as schema JSONL (atomically: a temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def counts_by(problems: Iterable[Problem]) -> dict[str, Counter]:
    """Counts per domain and per (domain, difficulty), for reports like `check-data`."""
    per_domain: Counter = Counter()
    per_level: Counter = Counter()
    for problem in problems:
        per_domain[problem.domain] += 1
        per_level[(problem.domain, problem.difficulty)] += 1
    return {"domain": per_domain, "difficulty": per_level}


def to_dataset(problems: Iterable[Problem]):
    """The problems as a `datasets.Dataset` in the schema (tests stored as JSON strings).

    Arrow needs one type per column; call, stdin and assert tests differ in shape, so
    `tests` is a JSON string column, which `validate_record` accepts back.
    """
    import datasets

    rows = []
    for problem in problems:
        rows.append({
            "id": problem.id, "domain": problem.domain, "prompt": problem.prompt,
            "answer": problem.answer,
            "tests": json.dumps(problem.tests) if problem.tests is not None else None,
            "difficulty": problem.difficulty, "source": problem.source,
        })
    features = datasets.Features({
        "id": datasets.Value("string"), "domain": datasets.Value("string"),
        "prompt": datasets.Value("string"), "answer": datasets.Value("string"),
        "tests": datasets.Value("string"), "difficulty": datasets.Value("int64"),
        "source": datasets.Value("string"),
    })
    return datasets.Dataset.from_list(rows, features=features)


def from_dataset(dataset, *, name: str = "<dataset>") -> list[Problem]:
    """Validate the rows of a `datasets.Dataset` (or any iterable of dicts) in the schema."""
    return validate_records(({k: v for k, v in row.items() if v is not None} for row in dataset),
                            file=name)
