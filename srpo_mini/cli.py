"""The `srpo-mini` command line: one subcommand per job, each with its own `--help`.

Every command lives here, next to its arguments: the library modules it calls know
nothing of command lines. Heavy imports (torch, transformers, the verifiers) happen inside
a handler, only when its command runs, so `--help` answers instantly. A handler takes the
parsed arguments and returns the exit code, or raises `BadInput` (exit 2) or
`CommandFailed` (exit 1) with the message to print; `main` is the one place that turns
them into exit codes (`EXIT_CODES`). Both verifier commands read their rows with
`read_jsonl` and write them with `write_jsonl`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_CODES = """\
exit codes (every command):
  0  done; verify-math and verify-code judged every row, whatever the verdicts
  1  done or stopped, with a failure: check-data found a fault in its files, training
     stopped with an error, the code sandbox cannot run, an output cannot be written,
     plot lacks matplotlib
  2  bad usage or input, nothing done: an unknown option, a missing or malformed input
     file or row, an invalid config value"""


class BadInput(Exception):
    """The command cannot use its input (exit 2); the message names the file and line."""


class CommandFailed(Exception):
    """The command stopped on a failure that is not its input's fault (exit 1)."""


# --- JSONL in and out ---------------------------------------------------------------------

def read_jsonl(path: str, check_row: Callable[[dict, int], None]) -> list[dict]:
    """The rows of a JSONL file ("-" reads stdin), blank lines skipped.

    Args:
        path: the file, or "-".
        check_row: called as check_row(row, line) on every row (a JSON object); it raises
            ValueError saying what is wrong, and may fill in defaults.
    Returns:
        the rows, in file order.
    Raises:
        BadInput "FILE:LINE: what is wrong" for the first bad row, or naming a file that
        cannot be read.
    """
    name = "<stdin>" if path == "-" else path
    try:
        source = nullcontext(sys.stdin) if path == "-" else open(path, encoding="utf-8")
    except OSError as err:
        raise BadInput(f"cannot read {path}: {err.strerror or err}") from None
    rows = []
    with source as lines:
        for line, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
                if not isinstance(row, dict):
                    raise ValueError("a row must be a JSON object")
                check_row(row, line)
            except json.JSONDecodeError as err:  # before ValueError: it is one
                raise BadInput(f"{name}:{line}: not JSON ({err.msg})") from None
            except ValueError as err:
                raise BadInput(f"{name}:{line}: {err}") from None
            rows.append(row)
    return rows


def write_jsonl(path: str, rows: list[dict]) -> None:
    """One JSON object per line to `path` ("-" writes stdout); CommandFailed if it cannot."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    try:
        if path == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
    except OSError as err:
        raise CommandFailed(f"cannot write {path}: {err.strerror or err}") from None


def verify_by_kind(rows: list[dict], kind: Callable[[dict], object],
                   verify: Callable[[list[dict], object], list]) -> list:
    """verify(rows of one kind, kind) for each kind of row, results back in row order.

    The batch verifiers take one `extract` flag per call; a file may mix rows that need
    extraction (completions) with rows that do not (bare answers, programs)."""
    results: list = [None] * len(rows)
    for value in dict.fromkeys(kind(row) for row in rows):
        indices = [i for i, row in enumerate(rows) if kind(row) == value]
        for i, result in zip(indices, verify([rows[i] for i in indices], value)):
            results[i] = result
    return results


# --- check-data, make-data ----------------------------------------------------------------

def _add_check_data(p):
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="dataset files in the problem schema (.jsonl, .json, .parquet)")


def run_check_data(args) -> int:
    """Validate every row, print the counts and the math golds' kinds; 1 on any fault
    (the files are what is checked, so a missing or malformed one is a finding too)."""
    from .data.check import format_counts, gold_report
    from .data.schema import DataError, load_problems

    try:
        problems = load_problems(args.files)
        golds, errors = gold_report(args.files)
    except DataError as err:
        raise CommandFailed(str(err)) from None
    print(format_counts(problems))
    print(golds)
    for error in errors:
        print(error, file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _add_make_data(p):
    p.add_argument("--out", default="data/tiny", help="directory for train/eval JSONL files")
    p.add_argument("--seed", type=int, default=0, help="generator seed (same seed, same data)")


def run_make_data(args) -> int:
    """Write train.jsonl and eval.jsonl of the tiny world."""
    from .data.schema import DOMAINS
    from .data.schema import write_jsonl as write_problems
    from .data.synthetic import make_tiny_world

    world = make_tiny_world(seed=args.seed)
    for split in ("train", "eval"):
        path = write_problems(world.problems(split), Path(args.out) / f"{split}.jsonl")
        counts = ", ".join(f"{d} {len(world[split][d])}" for d in DOMAINS)
        print(f"{path}: {counts}")
    return EXIT_OK


# --- make-base ------------------------------------------------------------------------------

def _add_make_base(p):
    p.add_argument("--out", default=None,
                   help="output directory (default: the tiny base cache, see `srpo_mini.base`)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, init and SFT")
    p.add_argument("--force", action="store_true", help="rebuild even if the cache exists")


def run_make_base(args) -> int:
    """Build the tiny base, or reuse it from the cache or the package."""
    from .base import (INFO_FILE, base_dir_name, default_cache_dir, ensure_tiny_base,
                       make_base, shipped_base)

    started = time.perf_counter()
    if args.out is None:
        cached = (default_cache_dir() / base_dir_name(args.seed) / INFO_FILE).exists()
        prebuilt = cached or shipped_base(args.seed) is not None
        path = ensure_tiny_base(seed=args.seed, force=args.force)
        if prebuilt and not args.force:
            info = json.loads((path / INFO_FILE).read_text())
            where = "cached" if cached else "shipped with the package"
            print(f"reusing {path} ({where}; built in {info.get('total_seconds', 0):.0f} s "
                  f"with {info.get('torch_threads', '?')} threads; --force rebuilds into "
                  "the cache)")
            if "accuracy" in info:
                from .evaluate import format_report

                print(format_report(info["accuracy"]))
            return EXIT_OK
    else:
        path = make_base(args.out, seed=args.seed)
    info = json.loads((path / INFO_FILE).read_text())
    print(f"tiny base: {path}\n  {info['parameters']:,} parameters, SFT "
          f"{info['sft']['seconds']:.1f} s ({info['sft']['steps']} steps), total "
          f"{time.perf_counter() - started:.1f} s")
    return EXIT_OK


# --- verify-math, verify-code ---------------------------------------------------------------

def _add_verify_math(p):
    p.add_argument("--input", default="-",
                   help="JSONL rows {id, gold, completion|answer}; - is stdin")
    p.add_argument("--output", default="-", help="JSONL results; - is stdout")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per check (hard limit)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument("--extraction", choices=("lenient", "strict"), default="lenient",
                   help="how a completion's answer is found: lenient = box, answer tag, "
                        "'final answer is', 'Answer:' line, last math span, last number; "
                        "strict = box or answer tag only (docs/math_verifier.md)")


def _math_row(row: dict, line: int) -> None:
    if not isinstance(row.get("gold"), str):
        raise ValueError("field 'gold' must be a string")
    given = [key for key in ("completion", "answer") if key in row]
    if len(given) != 1 or not isinstance(row[given[0]], str):
        raise ValueError("give exactly one of 'completion' or 'answer', as a string")
    row.setdefault("id", line)


def run_verify_math(args) -> int:
    """Rows {id?, gold, completion | answer} -> {id, correct, reason, extracted}; a
    completion has its answer extracted, an answer is used as given; a row without an id
    gets its line number. A summary goes to stderr."""
    from .verifiers.math import verify_math_batch

    rows = read_jsonl(args.input, _math_row)
    started = time.perf_counter()
    results = verify_by_kind(rows, lambda row: "completion" in row, lambda group, extract:
                             verify_math_batch([r["completion" if extract else "answer"]
                                                for r in group], [r["gold"] for r in group],
                                               extract=extract, timeout=args.timeout,
                                               workers=args.workers, mode=args.extraction))
    elapsed = time.perf_counter() - started
    write_jsonl(args.output, [{"id": row["id"], "correct": r.correct, "reason": r.reason,
                               "extracted": r.extracted} for row, r in zip(rows, results)])
    correct = sum(r.correct for r in results)
    print(f"{len(results)} rows, {correct} correct, {elapsed:.2f} s", file=sys.stderr)
    return EXIT_OK


def _seconds(text: str) -> float:
    """A time limit: a number of seconds > 0 (else a usage error, exit 2)."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def _add_verify_code(p):
    p.add_argument("--input", default="-",
                   help="JSONL rows {id, tests, program|completion, prompt?}; - is stdin. A "
                        "row whose assert tests call helpers its problem's prompt defines "
                        "(HumanEval/32's poly) must carry that prompt: without it the "
                        "helpers come from the program (the row gets a 'warnings' field)")
    p.add_argument("--output", default="-", help="JSONL results; - is stdout")
    p.add_argument("--timeout", type=_seconds, default=2.0, help="wall-clock seconds per test case")
    p.add_argument("--total-timeout", type=_seconds, default=10.0,
                   help="wall-clock seconds for all tests of one program together; the test "
                        "running when they are spent is a timeout, the rest are skipped")
    p.add_argument("--memory-mb", type=int, default=512, help="address-space limit per program")
    p.add_argument("--workers", type=int, default=None, help="parallel programs (default: cores)")


def _code_row(row: dict, line: int) -> None:
    from .verifiers.code_spec import validate_tests

    if "id" not in row:
        raise ValueError("field 'id' is missing")
    if ("program" in row) == ("completion" in row):
        raise ValueError("give exactly one of 'program' or 'completion'")
    if not isinstance(row.get("program", row.get("completion")), str):
        raise ValueError("the program or completion must be a string")
    if row.get("prompt") is not None and not isinstance(row["prompt"], str):
        raise ValueError("field 'prompt' must be a string")
    row["tests"] = validate_tests(row.get("tests"))


def run_verify_code(args) -> int:
    """Rows {id, tests, program | completion, prompt?} -> {id, passed, pass_fraction,
    outcomes, isolation, warnings?}. A row's prompt supplies the helpers its assert tests
    take from it; a row whose tests read names that neither they nor its prompt define
    gets `warnings` (`verifiers.code.row_warnings`). The sandbox level goes to stderr with
    the summary; none usable is exit 1, with the cause and the opt-in."""
    from .verifiers import sandbox
    from .verifiers.code import row_warnings, verify_code_batch

    rows = read_jsonl(args.input, _code_row)
    warnings = [row_warnings(row["tests"], row.get("prompt")) for row in rows]
    level = sandbox.detect_isolation()  # SandboxUnavailable: main says why, exit 1
    results = verify_by_kind(rows, lambda row: "completion" in row, lambda group, extract:
                             verify_code_batch([r["completion" if extract else "program"]
                                                for r in group], [r["tests"] for r in group],
                                               extract=extract, timeout=args.timeout,
                                               total_timeout=args.total_timeout,
                                               memory_mb=args.memory_mb, workers=args.workers,
                                               prompts=[r.get("prompt") for r in group],
                                               isolation=level))
    write_jsonl(args.output, [{"id": row["id"], "passed": r.passed,
                               "pass_fraction": r.pass_fraction, "outcomes": r.outcomes,
                               "isolation": r.isolation, **({"warnings": w} if w else {})}
                              for row, r, w in zip(rows, results, warnings)])
    passed = sum(r.passed for r in results)
    print(f"verified {len(results)} programs: {passed} passed (isolation: {level})",
          file=sys.stderr)
    if any(warnings):
        print(f"warning: {sum(map(bool, warnings))} rows take names their tests read from the "
              "program (see their 'warnings'); rows of problems whose prompt defines "
              "helpers need a 'prompt' field", file=sys.stderr)
    if sandbox.isolation_note(level):
        print(sandbox.isolation_note(level), file=sys.stderr)
    return EXIT_OK


# --- train, eval, plot ----------------------------------------------------------------------

def _add_train(p):
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides, e.g. sampling.group_size=8 stages.0.steps=20")
    p.add_argument("--config", default=None, help="YAML config file (applied over the preset)")
    p.add_argument("--preset", default="tiny", help="starting preset (see `srpo_mini.config`)")
    p.add_argument("--run-name", default=None, help="run directory name under runs/")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--plan", action="store_true",
                   help="print the memory and compute a step needs (no weights or data "
                        "loaded) and exit")
    p.add_argument("--prompt-tokens", type=int, default=256,
                   help="with --plan: the longest prompt of a batch, in tokens (default 256)")


def run_train(args) -> int:
    """Resolve the config (preset, YAML, overrides), then train; or print its plan
    (--plan: reads the model's config.json, loads no weights and no data) or the config."""
    from .config import ConfigError, config_from_args, dump_yaml
    from .data.schema import DataError

    try:
        config = config_from_args(args)
    except ConfigError as err:
        raise BadInput(str(err)) from None
    if args.plan:
        from .plan import format_plan, model_shape, plan_run

        try:
            shape = model_shape(config)
        except (OSError, ValueError) as err:  # no readable config.json for the model
            raise BadInput(str(err)) from None
        plan = plan_run(config, shape, prompt_tokens=args.prompt_tokens)
        print(format_plan(plan, config.model.name_or_path or "the tiny base"))
        return EXIT_OK
    if args.print_config:
        print(dump_yaml(config))
        return EXIT_OK
    from .trainer import TrainingError, train

    try:
        summary = train(config, resume=args.resume)
    except (ConfigError, DataError) as err:  # settings that do not fit the data, bad rows
        raise BadInput(str(err)) from None
    except (TrainingError, ValueError) as err:
        raise CommandFailed(str(err)) from None
    print(f"run written to {summary['run_dir']}")
    return EXIT_OK


def _add_eval(p):
    p.add_argument("--model", required=True, help="model directory or hub name")
    p.add_argument("--data", nargs="+", default=None,
                   help="dataset files in the schema (default: the tiny world's eval split)")
    p.add_argument("--n-samples", type=int, default=4, help="samples per problem for pass@k")
    p.add_argument("--k", type=int, nargs="+", default=[1], help="k values for pass@k")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--max-new-tokens", type=int, default=None, help="completion length cap")
    p.add_argument("--template", default=None, help="prompt template (r1_zero, compact, chat)")
    p.add_argument("--output", default=None, help="write per-problem results as JSONL")


def run_eval(args) -> int:
    """Evaluate a model directory on dataset files or the tiny world's eval split."""
    from .data.schema import DataError, load_problems

    try:
        if args.data:
            problems = load_problems(args.data)
        else:
            from .data.synthetic import make_tiny_world

            problems = make_tiny_world().problems("eval")
    except DataError as err:
        raise BadInput(str(err)) from None
    from .evaluate import evaluate, format_report
    from .model import load_model

    model, tokenizer = load_model(args.model)
    template = args.template or ("chat" if getattr(tokenizer, "chat_template", None)
                                 else "compact")
    result = evaluate(model, tokenizer, problems, template=template,
                      n_samples=args.n_samples, k_values=args.k,
                      temperature=args.temperature,
                      max_new_tokens=args.max_new_tokens or 96, progress=True)
    print(format_report(result))
    if args.output:
        write_jsonl(args.output, result["rows"])
        print(f"per-problem results: {args.output}")
    return EXIT_OK


def _add_plot(p):
    p.add_argument("run_dir", help="a run directory written by `srpo-mini train`")


def run_plot(args) -> int:
    """Write the figures of a run and print their paths."""
    from .metrics import METRICS_FILE
    from .plots import plot_run

    run_dir = Path(args.run_dir)
    if not (run_dir / METRICS_FILE).is_file():
        raise BadInput(f"{run_dir / METRICS_FILE} not found; give a run directory written "
                       "by `srpo-mini train`")
    try:
        written = plot_run(run_dir)
    except ImportError as err:  # matplotlib missing: the message says how to install it
        raise CommandFailed(str(err)) from None
    for path in written:
        print(path)
    return EXIT_OK


# --- the parser and the dispatch ------------------------------------------------------------

# name: (help, argument builder, handler)
COMMANDS = {
    "check-data": ("validate dataset files and print counts", _add_check_data, run_check_data),
    "make-data": ("write the offline tiny world's splits as JSONL", _add_make_data,
                  run_make_data),
    "make-base": ("build the offline tiny base model (cold-start SFT)", _add_make_base,
                  run_make_base),
    "verify-math": ("check math answers (JSONL in, JSONL out)", _add_verify_math,
                    run_verify_math),
    "verify-code": ("run programs against tests in the sandbox", _add_verify_code,
                    run_verify_code),
    "train": ("train with SRPO (default: the tiny world on CPU)", _add_train, run_train),
    "eval": ("evaluate a model: accuracy and pass@k per domain", _add_eval, run_eval),
    "plot": ("draw the figures of a run (needs the `plot` extra)", _add_plot, run_plot),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srpo-mini", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="SRPO (two-Staged history-Resampling Policy Optimization), small and readable.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text,
                                     epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error exits 2 (argparse)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    from .verifiers.sandbox import SandboxUnavailable

    try:
        return int(COMMANDS[args.command][2](args) or EXIT_OK)
    except BadInput as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (CommandFailed, SandboxUnavailable) as err:  # the sandbox fails closed: say why
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
