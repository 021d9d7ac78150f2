"""The offline tiny world: seeded synthetic math and code problems with worked solutions.

The default run needs problems that a 1M-parameter model can partly solve on a CPU, with
verifiable answers, a difficulty gradient, and room to get better by reasoning more. This
module generates them from seeded templates, in the schema of `schema.py`, together with
a worked solution for each (the material of the cold-start SFT in `srpo_mini.base`):

    math  level L  a sum of L+1 numbers in 1..24     Compute 7+15+9.    31
                   worked out as running sums         7+15=22, 22+9=31
    code  level 1  call-based, one operation          f(x) returns x plus 3
          level 2  call-based, lists and conditions   the sum of xs above 4
          level 3  stdin/stdout programs              read n, print n times 3

Every step of a running sum is easy for a tiny model; the whole sum in one answer token is
not, once there are three terms or more. So working a problem out is what earns reward,
because of the model's own limits (the "show your work" scratchpad effect). Level 1 (two
terms) is the easy level, often solved even directly; `easy_share` sets its share of the
math training pool, the knob that decides how many of GRPO's groups end all-correct.

Disjoint splits by construction: every problem has a canonical key (the expression, or
the code family and its constants, without the function name), and the SHA-256 of that
key alone decides its side, eval when `hash mod 10_000 < eval_fraction * 10_000`. The
rule does not depend on the seed, so for a fixed `eval_fraction` no eval problem (nor a
renamed copy of an eval code task) can appear in any train split or SFT set of any seed.
Within a split problems are deduplicated by key.

Each `Worked` example also lists plausible wrong answers (`slips`: off by one; a constant
off by one in a program), negative cases for the verifiers' tests; no SFT data uses them.

Differences from the paper: SRPO trains on competition math and LiveCodeBench-style code;
this world is a stand-in of the same shape (boxed math answers, call-based and stdin tests)
small enough for a CPU.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Callable

from .schema import DOMAINS, Problem, to_dataset

SOURCE = "tiny_world"
EVAL_FRACTION = 0.2
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
def _int_slips(value: int, signed: bool) -> tuple[str, ...]:
    slips = [value + 1, value - 1] + ([-value] if signed and value != 0 else [])
    return tuple(str(s) for s in slips)


def _boxed(text: str) -> str:
    return f"\\boxed{{{text}}}"


def _chain_sum(rng: random.Random, terms: int) -> _Draft:
    """`a+b+c+...` of `terms` numbers in 1..24, worked out as running sums.

    The reasoning adds one term per step, `7+15=22, 22+9=31, 31+3=34`: every step is a
    sum of two numbers, which a ~1M-parameter model does reliably, while the whole sum
    in one token (a direct answer) is beyond it once there are more than two terms.
    """
    values = [rng.randint(1, 24) for _ in range(terms)]
    expr = "+".join(map(str, values))
    steps, total = [], values[0]
    for value in values[1:]:
        steps.append(f"{total}+{value}={total + value}")
        total += value
    return _Draft(key=f"math:{expr}", prompt=f"Compute {expr}.", reasoning=", ".join(steps),
                  answer=_boxed(str(total)), gold=str(total), forms=(str(total),),
                  slips=tuple(_boxed(s) for s in _int_slips(total, signed=False)))


# Level L sums L+1 terms: level 1 (two terms) is the easy level, solved even by a direct
# answer most of the time; levels 3-5 are solved almost only by working them out.
MATH_LEVELS = {level: f"{level + 1} terms" for level in range(1, 6)}
MATH_GENERATORS: dict[int, Callable[[random.Random], _Draft | None]] = {
    level: (lambda rng, terms=level + 1: _chain_sum(rng, terms)) for level in MATH_LEVELS}
EASY_LEVEL = 1
# Distinct easy problems on the train side (tests/test_synthetic.py checks it): with the
# default 600-problem pool, data.easy_share can be at most 0.77.
EASY_TRAIN_UNIQUE = 462


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


class LevelExhausted(ValueError):
    """A level's problem space holds fewer unique problems on one side than were asked."""

    def __init__(self, domain: str, level: int, split: str, found: int, asked: int):
        super().__init__(f"{domain} level {level}: only {found} unique {split} problems "
                         f"found, {asked} asked")
        self.domain, self.level, self.found = domain, level, found


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
        A list of `Worked`, deterministic for the arguments. Raises `LevelExhausted` (a
        ValueError) when the level's problem space cannot supply `n` unique problems on
        that side.
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
            raise LevelExhausted(domain, level, split, len(worked), n)
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
        domains = [domain] if domain else list(DOMAINS)
        return [p for d in domains for p in self[split].get(d, [])]

    def to_datasets(self):
        """A `datasets.DatasetDict` with "train" and "eval" in the schema."""
        import datasets

        return datasets.DatasetDict({s: to_dataset(self.problems(s)) for s in ("train", "eval")})


def make_tiny_world(seed: int = 0, *, math_train_per_level: int = 120,
                    math_eval_per_level: int = 40,
                    code_train_per_level: int = 60, code_eval_per_level: int = 20,
                    easy_share: float | None = None,
                    eval_fraction: float = EVAL_FRACTION) -> TinyWorld:
    """The offline tiny world: train and eval problems of both domains, every level.

    Args:
        math_train_per_level: the math training pool holds this many problems per level
            on average (600 over the five levels by default).
        easy_share: the share of the pool from the easy level (`EASY_LEVEL`, two terms),
            the rest split evenly over the other levels; None = every level the same.
            The held-out split always has `math_eval_per_level` of every level.
    Returns a `TinyWorld` (math levels 1-5, code levels 1-3), deterministic for the seed,
    with train and eval disjoint by canonical key (see the module docstring).
    """
    if easy_share is not None and not 0.0 <= easy_share <= 1.0:
        raise ValueError(f"easy_share must be in [0, 1], got {easy_share}")
    math_train = math_train_per_level * len(MATH_LEVELS)
    share = 1 / len(MATH_LEVELS) if easy_share is None else easy_share
    n_easy = round(share * math_train)
    n_other = (math_train - n_easy) // (len(MATH_LEVELS) - 1)
    sizes = {("math", "train", level): n_easy if level == EASY_LEVEL else n_other
             for level in MATH_LEVELS}
    sizes.update({("math", "eval", level): math_eval_per_level for level in MATH_LEVELS})
    sizes.update({("code", split, level): n for level in CODE_LEVELS
                  for split, n in (("train", code_train_per_level),
                                   ("eval", code_eval_per_level))})
    splits: dict[str, dict[str, list[Problem]]] = {"train": {}, "eval": {}}
    worked: dict[str, Worked] = {}
    for domain, levels in (("math", MATH_LEVELS), ("code", CODE_LEVELS)):
        for split in ("train", "eval"):
            try:
                per_level = [generate(domain, level, sizes[(domain, split, level)], seed=seed,
                                      split=split, eval_fraction=eval_fraction)
                             for level in levels]
            except LevelExhausted as error:
                if easy_share is None or (error.domain, error.level) != ("math", EASY_LEVEL):
                    raise
                largest = error.found * 100 // math_train / 100  # rounded down: it fits
                raise ValueError(f"data.easy_share={easy_share} asks for {n_easy} easy and "
                                 f"{n_other} of each other math level in the {math_train}-"
                                 f"problem training pool: {error} (the easy level, two-term "
                                 f"sums, has {error.found} on the train side, so easy_share "
                                 f"can be at most {largest:.2f} at this pool size)") from None
            items = _interleave(per_level)
            splits[split][domain] = [w.problem for w in items]
            worked.update((w.problem.id, w) for w in items)
    return TinyWorld(train=splits["train"], eval=splits["eval"], worked=worked)


def _interleave(rows: list[list[Worked]]) -> list[Worked]:
    """Items spread evenly by their position in their row, so that any prefix (a `limit`)
    keeps every level in proportion: round-robin when rows are the same length."""
    keyed = [((i + 0.5) / len(row), r, item) for r, row in enumerate(rows)
             for i, item in enumerate(row)]
    return [item for *_, item in sorted(keyed, key=lambda k: k[:2])]
