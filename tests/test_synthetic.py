"""The offline tiny world (`srpo_mini.data.synthetic`): determinism, disjoint splits, levels,
schema, and that every gold answer verifies in each of its written forms.

Checks that the same seed gives the same problems and another seed others; that no eval
problem (by id, prompt, or canonical key, so no renamed code task either) appears in any
train split or SFT pool of several seeds; that every math level 1-5 and code level 1-3 is
present in both splits, and `easy_share` sets the easy level's share of the math pool;
that the worked reasoning of a sum is its running sums; that rows pass schema validation
and survive the `datasets` round trip; that each math gold verifies in a box while its
slips (off by one) do not; that gold programs pass their tests and slipped programs fail;
and that completions fit the tiny preset's 80 new tokens.

Run: python -m pytest tests/test_synthetic.py -q
"""

from __future__ import annotations

import pytest

from srpo_mini.data.schema import from_dataset, load_problems, validate_records
from srpo_mini.data.synthetic import (
    CODE_LEVELS, EASY_LEVEL, EASY_TRAIN_UNIQUE, MATH_LEVELS, generate, make_tiny_world, split_of,
)
from srpo_mini.prompts import format_completion

SMALL = dict(math_train_per_level=40, math_eval_per_level=10, code_train_per_level=12,
             code_eval_per_level=6)


@pytest.fixture(scope="module")
def world():
    return make_tiny_world(seed=0)


def _rows(world, split):
    return [p.to_dict() for p in world.problems(split)]


def test_same_seed_same_world_other_seed_other_world():
    """Generation is a pure function of the seed (and sizes)."""
    a, b = make_tiny_world(seed=7, **SMALL), make_tiny_world(seed=7, **SMALL)
    c = make_tiny_world(seed=8, **SMALL)
    assert _rows(a, "train") == _rows(b, "train")
    assert _rows(a, "eval") == _rows(b, "eval")
    assert len(a.problems("train")) == 5 * 40 + 3 * 12
    shared = {p["id"] for p in _rows(a, "train")} & {p["id"] for p in _rows(c, "train")}
    assert len(shared) < 0.5 * len(a.problems("train"))


def test_default_sizes_and_every_level_in_both_splits(world):
    """Math levels 1-5 and code levels 1-3, with the default counts per level."""
    for split, math_n, code_n in (("train", 120, 60), ("eval", 40, 20)):
        for domain, levels, n in (("math", MATH_LEVELS, math_n), ("code", CODE_LEVELS, code_n)):
            counts = {}
            for p in world[split][domain]:
                counts[p.difficulty] = counts.get(p.difficulty, 0) + 1
            assert counts == {level: n for level in levels}, (split, domain)


def test_prefix_of_a_split_keeps_every_level(world):
    """Levels are interleaved, so `eval_limit`-style prefixes stay balanced."""
    first = world.eval["math"][:10]
    assert sorted(p.difficulty for p in first) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


@pytest.mark.parametrize("easy_share, easy, other", [
    (0.0, 0, 150), (0.25, 150, 112), (0.5, 300, 75), (0.75, 450, 37)])
def test_easy_share_sets_the_easy_levels_share_of_the_math_pool(easy_share, easy, other):
    """easy_share of the 600 math training problems are two-term sums, the rest split
    evenly (rounded down) over levels 2-5; the held-out split keeps 40 of every level, and
    a prefix of the pool keeps the proportion."""
    world = make_tiny_world(seed=0, easy_share=easy_share)
    counts = {level: 0 for level in MATH_LEVELS}
    for p in world.train["math"]:
        counts[p.difficulty] += 1
    assert counts == {level: easy if level == EASY_LEVEL else other for level in MATH_LEVELS}
    assert {p.difficulty for p in world.eval["math"]} == set(MATH_LEVELS)
    assert len(world.eval["math"]) == 200
    prefix = world.train["math"][:100]
    assert abs(sum(p.difficulty == EASY_LEVEL for p in prefix) - 100 * easy_share) <= 1
    with pytest.raises(ValueError, match="easy_share must be in"):
        make_tiny_world(seed=0, easy_share=1.5)


def test_an_easy_share_beyond_the_easy_levels_problems_names_the_setting():
    """The easy level has EASY_TRAIN_UNIQUE distinct train problems (no more), so a share
    asking for more fails with the setting, the counts and the largest share that fits."""
    assert len(generate("math", EASY_LEVEL, EASY_TRAIN_UNIQUE, seed=0)) == EASY_TRAIN_UNIQUE
    with pytest.raises(ValueError, match=f"only {EASY_TRAIN_UNIQUE} unique"):
        generate("math", EASY_LEVEL, EASY_TRAIN_UNIQUE + 1, seed=0)
    largest = EASY_TRAIN_UNIQUE // 6 / 100                       # of the 600-problem pool
    assert largest == 0.77
    make_tiny_world(seed=0, easy_share=largest)
    with pytest.raises(ValueError, match=r"data\.easy_share=0\.9 asks for 540 easy .* at "
                                         r"most 0\.77 at this pool size"):
        make_tiny_world(seed=0, easy_share=0.9)


def test_sums_are_worked_out_as_running_sums():
    """Level L sums L+1 numbers in 1..24; the reasoning adds one term per step."""
    for level in MATH_LEVELS:
        for w in generate("math", level, 20, seed=0):
            terms = [int(t) for t in w.problem.prompt.removeprefix("Compute ").rstrip(".")
                     .split("+")]
            assert len(terms) == level + 1 and all(1 <= t <= 24 for t in terms)
            steps = w.reasoning.split(", ")
            assert len(steps) == level
            total = terms[0]
            for step, term in zip(steps, terms[1:]):
                assert step == f"{total}+{term}={total + term}"
                total += term
            assert w.problem.answer == str(total) and w.answer == f"\\boxed{{{total}}}"


def test_splits_disjoint_by_construction_across_seeds():
    """No eval id, prompt or canonical key in any train split or SFT pool of seeds 0-2."""
    eval_ids, eval_prompts, train_ids, train_prompts = set(), set(), set(), set()
    for seed in range(3):
        w = make_tiny_world(seed=seed, **SMALL)
        eval_ids |= {p.id for p in w.problems("eval")}
        eval_prompts |= {p.prompt for p in w.problems("eval")}
        train_ids |= {p.id for p in w.problems("train")}
        train_prompts |= {p.prompt for p in w.problems("train")}
        for domain, levels in (("math", MATH_LEVELS), ("code", CODE_LEVELS)):
            for level in levels:
                pool = generate(domain, level, 200, seed=seed, unique=False, stream="sft")
                train_ids |= {w.problem.id for w in pool}
                train_prompts |= {w.problem.prompt for w in pool}
    assert eval_ids and train_ids
    assert eval_ids.isdisjoint(train_ids)
    assert eval_prompts.isdisjoint(train_prompts)


def test_code_ids_ignore_the_function_name():
    """A code problem's id comes from its family and constants only: a renamed copy of an
    eval task has the eval task's id, so the id check above also covers renames."""
    pool = generate("code", 1, 300, seed=0, unique=False, stream="sft")
    by_id = {}
    for w in pool:
        by_id.setdefault(w.problem.id, set()).add(w.problem.tests["fn_name"])
    assert max(len(names) for names in by_id.values()) >= 2


@pytest.mark.parametrize("key, expected", [
    ("math:3+4*5", "train"),
    ("math:2+3*2", "eval"),
    ("math:3+4*2", "eval"),
    ("math:1/2+1/4", "train"),
    ("math:7+15+9", "train"),
    ("code:add:k=3", "train"),
])
def test_split_of_is_a_fixed_function_of_the_key(key, expected):
    """The split depends on nothing but the key (and the eval fraction); these values pin
    the hash rule, whose change would move problems across the split of earlier data."""
    assert split_of(key) == expected
    assert split_of(key, eval_fraction=0.0) == "train"
    assert split_of(key, eval_fraction=1.0) == "eval"


def test_eval_fraction_of_the_problem_space_is_about_one_fifth():
    """sha256 buckets: about 20% of canonical keys land on the eval side."""
    keys = [f"math:{a}+{b}*{c}" for a in range(1, 10) for b in range(1, 10) for c in range(1, 10)]
    share = sum(split_of(k) == "eval" for k in keys) / len(keys)
    assert 0.17 < share < 0.23


def test_rows_validate_and_round_trip_through_datasets(world, tmp_path):
    """Every row fits the schema; Dataset export and JSONL files load back identically."""
    rows = _rows(world, "train") + _rows(world, "eval")
    problems = validate_records(rows, file="tiny")
    assert len(problems) == len(rows) == 600 + 180 + 200 + 60
    datasets = world.to_datasets()
    assert datasets["eval"].num_rows == 260
    back = from_dataset(datasets["eval"])
    assert [p.to_dict() for p in back] == _rows(world, "eval")

    from srpo_mini.cli import main

    assert main(["make-data", "--out", str(tmp_path / "tiny"), "--seed", "0"]) == 0
    loaded = load_problems([tmp_path / "tiny" / "train.jsonl", tmp_path / "tiny" / "eval.jsonl"])
    assert len(loaded) == 1040


def test_math_golds_verify_in_every_written_form_and_slips_do_not(world):
    """verify_math accepts each listed form of every gold, in a box, and rejects the slips."""
    from srpo_mini.verifiers.math import verify_math_batch

    completions, golds, expected, labels = [], [], [], []
    for problem in world.problems("eval", "math") + world.train["math"][:200]:
        worked = world.worked[problem.id]
        for form in worked.forms:
            completions.append(format_completion("-", f"\\boxed{{{form}}}"))
            golds.append(problem.answer)
            expected.append(True)
            labels.append((problem.prompt, form))
        completions.append(format_completion(worked.reasoning, worked.answer))
        golds.append(problem.answer)
        expected.append(True)
        labels.append((problem.prompt, worked.answer))
        for slip in worked.slips:
            completions.append(format_completion(worked.reasoning, slip))
            golds.append(problem.answer)
            expected.append(False)
            labels.append((problem.prompt, slip))
    results = verify_math_batch(completions, golds)
    wrong = [(label, r.reason) for label, r, want in zip(labels, results, expected)
             if r.correct != want]
    assert wrong == []
    assert len(results) == 4 * (200 + 200)  # each: one form, the worked answer, two slips


def test_code_golds_pass_and_slips_fail():
    """Gold programs pass all their tests; every slipped program fails one."""
    from srpo_mini.verifiers.code import verify_code_batch

    items = []
    for level in CODE_LEVELS:
        for w in generate("code", level, 8, seed=0, split="eval"):
            items.append((format_completion(w.reasoning, w.answer), w.problem.tests, True))
            assert w.slips, w.problem.prompt  # every code task has a visible slip
            items.append((format_completion(w.reasoning, w.slips[0]), w.problem.tests, False))
    results = verify_code_batch([c for c, _, _ in items], [t for _, t, _ in items])
    assert [r.passed for r in results] == [want for _, _, want in items]


def test_worked_completions_are_short(world):
    """Completions (answer or slip, EOS included) fit the tiny preset's 80 new tokens."""
    from srpo_mini.model import build_tokenizer

    tokenizer = build_tokenizer()
    lengths = {}
    for problem in world.problems("train"):
        worked = world.worked[problem.id]
        for answer in (worked.answer, *worked.slips):
            n = len(tokenizer(format_completion(worked.reasoning, answer)).input_ids) + 1
            lengths.setdefault(problem.domain, []).append(n)
    assert max(lengths["math"]) <= 72
    assert max(lengths["code"]) <= 64
    assert 25 <= sum(lengths["math"]) / len(lengths["math"]) <= 50
    assert 30 <= sum(lengths["code"]) / len(lengths["code"]) <= 55
