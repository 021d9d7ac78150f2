"""`srpo-mini verify-math`: JSONL rows in, JSONL verdicts out.

Checks the row format ({id, gold, completion | answer} -> {id, correct, reason,
extracted}), files and stdin/stdout, order and ids, and that a bad row stops the command
with a message naming the line.

Run: python -m pytest tests/test_math_cli.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from srpo_mini.cli import main

ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    {"id": "a", "gold": r"\frac{3}{4}", "completion": r"<answer>\boxed{0.75}</answer>"},
    {"id": "b", "gold": "x = 5", "answer": "5"},
    {"id": 3, "gold": "4", "answer": r"4\sqrt{2}"},
    {"id": "d", "gold": "12", "completion": "I am not sure."},
    {"id": "e", "gold": r"(3, \infty)", "completion": r"so \boxed{x > 3}"},
]
EXPECTED = [
    {"id": "a", "correct": True, "extracted": "0.75"},
    {"id": "b", "correct": True, "extracted": "5"},
    {"id": 3, "correct": False, "extracted": r"4\sqrt{2}"},
    {"id": "d", "correct": False, "extracted": None},
    {"id": "e", "correct": True, "extracted": "x > 3"},
]


def _write_rows(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n", encoding="utf-8")


def test_files_in_files_out(tmp_path, capsys):
    """Each row gets its verdict in order, with its id; "completion" rows are extracted,
    "answer" rows are used as given; a summary goes to stderr."""
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_rows(source, ROWS)
    code = main(["verify-math", "--input", str(source), "--output", str(target)])
    assert code == 0
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [{k: row[k] for k in ("id", "correct", "extracted")} for row in out] == EXPECTED
    assert all(set(row) == {"id", "correct", "reason", "extracted"} for row in out)
    assert out[3]["reason"] == "no answer found"
    assert out[2]["reason"].startswith("unequal")
    assert "5 rows, 3 correct" in capsys.readouterr().err


def test_stdin_to_stdout():
    """The defaults read stdin and write stdout (a real subprocess, as a user runs it)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    stdin = "".join(json.dumps(row) + "\n" for row in ROWS[:2])
    done = subprocess.run([sys.executable, "-m", "srpo_mini.cli", "verify-math"],
                          input=stdin, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(row["id"], row["correct"]) for row in out] == [("a", True), ("b", True)]
    assert "2 rows, 2 correct" in done.stderr


def test_missing_id_defaults_to_line_number(tmp_path):
    """A row without an id is reported under its line number."""
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_rows(source, [{"gold": "2", "answer": "2.0"}])
    assert main(["verify-math", "--input", str(source), "--output", str(target)]) == 0
    row = json.loads(target.read_text(encoding="utf-8"))
    assert (row["id"], row["correct"]) == (1, True)


def test_bad_rows_name_the_line(tmp_path, capsys):
    """Broken input stops with exit code 2 and a message with file and line number."""
    cases = [
        ("{not json", "not JSON"),
        (json.dumps({"id": 1, "answer": "2"}), "field 'gold' must be a string"),
        (json.dumps({"id": 1, "gold": "2"}), "exactly one of 'completion' or 'answer'"),
        (json.dumps({"id": 1, "gold": "2", "answer": "2", "completion": "2"}),
         "exactly one of 'completion' or 'answer'"),
        (json.dumps([1, 2]), "a row must be a JSON object"),
    ]
    for bad, message in cases:
        source = tmp_path / "bad.jsonl"
        source.write_text(json.dumps(ROWS[1]) + "\n" + bad + "\n", encoding="utf-8")
        code = main(["verify-math", "--input", str(source), "--output",
                     str(tmp_path / "out.jsonl")])
        err = capsys.readouterr().err
        assert code == 2
        assert f"{source}:2:" in err and message in err, err


def test_missing_input_file(tmp_path, capsys):
    """A missing input file is an error message (exit 2), not a traceback."""
    code = main(["verify-math", "--input", str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_timeout_and_workers_flags(tmp_path):
    """--timeout and --workers reach the verifier (a slow row times out at the limit)."""
    slow_gold = ", ".join(rf"\sin(x^{{{9000 + k}}})" for k in range(64))
    slow_answer = ", ".join(reversed(
        [rf"\sin(x^{{{9000 + k}}})" for k in range(63)] + [r"\sin(x)"]))
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_rows(source, [{"id": "slow", "gold": slow_gold, "answer": slow_answer},
                         {"id": "fast", "gold": "1/2", "answer": "0.5"}])
    code = main(["verify-math", "--input", str(source), "--output", str(target),
                 "--timeout", "0.5", "--workers", "1"])
    assert code == 0
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert out[0]["reason"] == "timeout: no verdict within 0.5 s"
    assert (out[1]["id"], out[1]["correct"]) == ("fast", True)
