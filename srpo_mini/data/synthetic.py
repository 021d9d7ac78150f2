"""The offline tiny world: seeded synthetic math and code problems with worked solutions.

The default run needs problems that a 1M-parameter model can partly solve on a CPU, with
verifiable answers and a difficulty gradient, and no download. This module generates them
from seeded templates, in the schema of `schema.py`, together with a short worked solution
for each (the material of the cold-start SFT in `srpo_mini.base`):

    math  level 1  integer arithmetic with precedence    Compute 3+4*5.          23
          level 2  negative numbers                      Compute -7*3+(-4).      -25
          level 3  fractions (several written forms)     Compute 1/2+1/4.        \\frac{3}{4}
          level 4  percentages                           What is 75% of 80?      60
          level 5  linear equations                      Solve 3x+4=19.          x = 5
    code  level 1  call-based, one operation             f(x) returns x plus 3
          level 2  call-based, lists and conditions      the sum of xs above 4
          level 3  stdin/stdout programs                 read n, print n times 3

Disjoint splits by construction: every problem has a canonical key (the expression, or
the code family and its constants, without the function name), and the SHA-256 of that
key alone decides its side, eval when `hash mod 10_000 < eval_fraction * 10_000`. The
rule does not depend on the seed, so for a fixed `eval_fraction` no eval problem (nor a
renamed copy of an eval code task) can appear in any train split or SFT set of any seed.
Within a split problems are deduplicated by key.

Each `Worked` example also lists plausible slips of its final answer (off by one, or the
sign flipped where the level has negative numbers; a constant off by one in a program),
which `srpo_mini.base` uses for its noisy cold start.

Differences from the paper: SRPO trains on competition math and LiveCodeBench-style code;
this world is a stand-in of the same shape (boxed math answers, call-based and stdin tests)
small enough for a CPU.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from fractions import Fraction
from math import lcm
from pathlib import Path
from typing import Callable

from .schema import Problem, to_dataset, write_jsonl

SOURCE = "tiny_world"
EVAL_FRACTION = 0.2
MATH_LEVELS = {1: "precedence", 2: "negatives", 3: "fractions", 4: "percentages", 5: "linear"}
CODE_LEVELS = {1: "call, one operation", 2: "call, lists and conditions", 3: "stdin/stdout"}


@dataclass(frozen=True)
class Worked:
    """A problem with its worked solution, the raw material of the cold-start SFT.

    reasoning: the text inside <think>; answer: the text inside <answer> (`\\boxed{..}` for
    math, a ```python block for code); slips: plausible wrong answers in the same form;
    forms: math only, every accepted written form of the gold answer.
    """

    problem: Problem
    reasoning: str
    answer: str
    slips: tuple[str, ...]
    forms: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Draft:
    """What one generator call produces, before ids and splits are attached."""

    key: str
    prompt: str
    reasoning: str
    answer: str
    slips: tuple[str, ...]
    gold: str | None = None
    forms: tuple[str, ...] = ()
    tests: dict | None = None


def split_of(key: str, eval_fraction: float = EVAL_FRACTION) -> str:
    """"eval" or "train" for a canonical problem key; a pure function of the key."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % 10_000
    return "eval" if bucket < round(eval_fraction * 10_000) else "train"


def _key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


# ----------------------------------------------------------------------------- math
def _num(v: int | Fraction) -> str:
    """A number as an operand inside an expression: negatives in parentheses."""
    return f"({v})" if v < 0 else str(v)


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def _int_slips(value: int, signed: bool) -> tuple[str, ...]:
    slips = [value + 1, value - 1] + ([-value] if signed and value != 0 else [])
    return tuple(str(s) for s in slips)


def _boxed(text: str) -> str:
    return f"\\boxed{{{text}}}"


def _two_ops(rng: random.Random, low: int, high: int, signed: bool) -> _Draft | None:
    """`a o1 b o2 c` with * before + and -, reduced one operation at a time.

    The reasoning rewrites the expression, replacing one operation by its value per step:
    `3+5*5=3+25=28` (each step copies the previous one except where it computes).
    """
    pick = lambda: rng.choice([v for v in range(low, high + 1) if v != 0])  # noqa: E731
    a, b, c = pick(), pick(), pick()
    o1, o2 = rng.choice("+-*"), rng.choice("+-*")
    if o2 == "*" and o1 != "*":  # precedence: the second operation goes first
        first = _apply(b, o2, c)
        result = _apply(a, o1, first)
        middle = f"{a}{o1}{_num(first)}"
    else:
        first = _apply(a, o1, b)
        result = _apply(first, o2, c)
        middle = f"{first}{o2}{_num(c)}"
    values = (a, b, c, first, result)
    if signed != any(v < 0 for v in values):  # level 1: none negative; level 2: some
        return None
    expr = f"{a}{o1}{_num(b)}{o2}{_num(c)}"
    return _Draft(key=f"math:{expr}", prompt=f"Compute {expr}.",
                  reasoning=f"{expr}={middle}={result}",
                  answer=_boxed(str(result)), gold=str(result), forms=(str(result),),
                  slips=tuple(_boxed(s) for s in _int_slips(result, signed)))


def _frac_text(f: Fraction, latex: bool) -> str:
    if f.denominator == 1:
        return str(f.numerator)
    if latex:
        sign = "-" if f < 0 else ""
        return f"{sign}\\frac{{{abs(f.numerator)}}}{{{f.denominator}}}"
    return f"{f.numerator}/{f.denominator}"


def fraction_forms(f: Fraction) -> tuple[str, ...]:
    """Every written form a fraction answer may take: LaTeX, a/b, and a terminating decimal."""
    forms = [_frac_text(f, latex=True)]
    if f.denominator != 1:
        forms.append(_frac_text(f, latex=False))
        d = f.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:  # terminating decimal
            forms.append(format(float(f), "g"))
    return tuple(forms)


def _fractions(rng: random.Random) -> _Draft | None:
    """p1/d1 ± p2/d2 with one denominator a multiple of the other; answer in lowest terms."""
    d1 = rng.choice([2, 3, 4, 5, 6])
    d2 = d1 * rng.choice([1, 2])
    if rng.random() < 0.5:
        d1, d2 = d2, d1
    p1, p2 = rng.randint(1, d1 - 1), rng.randint(1, d2 - 1)
    op = rng.choice("+-")
    result = Fraction(p1, d1) + Fraction(p2, d2) if op == "+" else Fraction(p1, d1) - Fraction(p2, d2)
    if result <= 0:
        return None
    common = lcm(d1, d2)
    n1, n2 = p1 * common // d1, p2 * common // d2
    total = n1 + n2 if op == "+" else n1 - n2
    chain = [f"{p1}/{d1}{op}{p2}/{d2}"]
    if d1 != common or d2 != common:  # bring both to the common denominator
        chain.append(f"{n1}/{common}{op}{n2}/{common}")
    chain.append(f"{total}/{common}")
    if result.denominator != common:  # reduce to lowest terms
        chain.append(_frac_text(result, latex=False))
    slips = [Fraction(result.numerator + s, result.denominator) for s in (1, -1)]
    slips = [s for s in slips if s != 0]
    expr = f"{p1}/{d1}{op}{p2}/{d2}"
    return _Draft(key=f"math:{expr}", prompt=f"Compute {expr}.", reasoning="=".join(chain),
                  answer=_boxed(_frac_text(result, latex=True)), gold=_frac_text(result, True),
                  forms=fraction_forms(result),
                  slips=tuple(_boxed(_frac_text(s, latex=True)) for s in slips))


_PERCENTS = {5: (1, 20), 10: (1, 10), 20: (1, 5), 25: (1, 4), 30: (3, 10), 40: (2, 5),
             50: (1, 2), 75: (3, 4), 80: (4, 5)}


def _percentages(rng: random.Random) -> _Draft:
    """p% of a base that makes the answer whole: p% = n/d, base/d, then times n."""
    percent = rng.choice(sorted(_PERCENTS))
    n, d = _PERCENTS[percent]
    base = d * rng.randint(1, 25)
    part = base // d
    steps = [f"{percent}%={n}/{d}", f"{base}/{d}={part}"]
    if n > 1:
        steps.append(f"{part}*{n}={part * n}")
    result = part * n
    return _Draft(key=f"math:{percent}%of{base}", prompt=f"What is {percent}% of {base}?",
                  reasoning=", ".join(steps), answer=_boxed(str(result)), gold=str(result),
                  forms=(str(result),),
                  slips=tuple(_boxed(s) for s in _int_slips(result, signed=False)))


def _linear(rng: random.Random) -> _Draft:
    """a*x + b = c with an integer solution; isolate a*x, then divide."""
    a, x = rng.randint(2, 4), rng.randint(-5, 9)
    b = rng.choice([v for v in range(-9, 10) if v != 0])
    c = a * x + b
    undo = f"{c}-{b}" if b > 0 else f"{c}+{-b}"
    steps = [f"{a}x={undo}={a * x}", f"x={_num(a * x)}/{a}={x}"]
    equation = f"{a}x{'+' if b > 0 else '-'}{abs(b)}={c}"
    return _Draft(key=f"math:{equation}", prompt=f"Solve {equation}.", reasoning=", ".join(steps),
                  answer=_boxed(f"x={x}"), gold=f"x = {x}", forms=(f"x = {x}", f"x={x}", str(x)),
                  slips=tuple(_boxed(f"x={s}") for s in _int_slips(x, signed=True)))


MATH_GENERATORS: dict[int, Callable[[random.Random], _Draft | None]] = {
    1: lambda rng: _two_ops(rng, 1, 5, signed=False),
    2: lambda rng: _two_ops(rng, -5, 5, signed=True),
    3: _fractions,
    4: _percentages,
    5: _linear,
}


# ----------------------------------------------------------------------------- code
@dataclass(frozen=True)
class _CodeFamily:
    """One code task family: a prompt phrase, a plan, a program body and a reference.

    Templates use the constants `{k}` (and `{a}`) that `params` draws; `inputs(rng, params)`
    draws the test inputs; `reference(params, *input)` computes the expected return value
    (call-based) or the expected stdout (stdin-based). A slip moves `k` by one.
    """

    name: str
    args: str | None  # the function's parameters; None for a stdin program
    phrase: str
    plan: str  # the short reasoning inside <think>
    body: str
    reference: Callable
    params: Callable[[random.Random], dict]
    inputs: Callable[[random.Random, dict], list]


_FN_NAMES = ("f", "g", "h", "calc", "solve", "step", "apply", "fn")


def _ints(low: int, high: int, n: int = 4):
    return lambda rng, params: [[v] for v in rng.sample(range(low, high + 1), n)]


def _lists(rng: random.Random, params: dict) -> list:
    """Four short lists of digits; some hold k or k+1 so that a threshold slip shows."""
    cases = []
    for _ in range(4):
        xs = [rng.randint(0, 9) for _ in range(rng.randint(2, 5))]
        xs[rng.randrange(len(xs))] = params["k"] + rng.randint(0, 1)
        cases.append([xs])
    return cases


def _pairs(rng: random.Random, params: dict) -> list:
    return [[rng.randint(-9, 20), rng.randint(-9, 20)] for _ in range(4)]


def _k(low: int, high: int):
    return lambda rng: {"k": rng.randint(low, high)}


def _ak(rng: random.Random) -> dict:
    return {"a": rng.randint(2, 9), "k": rng.randint(1, 9)}


_F = _CodeFamily
CODE_FAMILIES: dict[int, tuple[_CodeFamily, ...]] = {
    1: (
        _F("add", "x", "returns x plus {k}", "x+{k}", "return x + {k}",
           lambda p, x: x + p["k"], _k(1, 20), _ints(-9, 30)),
        _F("sub", "x", "returns x minus {k}", "x-{k}", "return x - {k}",
           lambda p, x: x - p["k"], _k(1, 20), _ints(-9, 30)),
        _F("mul", "x", "returns x times {k}", "x*{k}", "return x * {k}",
           lambda p, x: x * p["k"], _k(2, 12), _ints(-9, 30)),
        _F("rsub", "x", "returns {k} minus x", "{k}-x", "return {k} - x",
           lambda p, x: p["k"] - x, _k(1, 20), _ints(-9, 30)),
        _F("mod", "x", "returns the remainder of x divided by {k}", "x%{k}", "return x % {k}",
           lambda p, x: x % p["k"], _k(2, 9), _ints(0, 60)),
        _F("div", "x", "returns x divided by {k}, rounded down", "x//{k}", "return x // {k}",
           lambda p, x: x // p["k"], _k(2, 9), _ints(0, 60)),
        _F("affine", "x", "returns {a} times x plus {k}", "{a}*x+{k}", "return {a} * x + {k}",
           lambda p, x: p["a"] * x + p["k"], _ak, _ints(-9, 20)),
    ),
    2: (
        _F("sum_gt", "xs", "returns the sum of the numbers in xs greater than {k}",
           "sum v>{k}", "return sum(v for v in xs if v > {k})",
           lambda p, xs: sum(v for v in xs if v > p["k"]), _k(0, 8), _lists),
        _F("count_gt", "xs", "returns how many numbers in xs are greater than {k}",
           "count v>{k}", "return sum(v > {k} for v in xs)",
           lambda p, xs: len([v for v in xs if v > p["k"]]), _k(0, 8), _lists),
        _F("count_eq", "xs", "returns how many times {k} appears in xs", "count {k}",
           "return xs.count({k})", lambda p, xs: xs.count(p["k"]), _k(0, 9), _lists),
        _F("map_mul", "xs", "returns a list of each number in xs times {k}", "v*{k} each",
           "return [v * {k} for v in xs]", lambda p, xs: [v * p["k"] for v in xs],
           _k(2, 12), _lists),
        _F("map_add", "xs", "returns a list of each number in xs plus {k}", "v+{k} each",
           "return [v + {k} for v in xs]", lambda p, xs: [v + p["k"] for v in xs],
           _k(1, 20), _lists),
        _F("sum_mul", "xs", "returns the sum of xs times {k}", "sum*{k}",
           "return sum(xs) * {k}", lambda p, xs: sum(xs) * p["k"], _k(2, 12), _lists),
        _F("sum_add", "xs", "returns the sum of xs plus {k}", "sum+{k}",
           "return sum(xs) + {k}", lambda p, xs: sum(xs) + p["k"], _k(1, 20), _lists),
        _F("keep_lt", "xs", "returns a list of the numbers in xs less than {k}", "keep v<{k}",
           "return [v for v in xs if v < {k}]", lambda p, xs: [v for v in xs if v < p["k"]],
           _k(1, 9), _lists),
        _F("max_add", "a, b", "returns the larger of a and b plus {k}", "max+{k}",
           "return max(a, b) + {k}", lambda p, a, b: max(a, b) + p["k"], _k(1, 20), _pairs),
        _F("min_add", "a, b", "returns the smaller of a and b plus {k}", "min+{k}",
           "return min(a, b) + {k}", lambda p, a, b: min(a, b) + p["k"], _k(1, 20), _pairs),
    ),
    3: (
        _F("n_mul", None, "reads an integer n and prints n times {k}", "n*{k}",
           "n = int(input())\nprint(n * {k})", lambda p, n: n * p["k"], _k(2, 12),
           _ints(-9, 50)),
        _F("n_add", None, "reads an integer n and prints n plus {k}", "n+{k}",
           "n = int(input())\nprint(n + {k})", lambda p, n: n + p["k"], _k(1, 20),
           _ints(-9, 50)),
        _F("n_affine", None, "reads an integer n and prints {a} times n plus {k}", "{a}*n+{k}",
           "n = int(input())\nprint({a} * n + {k})", lambda p, n: p["a"] * n + p["k"], _ak,
           _ints(-9, 30)),
        _F("ab_sum", None, "reads two integers a and b on one line and prints a plus b plus {k}",
           "a+b+{k}", "a, b = map(int, input().split())\nprint(a + b + {k})",
           lambda p, a, b: a + b + p["k"], _k(1, 20), _pairs),
        _F("ab_mul", None,
           "reads two integers a and b on one line and prints a times b plus {k}",
           "a*b+{k}", "a, b = map(int, input().split())\nprint(a * b + {k})",
           lambda p, a, b: a * b + p["k"], _k(1, 20), _pairs),
        _F("loop", None,
           "reads an integer n and prints i times {k} for i from 0 to n-1, one per line",
           "i*{k}", "n = int(input())\nfor i in range(n):\n    print(i * {k})",
           lambda p, n: "\n".join(str(i * p["k"]) for i in range(n)), _k(2, 12),
           _ints(1, 6)),
    ),
}


def _code_draft(family: _CodeFamily, rng: random.Random) -> _Draft:
    """A code task of one family: prompt, gold program, tests, and slipped programs."""
    params = family.params(rng)
    cases = family.inputs(rng, params)
    fn_name = rng.choice(_FN_NAMES)

    def program(constants: dict) -> str:
        body = family.body.format(**constants)
        return body if family.args is None else f"def {fn_name}({family.args}):\n    {body}"

    def outcome(constants: dict) -> list:
        return [family.reference(constants, *args) for args in cases]

    phrase = family.phrase.format(**params)
    if family.args is not None:
        prompt = f"Write a Python function {fn_name}({family.args}) that {phrase}."
        tests = {"fn_name": fn_name, "cases": [{"args": args, "expected": value}
                                               for args, value in zip(cases, outcome(params))]}
    else:
        prompt = f"Write a Python program that {phrase}."
        tests = {"cases": [{"input": " ".join(map(str, args)) + "\n", "output": f"{value}\n"}
                           for args, value in zip(cases, outcome(params))]}
    slips = []
    for delta in (1, -1):
        moved = dict(params, k=params["k"] + delta)
        if outcome(moved) != outcome(params):  # a slip the tests cannot see is no slip
            slips.append(_code_block(program(moved)))
    key = f"code:{family.name}:" + ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return _Draft(key=key, prompt=prompt, reasoning=family.plan.format(**params),
                  answer=_code_block(program(params)), slips=tuple(slips), tests=tests)


def _code_block(program: str) -> str:
    return f"```python\n{program}\n```"


def _code_generator(level: int) -> Callable[[random.Random], _Draft]:
    return lambda rng: _code_draft(rng.choice(CODE_FAMILIES[level]), rng)


# ----------------------------------------------------------------------------- worlds
def _to_worked(draft: _Draft, domain: str, level: int) -> Worked:
    problem = Problem(id=f"{domain}-L{level}-{_key_id(draft.key)}", domain=domain,
                      prompt=draft.prompt, answer=draft.gold, tests=draft.tests,
                      difficulty=level, source=SOURCE)
    return Worked(problem, draft.reasoning, draft.answer, draft.slips, draft.forms)


def generate(domain: str, level: int, n: int, *, seed: int = 0, split: str = "train",
             eval_fraction: float = EVAL_FRACTION, unique: bool = True,
             stream: str = "world") -> list[Worked]:
    """`n` worked problems of one domain and level from one side of the split.

    Args:
        domain, level: which generator (`MATH_LEVELS`, `CODE_LEVELS`).
        n: how many to return.
        seed, stream: the random stream is a function of (seed, stream, domain, level), so
            levels do not shift each other and the SFT set ("sft") can differ from the RL
            train split ("world") while staying on the train side.
        split: "train" or "eval"; every returned problem satisfies `split_of(key) == split`.
        unique: deduplicate by canonical key (off for the SFT set, which may repeat).
    Returns:
        A list of `Worked`, deterministic for the arguments. Raises ValueError when the
        level's problem space cannot supply `n` unique problems on that side.
    """
    generators = MATH_GENERATORS if domain == "math" else {
        level: _code_generator(level) for level in CODE_FAMILIES}
    if level not in generators:
        raise ValueError(f"no {domain} level {level}; levels are {sorted(generators)}")
    rng = random.Random(f"{seed}/{stream}/{domain}/{level}")
    seen: set[str] = set()
    worked: list[Worked] = []
    attempts = 0
    while len(worked) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise ValueError(f"{domain} level {level}: only {len(worked)} unique {split} "
                             f"problems found, {n} asked")
        draft = generators[level](rng)
        if draft is None or split_of(draft.key, eval_fraction) != split:
            continue
        if unique and draft.key in seen:
            continue
        seen.add(draft.key)
        worked.append(_to_worked(draft, domain, level))
    return worked


@dataclass(frozen=True)
class TinyWorld:
    """The tiny world's splits: `world.train["math"]`, `world["eval"]["code"]`, ...

    train / eval map a domain to its list of `Problem`; `worked` holds the worked
    solutions of every problem by id.
    """

    train: dict[str, list[Problem]]
    eval: dict[str, list[Problem]]
    worked: dict[str, Worked]

    def __getitem__(self, split: str) -> dict[str, list[Problem]]:
        if split not in ("train", "eval"):
            raise KeyError(f"split {split!r}; choose 'train' or 'eval'")
        return getattr(self, split)

    def problems(self, split: str, domain: str | None = None) -> list[Problem]:
        """One split's problems, one domain or both (math first)."""
        domains = [domain] if domain else ["math", "code"]
        return [p for d in domains for p in self[split].get(d, [])]

    def to_datasets(self):
        """A `datasets.DatasetDict` with "train" and "eval" in the schema."""
        import datasets

        return datasets.DatasetDict({s: to_dataset(self.problems(s)) for s in ("train", "eval")})


def make_tiny_world(seed: int = 0, *, math_train_per_level: int = 150,
                    math_eval_per_level: int = 40, code_train_per_level: int = 60,
                    code_eval_per_level: int = 20,
                    eval_fraction: float = EVAL_FRACTION) -> TinyWorld:
    """The offline tiny world: train and eval problems of both domains, every level.

    Returns a `TinyWorld` (math levels 1-5, code levels 1-3), deterministic for the seed,
    with train and eval disjoint by canonical key (see the module docstring).
    """
    sizes = {("math", "train"): math_train_per_level, ("math", "eval"): math_eval_per_level,
             ("code", "train"): code_train_per_level, ("code", "eval"): code_eval_per_level}
    splits: dict[str, dict[str, list[Problem]]] = {"train": {}, "eval": {}}
    worked: dict[str, Worked] = {}
    for domain, levels in (("math", MATH_LEVELS), ("code", CODE_LEVELS)):
        for split in ("train", "eval"):
            per_level = [generate(domain, level, sizes[(domain, split)], seed=seed,
                                  split=split, eval_fraction=eval_fraction) for level in levels]
            # Round-robin over levels, so that any prefix (a `limit`) keeps every level.
            items = [w for row in zip(*per_level) for w in row]
            splits[split][domain] = [w.problem for w in items]
            worked.update((w.problem.id, w) for w in items)
    return TinyWorld(train=splits["train"], eval=splits["eval"], worked=worked)


def cli_make_data(args) -> int:
    """`srpo-mini make-data`: write train.jsonl and eval.jsonl of the tiny world."""
    world = make_tiny_world(seed=args.seed)
    out = Path(args.out)
    for split in ("train", "eval"):
        path = write_jsonl(world.problems(split), out / f"{split}.jsonl")
        counts = ", ".join(f"{d} {len(world[split][d])}" for d in ("math", "code"))
        print(f"{path}: {counts}")
    return 0
