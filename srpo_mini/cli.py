"""The `srpo-mini` command line: one subcommand per job, each with its own `--help`.

The parsers live here so that `--help` answers instantly; each handler is imported only
when its command runs (torch and transformers load in seconds, not instantly). A handler
takes the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys


def _add_check_data(p):
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="dataset files in the problem schema (.jsonl, .json, .parquet)")


def _add_make_data(p):
    p.add_argument("--out", default="data/tiny", help="directory for train/eval JSONL files")
    p.add_argument("--seed", type=int, default=0, help="generator seed (same seed, same data)")


def _add_make_base(p):
    p.add_argument("--out", default=None,
                   help="output directory (default: the tiny base cache, see `srpo_mini.base`)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, init and SFT")
    p.add_argument("--force", action="store_true", help="rebuild even if the cache exists")


def _add_verify_math(p):
    p.add_argument("--input", default="-", help="JSONL rows {id, gold, completion|answer}; - is stdin")
    p.add_argument("--output", default="-", help="JSONL results; - is stdout")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per check (hard limit)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument("--extraction", choices=("lenient", "strict"), default="lenient",
                   help="how a completion's answer is found: lenient = box, answer tag, "
                        "'final answer is', 'Answer:' line, last math span, last number; "
                        "strict = box or answer tag only (docs/math_verifier.md)")


def _add_verify_code(p):
    p.add_argument("--input", default="-",
                   help="JSONL rows {id, tests, program|completion, prompt?}; - is stdin. A "
                        "row whose assert tests call helpers its problem's prompt defines "
                        "(HumanEval/32's poly) must carry that prompt: without it the "
                        "helpers come from the program (the row gets a 'warnings' field)")
    p.add_argument("--output", default="-", help="JSONL results; - is stdout")
    p.add_argument("--timeout", type=float, default=2.0, help="wall-clock seconds per test case")
    p.add_argument("--total-timeout", type=float, default=10.0,
                   help="wall-clock seconds for all tests of one program together; the test "
                        "running when they are spent is a timeout, the rest are skipped")
    p.add_argument("--memory-mb", type=int, default=512, help="address-space limit per program")
    p.add_argument("--workers", type=int, default=None, help="parallel programs (default: cores)")


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


def _add_plot(p):
    p.add_argument("run_dir", help="a run directory written by `srpo-mini train`")


# name: (help, argument builder, "module:function" handler)
COMMANDS = {
    "check-data": ("validate dataset files and print counts", _add_check_data,
                   "srpo_mini.data.check:cli_check_data"),
    "make-data": ("write the offline tiny world's splits as JSONL", _add_make_data,
                  "srpo_mini.data.synthetic:cli_make_data"),
    "make-base": ("build the offline tiny base model (cold-start SFT)", _add_make_base,
                  "srpo_mini.base:cli_make_base"),
    "verify-math": ("check math answers (JSONL in, JSONL out)", _add_verify_math,
                    "srpo_mini.verifiers.math:cli_verify_math"),
    "verify-code": ("run programs against tests in the sandbox", _add_verify_code,
                    "srpo_mini.verifiers.code:cli_verify_code"),
    "train": ("train with SRPO (default: the tiny world on CPU)", _add_train,
              "srpo_mini.trainer:cli_train"),
    "eval": ("evaluate a model: accuracy and pass@k per domain", _add_eval,
             "srpo_mini.evaluate:cli_eval"),
    "plot": ("draw the figures of a run (needs the `plot` extra)", _add_plot,
             "srpo_mini.plots:cli_plot"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srpo-mini",
        description="SRPO (two-Staged history-Resampling Policy Optimization), small and readable.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module_name, function_name = COMMANDS[args.command][2].split(":")
    if getattr(args, "plan", False):  # `train --plan` reads configs only
        module_name, function_name = "srpo_mini.plan", "cli_plan"
    handler = getattr(importlib.import_module(module_name), function_name)
    from .verifiers.sandbox import SandboxUnavailable

    try:
        return int(handler(args) or 0)
    except SandboxUnavailable as err:  # the code sandbox fails closed: say why, and the opt-in
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
