"""`srpo-mini check-data`: counts on good files, a non-zero exit and the message on bad ones;
math golds the verifier cannot read are counted by kind and named by file and row; loading
such a file for training raises, or drops those rows with their count when asked.

Runs the command through `srpo_mini.cli.main`, as the console script does, on JSONL,
JSON and Parquet files written in a temporary directory.

Run: python -m pytest tests/test_check_data.py -q
"""

from __future__ import annotations

import json

import pytest

from srpo_mini.cli import main
from srpo_mini.config import DataConfig
from srpo_mini.data.schema import DataError, Problem, to_dataset
from srpo_mini.data.sources import load_run_problems


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


MATH_ROWS = [{"id": f"m{i}", "domain": "math", "prompt": f"{i} + 1 = ?", "answer": str(i + 1),
              "difficulty": i % 3 + 1} for i in range(5)]
CODE_PROBLEMS = [
    Problem("c1", "code", "Echo the input.", tests={"cases": [{"input": "a", "output": "a"}]},
            difficulty=1),
    Problem("c2", "code", "Write f.", tests={"fn_name": "f", "cases": [{"args": [],
                                                                       "expected": 1}]}),
]


def test_counts_per_domain_and_difficulty(tmp_path, capsys):
    """Three formats at once: exit 0 and the exact table of counts."""
    math_file = write_jsonl(tmp_path / "math.jsonl", MATH_ROWS[:3])
    json_file = tmp_path / "more_math.json"
    json_file.write_text(json.dumps(MATH_ROWS[3:]))
    code_file = tmp_path / "code.parquet"
    to_dataset(CODE_PROBLEMS).to_parquet(str(code_file))
    capsys.readouterr()  # drop the progress bar of to_parquet

    code = main(["check-data", str(math_file), str(json_file), str(code_file)])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    # math difficulties: i % 3 + 1 for i = 0..4 -> 1, 2, 3, 1, 2
    assert out.splitlines() == [
        "7 problems",
        "  code        2",
        "    difficulty 1          1",
        "    difficulty -          1",
        "  math        5",
        "    difficulty 1          2",
        "    difficulty 2          2",
        "    difficulty 3          1",
        "math golds: 5 of 5 readable (math 5)",
    ]


BAD = [
    # rows of the file,                                              stderr message
    (MATH_ROWS[:1] + [{"id": "m9", "domain": "math", "prompt": "?"}],
     "row 2, field 'answer': missing (a math problem needs a gold answer)"),
    (MATH_ROWS[:2] + [{**MATH_ROWS[0], "prompt": "again"}],
     "row 3, field 'id': duplicate id 'm0'"),
    ([{"id": "c", "domain": "code", "prompt": "?", "tests": {"cases": []}}],
     "row 1, field 'tests.cases': is empty"),
    ([{"id": "x", "domain": "poetry", "prompt": "?"}],
     "row 1, field 'domain': unknown domain 'poetry'"),
]


@pytest.mark.parametrize("rows, message", BAD)
def test_bad_file_exits_non_zero_with_the_message(rows, message, tmp_path, capsys):
    """Exit code 1, nothing on stdout, one error line naming file, row and field."""
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    code = main(["check-data", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith(f"error: {path}, {message}")
    assert len(err.strip().splitlines()) == 1


def test_unreadable_math_golds_are_named_with_file_and_row(tmp_path, capsys):
    """Golds the math verifier cannot read (rows 2 and 4): counted on stdout, one error
    line each on stderr with file, row and gold, exit code 1; a word gold is readable."""
    rows = [{**MATH_ROWS[0]},
            {"id": "u1", "domain": "math", "prompt": "?", "answer": r"1 + \sum_{n=0}^{\infty} x^n"},
            {"id": "w1", "domain": "math", "prompt": "?", "answer": r"\text{Monday}"},
            {"id": "u2", "domain": "math", "prompt": "?", "answer": "5 4.6"}]
    path = write_jsonl(tmp_path / "golds.jsonl", rows)
    assert main(["check-data", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == ("math golds: 2 of 4 readable (math 1, words 1, notation "
                                    "unsupported: juxtaposed values 1, notation unsupported: "
                                    "series inside an expression 1)")
    errors = err.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {path}, row 2, field 'answer': the math verifier "
                                r"cannot read the gold answer '1 + \\sum_{n=0}^{\\infty} x^n'")
    assert errors[1].startswith(f"error: {path}, row 4, field 'answer': ")
    assert "'5 4.6' (notation unsupported: juxtaposed values; gold not parsed: " in errors[1]


def test_loading_for_training_raises_or_drops_unreadable_golds(tmp_path):
    """Loading a dataset for training: a gold the verifier cannot read is a DataError naming
    file, row and gold; with data.drop_ungradable_golds those rows are dropped and counted by kind."""
    rows = [*MATH_ROWS[:2],
            {"id": "u1", "domain": "math", "prompt": "?", "answer": r"1 + \sum_{n=0}^{\infty} x^n"},
            {"id": "u2", "domain": "math", "prompt": "?",
             "answer": "The rocket reaches its maximum height of 500 feet 10 seconds after."}]
    path = write_jsonl(tmp_path / "golds.jsonl", rows)
    data = DataConfig(train_files=[str(path)])
    with pytest.raises(DataError) as info:
        load_run_problems(data)
    message = str(info.value)
    assert message.startswith(f"{path}, row 3, field 'answer': the math verifier cannot read "
                              r"the gold answer '1 + \\sum_{n=0}^{\\infty} x^n' (notation "
                              "unsupported: series inside an expression; "), message
    assert "2 of 4 math golds here cannot" in message
    with pytest.warns(UserWarning) as caught:
        train, _ = load_run_problems(DataConfig(train_files=[str(path)],
                                                drop_ungradable_golds=True))
    assert [p.id for p in train] == ["m0", "m1"]
    assert [str(w.message) for w in caught] == [
        f"{path}: dropped 2 of 4 math problems whose gold answer the math verifier cannot "
        "read (free text 1, notation unsupported: series inside an expression 1)"]


@pytest.mark.parametrize("drop", [False, True])
def test_training_files_are_read_once_each_and_errors_name_the_file(tmp_path, monkeypatch,
                                                                     drop):
    """Several training files: each is read once (checked or dropping); a bad gold in the
    second is named by that file and its own row; an id repeated across files is caught
    before any gold is checked."""
    from srpo_mini.data import schema

    first = write_jsonl(tmp_path / "a.jsonl", MATH_ROWS[:2])
    second = write_jsonl(tmp_path / "b.jsonl", [
        {"id": "b1", "domain": "math", "prompt": "?", "answer": "7"},
        {"id": "b2", "domain": "math", "prompt": "?", "answer": "a proof is left to you"}])
    reads = []
    real = schema.read_rows
    monkeypatch.setattr(schema, "read_rows", lambda path: reads.append(str(path)) or real(path))
    data = DataConfig(train_files=[str(first), str(second)], drop_ungradable_golds=drop)
    if drop:
        with pytest.warns(UserWarning, match=f"^{second}: dropped 1 of 2 math problems"):
            train, _ = load_run_problems(data)
        assert [p.id for p in train] == ["m0", "m1", "b1"]
    else:
        with pytest.raises(DataError, match=f"^{second}, row 2, field 'answer': "):
            load_run_problems(data)
    assert reads == [str(first), str(second)]
    clash = write_jsonl(tmp_path / "c.jsonl", [{**MATH_ROWS[0], "answer": "a proof"}])
    with pytest.raises(DataError, match=f"^{clash}, row 1, field 'id': .*{MATH_ROWS[0]['id']}"):
        load_run_problems(DataConfig(train_files=[str(first), str(clash)],
                                     drop_ungradable_golds=drop))


def test_malformed_line_and_missing_file(tmp_path, capsys):
    """A broken JSON line is named by row; a missing second file fails the whole check."""
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(MATH_ROWS[0]) + "\n{\"id\": \n")
    assert main(["check-data", str(path)]) == 1
    assert f"error: {path}, row 2: malformed JSON" in capsys.readouterr().err

    good = write_jsonl(tmp_path / "good.jsonl", MATH_ROWS)
    assert main(["check-data", str(good), str(tmp_path / "absent.jsonl")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == f"error: {tmp_path / 'absent.jsonl'}: file not found"


def test_needs_at_least_one_file(capsys):
    """No file is a usage error (argparse exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["check-data"])
    assert info.value.code == 2
    assert "FILE" in capsys.readouterr().err
