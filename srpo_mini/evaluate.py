"""Held-out evaluation: greedy accuracy, pass@1 over n samples, and unbiased pass@k.

For each problem the model is decoded once greedily and sampled n times at a temperature;
with c of the n samples correct, the unbiased estimator of pass@k (the chance that at least
one of k samples is correct) is

    pass@k = 1 - C(n - c, k) / C(n, k)          (Chen et al. 2021, "Evaluating Large
                                                 Language Models Trained on Code", eq. 1)

averaged over problems. pass@1 is then the mean accuracy of the samples, c / n. Results
are reported per domain, per (domain, difficulty) and overall ("all"), together with
one row per problem. Completions are judged by `srpo_mini.verifiers.check_completions`,
the same rule as the training reward.

Result layout (every rate a float in [0, 1]):

    result["summary"][domain]              domain in "math", "code", "all"
        n_problems, greedy_accuracy (when greedy), pass@k for each k <= n_samples,
        mean_length (tokens per sample), truncated (fraction of samples cut at
        max_new_tokens)
    result["levels"][domain][level]        the same keys; level is the difficulty as a
                                           string ("1", "2", ...; "-" when missing)
    result["rows"]                         per problem: id, domain, difficulty, n, correct
                                           (c), pass@1, greedy_correct, greedy_completion,
                                           sample (the first sampled completion)
    result["settings"]                     template, n_samples, k_values, temperature,
                                           max_new_tokens, seed, code_isolation (the
                                           code sandbox's level; None without code)
    result["seconds"]                      generate, verify

`flat_metrics(result)` gives the `eval/{domain}/...` keys of `srpo_mini.metrics`.

Differences from the paper: SRPO reports pass@1 averaged over 32 samples on AIME24 and
LiveCodeBench; here n is configurable and small by default, for a CPU.
"""

from __future__ import annotations

import time
from collections import defaultdict

from .data.schema import DOMAINS
from .prompts import render_prompt
from .verifiers import check_completions
from .verifiers.sandbox import detect_isolation, isolation_note


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: 1 - C(n-c, k) / C(n, k), computed stably.

    Args:
        n: samples drawn (n >= 1); c: correct among them (0 <= c <= n); k: 1 <= k <= n.
    Returns:
        The probability that a random k-subset of the n samples holds a correct one.

    The ratio of binomials is the product  prod_{i=n-c+1}^{n} (1 - k / i), which never
    forms a large factorial (C(200, 100) has 59 digits).
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        all_wrong *= 1.0 - k / i
    return 1.0 - all_wrong


def _rates(rows: list[dict], k_values: list[int], n_samples: int, greedy: bool) -> dict:
    """Mean greedy accuracy and pass@k of some problems' rows."""
    if not rows:
        return {"n_problems": 0}
    stats: dict = {"n_problems": len(rows)}
    if greedy:
        stats["greedy_accuracy"] = sum(r["greedy_correct"] for r in rows) / len(rows)
    for k in k_values:
        if k <= n_samples:
            stats[f"pass@{k}"] = sum(pass_at_k(r["n"], r["correct"], k) for r in rows) / len(rows)
    samples = len(rows) * n_samples
    if samples:
        stats["mean_length"] = sum(r["_length"] for r in rows) / samples
        stats["truncated"] = sum(r["_truncated"] for r in rows) / samples
    return stats


def _generate(model, tokenizer, prompts: list[str], *, group_size: int, greedy: bool,
              temperature: float, max_new_tokens: int, batch_size: int, seed: int,
              progress) -> list[tuple[str, int, bool]]:
    """(text, length, truncated) for group_size completions of each prompt, row i*G + j.

    Prompts go to the sampler in chunks of similar length (less padding), each chunk with
    its own seed, so results do not depend on how other chunks went.
    """
    from .sampler import generate_rollouts

    order = sorted(range(len(prompts)), key=lambda i: len(tokenizer(prompts[i]).input_ids))
    per_chunk = max(1, batch_size // group_size)
    out: list = [None] * (len(prompts) * group_size)
    for chunk_index, start in enumerate(range(0, len(order), per_chunk)):
        chunk = order[start:start + per_chunk]
        batch = generate_rollouts(model, tokenizer, [prompts[i] for i in chunk],
                                  group_size=group_size, max_new_tokens=max_new_tokens,
                                  temperature=temperature, greedy=greedy,
                                  seed=seed + chunk_index)
        lengths = batch.completion_lengths.tolist()
        for row, text in enumerate(batch.texts):
            prompt_index = chunk[row // group_size]
            out[prompt_index * group_size + row % group_size] = (
                text, int(lengths[row]), bool(batch.truncated[row]))
        if progress is not None:
            progress.update(len(chunk))
    return out


def evaluate(model, tokenizer, problems, *, template: str = "compact", n_samples: int = 4,
             k_values=(1,), temperature: float = 1.0, max_new_tokens: int = 96,
             greedy: bool = True, batch_size: int = 256, seed: int = 0,
             code_pass_fraction: bool = False, timeout: float = 2.0,
             workers: int | None = None, progress: bool = False) -> dict:
    """Evaluate a model on problems: greedy accuracy, pass@1 over n samples, pass@k.

    Args:
        model, tokenizer: a causal LM and its tokenizer (left padding).
        problems: `Problem`s of either domain.
        template: prompt template name (`srpo_mini.prompts`).
        n_samples: samples per problem at `temperature` (0 = greedy only).
        k_values: the k of each pass@k; k > n_samples is skipped.
        max_new_tokens: completion length cap (a cut completion is judged as written).
        greedy: also decode once greedily per problem.
        batch_size: completions per generate() call.
        seed: sampling seed (same seed, same samples on the same device).
        code_pass_fraction: forwarded to the verifier (code `score`); correctness, and so
            every rate here, still needs every test to pass.
        timeout, workers: forwarded to the verifiers.
        progress: show a tqdm bar over problems.
    Returns:
        The dict described in the module docstring.
    """
    problems = list(problems)
    if not problems:
        raise ValueError("evaluate: no problems")
    k_values = sorted(set(int(k) for k in k_values))
    prompts = [render_prompt(p, template, tokenizer) for p in problems]
    was_training = model.training
    model.eval()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(problems) * (int(greedy) + int(n_samples > 0)), desc="eval",
                   unit="problem", leave=False)
    started = time.perf_counter()
    try:
        greedy_out = (_generate(model, tokenizer, prompts, group_size=1, greedy=True,
                                temperature=1.0, max_new_tokens=max_new_tokens,
                                batch_size=batch_size, seed=seed, progress=bar)
                      if greedy else [])
        sampled = (_generate(model, tokenizer, prompts, group_size=n_samples, greedy=False,
                             temperature=temperature, max_new_tokens=max_new_tokens,
                             batch_size=batch_size, seed=seed, progress=bar)
                   if n_samples > 0 else [])
    finally:
        model.train(was_training)
        if bar is not None:
            bar.close()
    generated = time.perf_counter()

    rows_problems = list(problems) + [p for p in problems for _ in range(n_samples)]
    texts = [t for t, _, _ in greedy_out] + [t for t, _, _ in sampled]
    if not greedy:
        rows_problems = rows_problems[len(problems):]
    checks = check_completions(rows_problems, texts, code_pass_fraction=code_pass_fraction,
                               timeout=timeout, workers=workers)
    greedy_checks, sample_checks = (checks[:len(problems)], checks[len(problems):]) if greedy \
        else ([], checks)

    rows = []
    for i, problem in enumerate(problems):
        mine = slice(i * n_samples, (i + 1) * n_samples)
        correct = sum(c.correct for c in sample_checks[mine])
        row = {"id": problem.id, "domain": problem.domain, "difficulty": problem.difficulty,
               "n": n_samples, "correct": correct,
               "pass@1": correct / n_samples if n_samples else None,
               "_length": sum(length for _, length, _ in sampled[mine]),
               "_truncated": sum(cut for _, _, cut in sampled[mine])}
        if greedy:
            row["greedy_correct"] = bool(greedy_checks[i].correct)
            row["greedy_completion"] = greedy_out[i][0]
        if n_samples:
            row["sample"] = sampled[i * n_samples][0]
        rows.append(row)

    groups: dict = defaultdict(list)
    for row in rows:
        level = "-" if row["difficulty"] is None else str(row["difficulty"])
        groups[(row["domain"], None)].append(row)
        groups[(row["domain"], level)].append(row)
    summary = {domain: _rates(groups[(domain, None)], k_values, n_samples, greedy)
               for domain in DOMAINS if groups.get((domain, None))}
    summary["all"] = _rates(rows, k_values, n_samples, greedy)
    levels: dict = defaultdict(dict)
    for (domain, level), members in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        if level is not None:
            levels[domain][level] = _rates(members, k_values, n_samples, greedy)
    for row in rows:
        del row["_length"], row["_truncated"]
    isolation = detect_isolation() if "code" in summary else None  # cached: no new probe
    return {"summary": summary, "levels": dict(levels), "rows": rows,
            "settings": {"template": template, "n_samples": n_samples, "k_values": k_values,
                         "temperature": temperature, "max_new_tokens": max_new_tokens,
                         "greedy": greedy, "seed": seed, "code_isolation": isolation},
            "seconds": {"generate": generated - started,
                        "verify": time.perf_counter() - generated}}


def flat_metrics(result: dict, prefix: str = "eval") -> dict[str, float]:
    """`{prefix}/{domain}/greedy_accuracy` and `{prefix}/{domain}/pass@{k}` per domain."""
    flat = {}
    for domain, stats in result["summary"].items():
        if domain == "all":
            continue
        for key, value in stats.items():
            if key == "greedy_accuracy" or key.startswith("pass@"):
                flat[f"{prefix}/{domain}/{key}"] = value
    return flat


def format_report(result: dict) -> str:
    """A table of the rates per domain and level, as `make-base` and `eval` print it."""
    settings = result["settings"]
    ks = [f"pass@{k}" for k in settings["k_values"] if k <= settings["n_samples"]]
    columns = (["greedy_accuracy"] if settings["greedy"] else []) + ks
    names = {"greedy_accuracy": "greedy"}
    header = f"{'domain':<8}{'level':>6}{'n':>6}" + "".join(f"{names.get(c, c):>9}" for c in columns)
    lines = [f"held-out accuracy (n_samples={settings['n_samples']}, "
             f"temperature={settings['temperature']})", header]

    def line(domain, level, stats):
        cells = "".join(f"{stats.get(c, float('nan')):>9.3f}" for c in columns)
        return f"{domain:<8}{level:>6}{stats['n_problems']:>6}" + cells

    for domain in DOMAINS:
        if domain not in result["summary"]:
            continue
        for level, stats in sorted(result["levels"].get(domain, {}).items()):
            lines.append(line(domain, level, stats))
        lines.append(line(domain, "all", result["summary"][domain]))
    if isolation_note(settings.get("code_isolation")):  # a weaker code sandbox was asked for
        lines.append(isolation_note(settings["code_isolation"]))
    return "\n".join(lines)
