"""The run configuration: one dataclass tree, two presets, YAML files and `KEY=VALUE` overrides.

Every setting of a run lives in `Config`. Each field is declared with `option(default, doc,
choices / bounds)`, so its documentation and its valid range sit next to it, once; the
documentation is also what `dump_yaml` writes above the field, so a run's `config.yaml` and
`srpo-mini train --print-config` explain themselves. A config is resolved in this order,
each layer naming only what it changes:

    preset (`tiny` by default)  ->  YAML file (--config)  ->  KEY=VALUE overrides  ->  validate

    srpo-mini train sampling.group_size=16 stages.0.steps=20 loss.beta=0.01 \
        "stages.1.mixture={math: 0.7, code: 0.3}"

Override values are parsed as YAML (`8`, `0.5`, `1e-4`, `true`, `null`, `[1, 4]`) and
coerced to the field's type; a list in a YAML file or an override replaces the preset's
list (see `srpo_mini.options`). `validate` stops a run before any work with one message
that names every field at fault.

References: SRPO (arXiv 2504.14286): two training stages, history resampling, no KL term.
DAPO (arXiv 2503.14476): clip-higher eps 0.2 / 0.28 (sec. 3.1), dynamic sampling (3.2),
token-level loss (3.3), overlong reward shaping (3.4), learning rate 1e-6 with 20 warmup
steps. Dr. GRPO (arXiv 2503.20783): no std scaling, constant normalizer. GRPO (DeepSeekMath,
arXiv 2402.03300, sec. 4): mu updates per rollout batch, k3 KL with beta 0.04, G = 64.

Differences from the paper: the `tiny` preset's sizes are chosen for a CPU, not taken from
a paper; re-admitting dropped prompts and the `epochs` / `plateau` / `end` switch rules go
beyond SRPO, whose stages are switched by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .data.schema import DOMAINS
from .options import ConfigError, apply_overrides, check_options, from_dict, option, to_dict
from .options import dump_yaml as _dump_yaml

__all__ = ["Config", "ConfigError", "apply_overrides", "config_from_args", "default_stages",
           "dump_yaml", "from_dict", "get_preset", "load_yaml", "resolve_config", "save_yaml",
           "stage_domain_errors", "to_dict", "validate", "validate_rewards", "validate_sections",
           "validate_stages"]


@dataclass
class RunConfig:
    """Where the run writes, and how it is seeded and placed."""

    name: str = option("tiny", "Run directory name: everything is written to "
                       "<output_dir>/<name>/ (metrics, ledger, checkpoints, plots).")
    output_dir: str = option("runs", "Parent directory of run directories.")
    seed: int = option(0, "Seeds python, numpy and torch, the data order and every rollout; "
                       "the same seed and config give the same run on CPU.", ge=0)
    device: str = option("auto", "auto (CUDA when available, else CPU), cpu, cuda, cuda:N "
                         "or mps.")
    dtype: str = option("auto", "Weights and compute dtype. auto = bfloat16 on GPU, float32 on "
                        "CPU (CPU bf16 matmuls are slow and lossy); float16 risks overflow in "
                        "the log-probs.", choices=("auto", "float32", "bfloat16", "float16"))
    threads: int | None = option(1, "torch CPU threads; null = torch's default (one per core). "
                                 "1 is fastest for the tiny model: its matmuls are too small "
                                 "to split, and the verifiers' worker processes use the other "
                                 "cores.", ge=1)


@dataclass
class ModelConfig:
    """The policy being trained."""

    name_or_path: str | None = option(None, "Hub id or local save_pretrained directory. null "
                                      "= the offline tiny base, built or reused by "
                                      "srpo_mini.base.ensure_tiny_base.")
    template: str = option("compact", "Prompt template (srpo_mini.prompts): r1_zero is the "
                           "SRPO / R1-Zero text; compact keeps its tags with a one-line "
                           "preamble (the tiny world); chat uses the tokenizer's chat template "
                           "(instruct models).", choices=("compact", "r1_zero", "chat"))
    gradient_checkpointing: bool = option(False, "Recompute activations in backward: slower "
                                          "steps for much less memory on long completions.")


@dataclass
class HubDataset:
    """One dataset read by srpo_mini.data.adapters.load_hub_dataset."""

    path: str = option("openai/gsm8k", "Hub dataset id (needs the network) or a local file or "
                       "folder in the same column layout (offline).")
    adapter: str | None = option(None, "Adapter mapping the dataset's columns to the problem "
                                 "schema: gsm8k, math, mbpp, humaneval, apps, taco, "
                                 "livecodebench, codecontests. null = detect from the name "
                                 "and columns.")
    subset: str | None = option(None, "Hub configuration name (main for GSM8K, full for "
                                "MBPP); null = the adapter's default.")
    split: str = option("train", "Split to read.")
    limit: int | None = option(None, "Read at most this many rows; null = all.", ge=1)


@dataclass
class DataConfig:
    """Training and held-out problems; with no files and no hub datasets, the tiny world."""

    train_files: list[str] = option([], "Training files in the problem schema (.jsonl, .json, "
                                     ".parquet). Empty, with no train_hub = the tiny world's "
                                     "train split.")
    eval_files: list[str] = option([], "Held-out files in the schema. Empty, with no eval_hub "
                                    "= the tiny world's eval split.")
    train_hub: list[HubDataset] = option([], "Training datasets read through hub adapters, "
                                         "added to train_files.")
    eval_hub: list[HubDataset] = option([], "Held-out datasets read through hub adapters, "
                                        "added to eval_files.")
    easy_share: float = option(0.5, "Tiny world only: share of the math training pool from "
                               "the easy level (two-term sums, which the base often solves "
                               "even with a direct answer). It sets how many of GRPO's groups "
                               "end all-correct (the paper: nearly half of the groups in "
                               "mid-to-late training). At most 0.77: the easy level has 462 "
                               "distinct training problems.", ge=0.0, le=1.0)
    train_limit: int | None = option(None, "Keep N training problems of each domain, a random "
                                     "subset drawn with run.seed; null = all. A smaller pool "
                                     "makes epochs, and so history resampling, come sooner.",
                                     ge=1)
    eval_limit: int | None = option(None, "Keep N held-out problems of each domain, the same "
                                    "seeded subset in every run (seed 0) so runs compare; "
                                    "each costs eval.n_samples + 1 decodes per evaluation. "
                                    "null = all.", ge=1)
    drop_ungradable_golds: bool = option(False, "A math gold the verifier cannot read (free "
                                         "text, a proof, unsupported notation; `srpo-mini "
                                         "check-data` lists them) stops loading with an error "
                                         "naming file, row and gold; true drops those "
                                         "problems instead, with a warning counting them per "
                                         "file and kind.")


@dataclass
class SamplingConfig:
    """How rollouts are generated (srpo_mini.sampler)."""

    group_size: int = option(8, "G, completions per prompt. Advantages compare completions "
                             "within a group, so G >= 2; a larger G finds mixed outcomes on "
                             "harder prompts at G times the generation cost (DAPO uses 16, "
                             "DeepSeekMath 64).", ge=2)
    prompts_per_step: int = option(16, "B, prompts per rollout batch; a step trains on B * G "
                                   "completions.", ge=1)
    max_new_tokens: int = option(80, "Completion length cap; longer completions are cut and "
                                 "handled by rewards.truncation.", ge=1)
    temperature: float = option(1.0, "Sampling temperature, also applied to the logits of the "
                                "log-prob pass. 1.0 samples the policy itself; lower values "
                                "give fewer mixed groups.", gt=0)
    top_p: float = option(1.0, "Nucleus sampling mass; 1.0 = off, so the ratio compares the "
                          "policy with itself.", gt=0, le=1)
    top_k: int = option(0, "Top-k sampling; 0 = off.", ge=0)
    generation_batch_size: int | None = option(None, "Completions per generate() call, to "
                                               "bound memory; null = the whole step at once.",
                                               ge=1)


@dataclass
class LossConfig:
    """The clipped policy-gradient loss (srpo_mini.grpo, srpo_mini.update)."""

    clip_eps_low: float = option(0.2, "The ratio is clipped below at 1 - eps where the "
                                 "advantage is negative (PPO's eps; DAPO keeps 0.2).", ge=0, lt=1)
    clip_eps_high: float = option(0.28, "The ratio is clipped above at 1 + eps where the "
                                  "advantage is positive. Clip-higher (DAPO sec. 3.1): above "
                                  "clip_eps_low so unlikely good tokens can gain probability, "
                                  "which delays entropy collapse.", ge=0)
    aggregation: str = option("token", "token: sum over every completion token of the batch / "
                              "their number (DAPO sec. 3.3, SRPO): each token weighs the same. "
                              "sequence: mean of per-completion means (original GRPO): "
                              "tokens of long answers weigh less. constant: sum / (B*G * "
                              "max_new_tokens) (Dr. GRPO).",
                              choices=("token", "sequence", "constant"))
    advantage_scale: str = option("std", "std: (r - group mean) / (group std + adv_eps) "
                                  "(GRPO). none: r - group mean (Dr. GRPO: no extra weight on "
                                  "groups whose rewards barely differ).", choices=("std", "none"))
    adv_eps: float = option(1e-4, "Added to the group std (as TRL's GRPOTrainer) so an "
                            "all-equal group gets advantage 0, not 0/0.", ge=0)
    beta: float = option(0.0, "Weight of the k3 KL penalty to the initial model. 0 as SRPO and "
                         "DAPO (no reference model is loaded); DeepSeekMath used 0.04.", ge=0)


@dataclass
class OptimConfig:
    """AdamW, warmup then constant learning rate, micro-batches, sample reuse."""

    lr: float = option(1e-4, "Peak learning rate, constant after warmup. Sized for the tiny "
                       "model; large models use about 1e-6 (DAPO, DeepSeekMath).", gt=0)
    warmup_steps: int = option(2, "Linear warmup from 0 over this many optimizer steps "
                               "(DAPO: 20), then constant.", ge=0)
    weight_decay: float = option(0.0, "AdamW decoupled weight decay.", ge=0)
    betas: list[float] = option([0.9, 0.999], "AdamW (beta1, beta2), PyTorch's defaults.",
                                ge=0, lt=1)
    max_grad_norm: float | None = option(1.0, "Clip the global gradient norm to this; null = "
                                         "no clipping. grad_norm is logged before clipping.",
                                         gt=0)
    micro_batch_size: int = option(32, "Completions per forward/backward pass. Gradients "
                                   "accumulate to the same result for any split; lower it to "
                                   "save memory.", ge=1)
    mu: int = option(1, "Optimizer updates per rollout batch (GRPO's mu), each over the whole "
                     "batch. 1 = on-policy (ratio 1, clipping idle); more reuses samples, and "
                     "clipping starts to matter.", ge=1)
    max_nan_skips: int = option(3, "A NaN/Inf loss or gradient skips the update; this many "
                                "skips in a row abort the run with a message.", ge=0)


@dataclass
class RewardsConfig:
    """How verifier outcomes become rewards (srpo_mini.rewards)."""

    format_weight: float = option(0.0, "Added to the reward when the completion has the "
                                  "template's tag structure. 0 = accuracy only, as SRPO; a "
                                  "small value helps a base model that ignores the tags.", ge=0,
                                  lt=math.inf)
    code_pass_fraction: bool = option(False, "Code reward = fraction of tests passed, instead "
                                      "of 1 only when all pass: a denser signal that also "
                                      "rewards partly wrong programs.")
    truncation: str = option("zero", "Completions cut at max_new_tokens: zero = reward 0 "
                             "(no answer was given); mask = reward 0 and left out of the loss; "
                             "soft_overlong = DAPO's overlong punishment (sec. 3.4) over the "
                             "last overlong_buffer tokens.",
                             choices=("zero", "mask", "soft_overlong"))
    overlong_buffer: int = option(16, "soft_overlong only: the penalty grows linearly from 0 to "
                                  "-1 over the last this many tokens before max_new_tokens "
                                  "(DAPO: 4096 of 20480).", ge=1)
    verify_timeout: float = option(2.0, "Seconds per math check and per code test case; a "
                                   "timeout gives reward 0 with the reason counted.", gt=0)
    code_total_timeout: float = option(10.0, "Seconds for all tests of one code program "
                                       "together: a program whose every test runs just "
                                       "under verify_timeout is stopped here (the rest of "
                                       "its tests fail), so no row holds a step longer.",
                                       gt=0)
    math_extraction: str = option("strict", "How the math reward finds a completion's answer: "
                                  "strict = the last \\boxed{} or <answer> tag only (the "
                                  "format is part of the task, a number that merely appears "
                                  "earns nothing); lenient = also 'final answer is', "
                                  "'Answer:' lines, the last math span, the last number (the "
                                  "default of `srpo-mini eval` and `verify-math`). See "
                                  "docs/math_verifier.md.", choices=("strict", "lenient"))
    code_memory_mb: int = option(512, "Address-space limit of each sandboxed program.", ge=16)
    verify_workers: int | None = option(None, "Parallel verifier processes; null = CPU cores.",
                                        ge=1)


@dataclass
class ResamplingConfig:
    """Which prompts each epoch trains on (srpo_mini.resampling)."""

    strategy: str = option("srpo", "srpo: history resampling; at each epoch boundary drop the "
                           "prompts whose rollouts were all correct, keep mixed and all-wrong "
                           "ones (SRPO). none: every prompt every epoch (vanilla GRPO). dapo: "
                           "dynamic sampling; inside each batch drop groups whose rewards are "
                           "all equal and generate more to refill (DAPO sec. 3.2).",
                           choices=("srpo", "none", "dapo"))
    readmit_after_epochs: int | None = option(None, "srpo only, beyond the paper: a dropped "
                                              "prompt returns after this many epochs (the "
                                              "policy may forget it). null = never.", ge=1)
    readmit_prob: float = option(0.0, "srpo only, beyond the paper: each dropped prompt "
                                 "returns at each epoch boundary with this probability.",
                                 ge=0, le=1)
    dapo_max_rounds: int = option(3, "dapo only: extra generation rounds per step to refill "
                                  "the batch; then the step trains on what it has.", ge=0)


@dataclass
class StageConfig:
    """One training stage: its domains, their mixture, and the rule that ends it."""

    name: str = option("math", "Stage name, logged as `stage` and shown in plots.")
    domains: list[str] = option(["math"], f"Domains the stage trains on ({', '.join(DOMAINS)}).")
    mixture: dict[str, float] = option({}, "Share of each domain in the stage's epochs, e.g. "
                                       "{math: 0.5, code: 0.5}; weights are normalised and "
                                       "name every domain of the stage. Empty = the union of "
                                       "the domains' pools, as the data has it.")
    switch: str = option("steps", "When the stage ends (the next begins, or the run ends after "
                         "the last one): steps = after `steps` steps; epochs = after `epochs` "
                         "passes over its pool; plateau = when the plateau_window-step moving "
                         "average of the training reward has not risen by plateau_min_delta "
                         "above its best for plateau_patience checks (srpo_mini.schedule); "
                         "end = last stage only, when history resampling has dropped every "
                         "prompt as solved. Any rule also stops at max_steps.",
                         choices=("steps", "epochs", "plateau", "end"))
    steps: int | None = option(None, "switch=steps: steps in this stage.", ge=1)
    epochs: int | None = option(None, "switch=epochs: passes over the pool in this stage.", ge=1)
    plateau_window: int = option(10, "switch=plateau: steps per moving average.", ge=1)
    plateau_min_delta: float = option(0.01, "switch=plateau: smallest rise of the moving "
                                      "average that counts as progress.", ge=0)
    plateau_patience: int | None = option(None, "switch=plateau: checks without progress "
                                          "before the switch; null = plateau_window.", ge=1)
    max_steps: int | None = option(None, "Cap on the stage's steps under any rule; required by "
                                   "plateau and end, which may otherwise never fire.", ge=1)


def default_stages(stage1_steps: int = 120, stage2_steps: int = 50) -> list[StageConfig]:
    """SRPO's schedule: stage 1 math only (grow long reasoning), stage 2 math and code half
    and half. The run's default (`stages`) and the TRL integration's."""
    return [StageConfig(name="math", domains=["math"], switch="steps", steps=stage1_steps),
            StageConfig(name="math+code", domains=["math", "code"],
                        mixture={"math": 0.5, "code": 0.5}, switch="steps",
                        steps=stage2_steps)]


@dataclass
class EvalConfig:
    """Held-out evaluation per domain (srpo_mini.evaluate)."""

    every_steps: int = option(60, "Evaluate every N steps; the base model before training and "
                              "the final model are always evaluated. 0 = only those two.", ge=0)
    n_samples: int = option(4, "Samples per problem, at sampling.temperature, for pass@1 and "
                            "the unbiased pass@k; more samples, less variance.", ge=1)
    k_values: list[int] = option([1, 4], "The k of each reported pass@k; each k <= n_samples.",
                                 ge=1)
    greedy: bool = option(True, "Also report greedy accuracy (one decode per problem).")


@dataclass
class CheckpointConfig:
    """Atomic checkpoints for exact resume (srpo_mini.checkpoint)."""

    every_steps: int = option(50, "Save every N steps; 0 = only at stage switches and the "
                              "end.", ge=0)
    keep_last: int = option(2, "Keep the newest K checkpoints, delete older ones.", ge=1)
    at_stage_switch: bool = option(True, "Also save when a stage ends, so the next stage can "
                                   "be rerun from its start.")


@dataclass
class LoggingConfig:
    """What the run shows and records while it trains (srpo_mini.metrics)."""

    progress: bool = option(True, "tqdm progress bar with stage, reward and pool counts.")
    tensorboard: bool = option(False, "Also write TensorBoard scalars to <run>/tensorboard "
                               "(needs the tensorboard package).")
    entropy: bool = option(False, "Also compute the policy's token entropy for the metrics "
                           "(one more softmax per micro-batch).")


@dataclass
class Config:
    """Everything a run needs; see each section."""

    run: RunConfig = option(RunConfig())
    model: ModelConfig = option(ModelConfig())
    data: DataConfig = option(DataConfig())
    sampling: SamplingConfig = option(SamplingConfig())
    loss: LossConfig = option(LossConfig())
    optim: OptimConfig = option(OptimConfig())
    rewards: RewardsConfig = option(RewardsConfig())
    resampling: ResamplingConfig = option(ResamplingConfig())
    stages: list[StageConfig] = option(default_stages(), "Stages in order; the run ends when "
                                       "the last one does.")
    eval: EvalConfig = option(EvalConfig())
    checkpoint: CheckpointConfig = option(CheckpointConfig())
    logging: LoggingConfig = option(LoggingConfig())

    @property
    def run_dir(self) -> Path:
        """`<run.output_dir>/<run.name>`."""
        return Path(self.run.output_dir) / self.run.name


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------

def tiny_preset() -> Config:
    """The default: the tiny base model on the offline tiny world, CPU-sized steps."""
    return Config()


def gpu_05b_preset() -> Config:
    """A ~0.5B instruct model on one GPU in bf16: GSM8K + MATH, then + MBPP (needs the hub)."""
    config = Config()
    config.run.name, config.run.dtype = "qwen2.5-0.5b", "bfloat16"
    config.model = ModelConfig(name_or_path="Qwen/Qwen2.5-0.5B-Instruct", template="chat")
    config.data = DataConfig(
        train_hub=[HubDataset("openai/gsm8k", "gsm8k", subset="main", split="train"),
                   HubDataset("DigitalLearningGmbH/MATH-lighteval", "math", split="train"),
                   HubDataset("google-research-datasets/mbpp", "mbpp", subset="full",
                              split="train")],
        eval_hub=[HubDataset("openai/gsm8k", "gsm8k", subset="main", split="test"),
                  HubDataset("HuggingFaceH4/MATH-500", "math", split="test"),
                  HubDataset("google-research-datasets/mbpp", "mbpp", subset="full",
                             split="test")],
        train_limit=None, eval_limit=200)
    config.sampling = SamplingConfig(group_size=8, prompts_per_step=32, max_new_tokens=1024,
                                     generation_batch_size=256)
    config.optim = OptimConfig(lr=1e-6, warmup_steps=10, micro_batch_size=8)
    config.rewards = RewardsConfig(truncation="soft_overlong", overlong_buffer=256)
    config.stages = [StageConfig(name="math", domains=["math"], switch="steps", steps=200),
                     StageConfig(name="math+code", domains=["math", "code"],
                                 mixture={"math": 0.5, "code": 0.5}, switch="steps",
                                 steps=200)]
    config.eval = EvalConfig(every_steps=50, n_samples=4, k_values=[1, 4])
    config.checkpoint = CheckpointConfig(every_steps=50, keep_last=2)
    return config


PRESETS = {"tiny": tiny_preset, "gpu_0.5b": gpu_05b_preset}


def get_preset(name: str) -> Config:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise ConfigError([("preset", f"unknown preset {name!r}; choose from "
                                      f"{', '.join(PRESETS)}")])
    return PRESETS[name]()


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def dump_yaml(config: Config, *, comments: bool = True) -> str:
    """YAML text of the config; with `comments`, each field's doc is written above it."""
    return _dump_yaml(config, comments=comments,
                      header="srpo_mini config; use with `srpo-mini train --config FILE`.")


def save_yaml(config: Config, path: str | Path) -> Path:
    """Write `dump_yaml(config)` to `path` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(config), encoding="utf-8")
    return path


def load_yaml(path: str | Path, base: Config | None = None) -> Config:
    """A config from a YAML file, applied over `base` (default: the `tiny` preset)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([("--config", f"config file not found: {path}")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError([("--config", f"{path} is not valid YAML: {err}")]) from None
    return from_dict(data or {}, Config, base=base if base is not None else tiny_preset())


# --------------------------------------------------------------------------------------------
# Validation: each field's choices and bounds (`option`), then the rules that tie fields
# together. Each rule is written once, here; the components that take a section (rewards,
# schedule, prompt pool, update) call the validator of that section.
# --------------------------------------------------------------------------------------------

def validate(config: Config, available_domains=None) -> None:
    """Raise `ConfigError` listing every invalid field; return None when the config is sound.

    Args:
        config: the resolved config.
        available_domains: the domains the loaded training data has (e.g. {"math"}); when
            given, a stage naming another domain is an error.
    """
    errors = check_options(config)

    def need(ok: bool, path: str, message: str) -> None:
        if not ok:
            errors.append((path, message))

    run, loss = config.run, config.loss
    need(bool(run.name) and not set("/\\") & set(run.name) and run.name not in (".", ".."),
         "run.name", f"must be a plain directory name, got {run.name!r}")
    need(run.device in ("auto", "cpu", "cuda", "mps") or
         (run.device.startswith("cuda:") and run.device[5:].isdigit()),
         "run.device", f"must be auto, cpu, cuda, cuda:N or mps, got {run.device!r}")
    from .data.adapters import ADAPTERS  # light: `datasets` loads only when data does

    for part in ("train_hub", "eval_hub"):
        for i, hub in enumerate(getattr(config.data, part)):
            need(bool(hub.path), f"data.{part}.{i}.path", "must name a dataset or a file")
            need(hub.adapter is None or hub.adapter in ADAPTERS, f"data.{part}.{i}.adapter",
                 f"unknown adapter {hub.adapter!r}; choose from {', '.join(sorted(ADAPTERS))}")
    need(loss.adv_eps > 0 or loss.advantage_scale != "std", "loss.adv_eps",
         "must be > 0 with advantage_scale=std (an all-equal group would be 0/0)")
    need(len(config.optim.betas) == 2, "optim.betas",
         f"must be two numbers (beta1, beta2), got {config.optim.betas}")
    need(bool(config.eval.k_values) and max(config.eval.k_values) <= config.eval.n_samples,
         "eval.k_values", f"each k must be <= eval.n_samples = {config.eval.n_samples}, got "
                          f"{config.eval.k_values}")
    errors += _reward_rules(config.rewards, config.sampling.max_new_tokens)
    errors += _stage_rules(config.stages, available_domains)
    if errors:
        raise ConfigError(errors)


def validate_sections(config: Config, *names: str) -> None:
    """Raise `ConfigError` for the fields of the named sections (`"loss", "optim"`) outside
    their choices or bounds: the check of a component that reads only those sections."""
    errors = [e for name in names for e in check_options(getattr(config, name), name)]
    if errors:
        raise ConfigError(errors)


def validate_rewards(rewards: RewardsConfig, max_new_tokens: int | None) -> None:
    """Raise `ConfigError` unless `rewards` is sound for completions capped at
    `max_new_tokens` (`sampling.max_new_tokens`; None: unknown, soft_overlong refuses)."""
    errors = check_options(rewards, "rewards") + _reward_rules(rewards, max_new_tokens)
    if errors:
        raise ConfigError(errors)


def _reward_rules(rewards: RewardsConfig, max_new_tokens: int | None) -> list:
    if rewards.truncation != "soft_overlong":
        return []
    if max_new_tokens is None:
        return [("rewards.truncation", "soft_overlong needs the completion cap "
                                       "(sampling.max_new_tokens)")]
    # `<`: a buffer as long as the cap would penalise every completion by its length, a
    # length penalty rather than DAPO's shaping of the overlong ones.
    if rewards.overlong_buffer < max_new_tokens:
        return []
    return [("rewards.overlong_buffer", f"must be < sampling.max_new_tokens = "
                                        f"{max_new_tokens} with soft_overlong, got "
                                        f"{rewards.overlong_buffer}")]


def validate_stages(stages: list[StageConfig], available_domains=None) -> None:
    """Raise `ConfigError` listing every invalid field of `stages` (as `stages.<i>.<field>`).

    available_domains: the domains the training data has; a stage naming another fails.
    """
    errors = [e for i, stage in enumerate(stages) for e in check_options(stage, f"stages.{i}")]
    errors += _stage_rules(stages, available_domains)
    if errors:
        raise ConfigError(errors)


def stage_domain_errors(name: str, domains, mixture, available_domains=None,
                        at: str = "stage") -> list[tuple[str, str]]:
    """(field, message) for each rule a stage's domains and mixture break.

    name: the stage's name; domains: its domains; mixture: {domain: weight}, or empty for
    as the data has it; available_domains: the domains the training data has (None: not
    checked); at: the stage's path in messages (`stages.1`).
    """
    errors = []
    if not domains:
        errors.append((f"{at}.domains", "must name at least one domain"))
    available = set(available_domains) if available_domains is not None else None
    for domain in domains:
        if domain not in DOMAINS:
            errors.append((f"{at}.domains", f"unknown domain {domain!r}; domains are "
                                            f"{', '.join(DOMAINS)}"))
        elif available is not None and domain not in available:
            errors.append((f"{at}.domains", f"stage {name!r} trains on {domain!r} but the "
                                            f"training data has no {domain} problems (it "
                                            f"has: {', '.join(sorted(available)) or 'none'})"))
    if mixture:
        # Equal, not a subset: a domain of the stage without a weight would be silently
        # never served (write weight 0 to mean that).
        if set(mixture) != set(domains):
            errors.append((f"{at}.mixture", f"must give a weight to each domain of the stage "
                                            f"{list(domains)} and to no other, got "
                                            f"{dict(mixture)}"))
        if any(w < 0 for w in mixture.values()) or sum(mixture.values()) <= 0:
            errors.append((f"{at}.mixture", f"weights must be >= 0 with a positive sum, got "
                                            f"{dict(mixture)}"))
    return errors


def _stage_rules(stages: list[StageConfig], available_domains) -> list[tuple[str, str]]:
    errors = []

    def need(ok: bool, path: str, message: str) -> None:
        if not ok:
            errors.append((path, message))

    need(len(stages) >= 1, "stages", "at least one stage is needed")
    for i, stage in enumerate(stages):
        at = f"stages.{i}"
        need(bool(stage.name) and stage.name not in [s.name for s in stages[:i]], f"{at}.name",
             f"must be a non-empty name not used by an earlier stage, got {stage.name!r}")
        errors += stage_domain_errors(stage.name, stage.domains, stage.mixture,
                                      available_domains, at)
        rule = stage.switch
        need(rule != "steps" or stage.steps is not None, f"{at}.steps",
             "switch=steps needs steps (>= 1)")
        need(rule != "epochs" or stage.epochs is not None, f"{at}.epochs",
             "switch=epochs needs epochs (>= 1)")
        # Everywhere, not only in the CLI: `schedule.done` is what ends a run (the TRL
        # integration's too), and these two rules may never fire.
        need(rule not in ("plateau", "end") or stage.max_steps is not None, f"{at}.max_steps",
             f"switch={rule} needs max_steps (>= 1) as a cap, since it may never fire")
        need(rule != "end" or i == len(stages) - 1, f"{at}.switch",
             "switch=end is for the last stage only (it never hands over)")
    return errors


# --------------------------------------------------------------------------------------------
# Entry points for the trainer
# --------------------------------------------------------------------------------------------

def resolve_config(preset: str = "tiny", config_file: str | Path | None = None,
                   overrides=(), run_name: str | None = None, available_domains=None,
                   check: bool = True) -> Config:
    """preset -> YAML file -> overrides -> run name -> `validate` (when `check`)."""
    config = get_preset(preset)
    if config_file is not None:
        config = load_yaml(config_file, base=config)
    config = apply_overrides(config, overrides)
    if run_name is not None:
        config.run.name = run_name
    if check:
        validate(config, available_domains)
    return config


def config_from_args(args, available_domains=None) -> Config:
    """`resolve_config` from `srpo-mini train` arguments (preset, config, overrides, run_name)."""
    return resolve_config(preset=getattr(args, "preset", None) or "tiny",
                          config_file=getattr(args, "config", None),
                          overrides=getattr(args, "overrides", None) or (),
                          run_name=getattr(args, "run_name", None),
                          available_domains=available_domains)


def resolve_device(name: str):
    """`run.device` as a torch.device ("auto": CUDA when available, else CPU)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device):
    """`run.dtype` as a torch.dtype ("auto": bfloat16 on CUDA, float32 elsewhere)."""
    import torch

    if name == "auto":
        return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
