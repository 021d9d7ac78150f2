"""The `srpo-mini` command line as a whole: the exit-code convention shown by `--help`
(bad input 2, an output that cannot be written 1), the JSONL reader every row-reading
command uses, and that both verifier commands answer the same kind of bad input alike
(exit 2, a message "FILE:LINE: ..."). Each command's own
rows and verdicts are tested beside its module (test_math_cli.py, test_code_verifier.py,
test_check_data.py, test_plots.py, test_synthetic.py).

Run: python -m pytest tests/test_cli.py -q
"""

from __future__ import annotations

import json

import pytest

from srpo_mini.cli import (COMMANDS, EXIT_BAD_INPUT, BadInput, build_parser, main,
                           read_jsonl, verify_by_kind)

GOOD_ROWS = {  # one valid row per verifier command; no row here runs (bad input stops first)
    "verify-math": {"id": "a", "gold": "2", "answer": "2"},
    "verify-code": {"id": "a", "tests": {"fn_name": "f", "cases": [{"args": [], "expected": 1}]},
                    "program": "def f():\n    return 1\n"},
}
# (kind of bad input, line 2 of the file made from the good row, the message's words)
BAD_LINES = [
    ("not JSON", lambda good: "{not json", "not JSON"),
    ("not an object", lambda good: "[1, 2]", "a row must be a JSON object"),
    ("nothing to verify", lambda good: json.dumps(
        {k: v for k, v in good.items() if k not in ("answer", "program")}), "exactly one of"),
    ("both things to verify", lambda good: json.dumps(
        {**good, "completion": "<answer>2</answer>"}), "exactly one of"),
]


@pytest.mark.parametrize("kind, make_line, message", BAD_LINES, ids=[k for k, *_ in BAD_LINES])
def test_both_verifier_commands_reject_a_bad_row_alike(tmp_path, capsys, kind, make_line,
                                                       message):
    """The same kind of bad row: both commands exit 2 naming file and line, write nothing."""
    for command, good in GOOD_ROWS.items():
        source, target = tmp_path / f"{command}.jsonl", tmp_path / f"{command}.out"
        source.write_text(json.dumps(good) + "\n" + make_line(good) + "\n", encoding="utf-8")
        code = main([command, "--input", str(source), "--output", str(target)])
        err = capsys.readouterr().err
        assert code == EXIT_BAD_INPUT == 2, (command, err)
        assert f"error: {source}:2: " in err and message in err, (command, err)
        assert not target.exists(), command


def test_both_verifier_commands_reject_a_missing_file_alike(tmp_path, capsys):
    """A missing input file: exit 2 and one line naming it, from both (not a traceback)."""
    for command in GOOD_ROWS:
        missing = tmp_path / f"{command}-absent.jsonl"
        assert main([command, "--input", str(missing)]) == 2, command
        err = capsys.readouterr().err
        assert err.strip() == f"error: cannot read {missing}: No such file or directory", err


def test_an_output_that_cannot_be_written_is_a_failure(tmp_path, capsys):
    """Good input, but the output path is a directory: exit 1 (not bad input), named."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(GOOD_ROWS["verify-math"]) + "\n", encoding="utf-8")
    assert main(["verify-math", "--input", str(source), "--output", str(tmp_path)]) == 1
    assert f"error: cannot write {tmp_path}: Is a directory" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys):
    """`srpo-mini --help` and every command's --help end with the same exit-code table."""
    for argv in (["--help"], *([name, "--help"] for name in COMMANDS)):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "exit codes (every command):" in out, argv
        for code in ("0  done", "1  done or stopped, with a failure", "2  bad usage or input"):
            assert code in out, (argv, code)


def test_no_command_and_unknown_option_are_usage_errors(capsys):
    """No command prints the help and exits 2; argparse's own usage errors exit 2 too."""
    assert main([]) == 2
    assert "exit codes" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["verify-math", "--no-such-option"])
    assert done.value.code == 2


def test_read_jsonl_skips_blank_lines_and_lets_the_check_fill_defaults(tmp_path):
    """Rows come back in order, blank lines skipped; check_row sees each row's line number
    and may fill a default; its ValueError becomes BadInput naming file and line."""
    path = tmp_path / "rows.jsonl"
    path.write_text('{"x": 1}\n\n   \n{"x": 2, "id": "k"}\n{"x": "three"}\n', encoding="utf-8")
    seen = []

    def check(row, line):
        seen.append(line)
        row.setdefault("id", line)

    assert read_jsonl(str(path), check) == [{"x": 1, "id": 1}, {"x": 2, "id": "k"},
                                            {"x": "three", "id": 5}]
    assert seen == [1, 4, 5]

    def numbers_only(row, line):
        if not isinstance(row["x"], int):
            raise ValueError("field 'x' must be a number")

    with pytest.raises(BadInput, match=rf"^{path}:5: field 'x' must be a number$"):
        read_jsonl(str(path), numbers_only)


def test_verify_by_kind_keeps_the_row_order():
    """Rows of two kinds, interleaved: each kind is verified in one call, in its own order,
    and the results come back in the rows' order."""
    rows = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}, {"k": "b", "v": 4}]
    calls = []

    def verify(group, kind):
        calls.append((kind, [r["v"] for r in group]))
        return [f"{kind}{r['v']}" for r in group]

    assert verify_by_kind(rows, lambda r: r["k"], verify) == ["a1", "b2", "a3", "b4"]
    assert calls == [("a", [1, 3]), ("b", [2, 4])]
    assert verify_by_kind([], lambda r: r["k"], verify) == [] and len(calls) == 2
