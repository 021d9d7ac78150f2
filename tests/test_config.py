"""The config tree (srpo_mini.config, on srpo_mini.options): paper defaults, documentation of
every field, presets, YAML round trips, `KEY=VALUE` overrides (list indices, YAML scalars,
merges) and validation messages that name the field at fault.

    python -m pytest tests/test_config.py -q
"""

from __future__ import annotations

from argparse import Namespace
from types import SimpleNamespace
from dataclasses import fields, is_dataclass

import pytest
import yaml

from srpo_mini import config as cfg
from srpo_mini.cli import build_parser
from srpo_mini.data.schema import Problem
from srpo_mini.config import (Config, ConfigError, HubDataset, StageConfig, apply_overrides,
                              config_from_args, dump_yaml, get_preset, load_yaml,
                              resolve_config, resolve_device, resolve_dtype, save_yaml,
                              to_dict, validate)


def get(config, path: str):
    """The value at a dotted path (`stages.0.steps`)."""
    value = config
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else (
            value[part] if isinstance(value, dict) else getattr(value, part))
    return value


@pytest.mark.parametrize("path, expected", [
    ("loss.clip_eps_low", 0.2),          # DAPO sec. 3.1
    ("loss.clip_eps_high", 0.28),        # DAPO clip-higher
    ("loss.beta", 0.0),                  # SRPO / DAPO: no KL term
    ("loss.aggregation", "token"),       # DAPO sec. 3.3, SRPO
    ("loss.advantage_scale", "std"),
    ("loss.adv_eps", 1e-4),
    ("sampling.group_size", 8),
    ("sampling.temperature", 1.0),
    ("rewards.format_weight", 0.0),
    ("rewards.code_pass_fraction", False),
    ("rewards.truncation", "zero"),
    ("resampling.strategy", "srpo"),
    ("resampling.readmit_after_epochs", None),
    ("resampling.readmit_prob", 0.0),
    ("model.name_or_path", None),        # the offline tiny base
    ("model.template", "compact"),
    ("data.train_files", []),            # the offline tiny world
    ("run.output_dir", "runs"),
    ("run.device", "auto"),
    ("checkpoint.at_stage_switch", True),
    ("logging.tensorboard", False),
    ("logging.progress", True),
    ("stages.0.domains", ["math"]),
    ("stages.1.domains", ["math", "code"]),
    ("stages.1.mixture", {"math": 0.5, "code": 0.5}),
])
def test_defaults(path, expected):
    """The default (tiny) config carries the paper defaults and SRPO's two stages."""
    assert get(Config(), path) == expected


def all_dataclasses():
    """Every dataclass of the tree, list element types included."""
    seen, todo = [], [Config]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for f in fields(cls):
            default = f.default_factory() if callable(f.default_factory) else f.default
            if is_dataclass(default):
                todo.append(type(default))
    return seen + [StageConfig, HubDataset]


def test_every_field_documented_once():
    """Each field has a doc of a few words, and a choice field's default is a valid choice."""
    classes = all_dataclasses()
    assert len(classes) == 14  # Config, its 11 sections, StageConfig, HubDataset
    for cls in classes:
        for f in fields(cls):
            doc = f.metadata.get("doc", "")
            assert len(doc.split()) >= 3, f"{cls.__name__}.{f.name} is undocumented"
            choices = f.metadata.get("choices")
            if choices:
                assert getattr(cls(), f.name) in choices, f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize("name", ["tiny", "gpu_0.5b"])
def test_presets_valid_and_round_trip_yaml(name, tmp_path):
    """Each preset validates, and dump -> load gives it back exactly (with and without docs)."""
    config = get_preset(name)
    validate(config, available_domains={"math", "code"})
    text = dump_yaml(config)
    assert "# G, completions per prompt." in text
    assert yaml.safe_load(text) == to_dict(config)
    assert yaml.safe_load(dump_yaml(config, comments=False)) == to_dict(config)
    path = save_yaml(config, tmp_path / "config.yaml")
    assert load_yaml(path) == config


def test_gpu_preset():
    """The GPU preset: a ~0.5B instruct model, chat template, bf16, math then math + code."""
    config = get_preset("gpu_0.5b")
    assert (config.model.name_or_path, config.model.template, config.run.dtype) == (
        "Qwen/Qwen2.5-0.5B-Instruct", "chat", "bfloat16")
    assert [h.adapter for h in config.data.train_hub] == ["gsm8k", "math", "mbpp"]
    assert [s.domains for s in config.stages] == [["math"], ["math", "code"]]
    assert get_preset("gpu_0.5b") is not get_preset("gpu_0.5b")
    with pytest.raises(ConfigError, match="unknown preset 'huge'; choose from tiny, gpu_0.5b"):
        get_preset("huge")


def test_yaml_file_over_preset(tmp_path):
    """A YAML file changes only what it names; its stage list replaces the preset's; `1e-4`
    (a string to YAML 1.1) becomes a float."""
    path = tmp_path / "my.yaml"
    path.write_text("sampling:\n  group_size: 16\nloss:\n  adv_eps: 1e-5\n"
                    "stages:\n  - name: only\n    switch: epochs\n    epochs: 3\n")
    config = load_yaml(path)
    assert config.sampling.group_size == 16 and config.sampling.max_new_tokens == 80
    assert config.loss.adv_eps == 1e-5 and isinstance(config.loss.adv_eps, float)
    assert config.stages == [StageConfig(name="only", switch="epochs", epochs=3)]
    path.write_text("sampling:\n  group_sise: 16\n")
    with pytest.raises(ConfigError, match=r"sampling.group_sise: unknown config key "
                                          r"\(did you mean 'group_size'\?\)"):
        load_yaml(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_yaml(tmp_path / "nope.yaml")


@pytest.mark.parametrize("override, path, expected", [
    ("sampling.group_size=16", "sampling.group_size", 16),
    ("stages.0.steps=20", "stages.0.steps", 20),
    ("stages.1.switch=plateau", "stages.1.switch", "plateau"),
    ("loss.adv_eps=1e-5", "loss.adv_eps", 1e-5),
    ("loss.clip_eps_high=0.3", "loss.clip_eps_high", 0.3),
    ("optim.lr=1", "optim.lr", 1.0),
    ("eval.k_values=[1, 2]", "eval.k_values", [1, 2]),
    ("eval.k_values=2", "eval.k_values", [2]),
    ("optim.max_grad_norm=null", "optim.max_grad_norm", None),
    ("optim.max_grad_norm=None", "optim.max_grad_norm", None),
    ("data.train_limit=64", "data.train_limit", 64),
    ("data.train_files=a.jsonl", "data.train_files", ["a.jsonl"]),
    ("stages.1.mixture.code=0.7", "stages.1.mixture", {"math": 0.5, "code": 0.7}),
    ("stages.1.mixture={math: 1, code: 3}", "stages.1.mixture", {"math": 1.0, "code": 3.0}),
    ("run.name=2025", "run.name", "2025"),
    ("logging.tensorboard=true", "logging.tensorboard", True),
    ("model.name_or_path=/models/qwen", "model.name_or_path", "/models/qwen"),
    ("data.train_hub=[{adapter: gsm8k, path: /data/gsm8k.parquet}]", "data.train_hub.0.path",
     "/data/gsm8k.parquet"),
])
def test_overrides(override, path, expected):
    """Values are YAML scalars coerced to the field's type; the input config is not changed."""
    base = Config()
    changed = apply_overrides(base, [override])
    assert get(changed, path) == expected
    assert type(get(changed, path)) is type(expected)
    assert base == Config()


def test_override_mapping_merges_over_section():
    """`sampling={temperature: 0.5}` changes the temperature and keeps the other fields."""
    changed = apply_overrides(Config(), ["sampling.group_size=4", "sampling={temperature: 0.5}"])
    assert (changed.sampling.temperature, changed.sampling.group_size) == (0.5, 4)


@pytest.mark.parametrize("override, message", [
    ("sampling.group_sz=3", "sampling.group_sz: unknown config key (did you mean 'group_size'?); "
                            "valid keys under 'sampling': group_size, prompts_per_step, "
                            "max_new_tokens, temperature, top_p, top_k, generation_batch_size"),
    ("trainer.lr=1", "trainer: unknown config key; valid keys under the top level: run, model, "
                     "data, sampling, loss, optim, rewards, resampling, stages, eval, "
                     "checkpoint, logging"),
    ("stages.2.steps=5", "stages.2: 'stages' has 2 entries; use an index from 0 to 1"),
    ("stages.x.steps=5", "stages.x: 'stages' has 2 entries"),
    ("sampling.group_size=many", "sampling.group_size: expected an integer, got 'many'"),
    ("sampling.group_size=null", "sampling.group_size: must not be null"),
    ("loss.beta=high", "loss.beta: expected a number, got 'high'"),
    ("logging.progress=maybe", "logging.progress: expected true or false, got 'maybe'"),
    ("sampling.group_size.min=1", "'sampling.group_size' is a single value, it has no 'min'"),
    ("stages.0.mixture.math.x=1", "stages.0.mixture.math: no key 'math' in 'stages.0.mixture'"),
    ("sampling.group_size", "an override is KEY=VALUE"),
])
def test_override_errors(override, message):
    """Bad keys list the valid ones; bad values name the field and show the value."""
    with pytest.raises(ConfigError) as info:
        apply_overrides(Config(), [override])
    assert message in str(info.value)


@pytest.mark.parametrize("overrides, field, words", [
    (["sampling.group_size=1"], "sampling.group_size", "must be >= 2"),
    (["loss.clip_eps_low=-0.1"], "loss.clip_eps_low", "must be in [0, 1)"),
    (["loss.clip_eps_high=-0.01"], "loss.clip_eps_high", "must be >= 0"),
    (["loss.aggregation=mean"], "loss.aggregation",
     "'mean' is not one of token, sequence, constant"),
    (["loss.advantage_scale=rank"], "loss.advantage_scale", "is not one of std, none"),
    (["loss.adv_eps=0"], "loss.adv_eps", "must be > 0 with advantage_scale=std"),
    (["loss.beta=-1"], "loss.beta", "must be >= 0"),
    (["resampling.strategy=greedy"], "resampling.strategy", "is not one of srpo, none, dapo"),
    (["resampling.readmit_prob=1.5"], "resampling.readmit_prob", "must be in [0, 1]"),
    (["rewards.truncation=cut"], "rewards.truncation", "is not one of zero, mask, soft_overlong"),
    (["rewards.truncation=soft_overlong", "rewards.overlong_buffer=80"],
     "rewards.overlong_buffer", "must be < sampling.max_new_tokens = 80"),
    (["sampling.temperature=0"], "sampling.temperature", "must be > 0"),
    (["sampling.top_p=0"], "sampling.top_p", "must be in (0, 1]"),
    (["optim.mu=0"], "optim.mu", "must be >= 1"),
    (["optim.betas=[0.9]"], "optim.betas", "must be two numbers (beta1, beta2)"),
    (["optim.betas=[0.9, 1.0]"], "optim.betas", "each value must be in [0, 1), got [0.9, 1.0]"),
    (["model.template=alpaca"], "model.template", "is not one of compact, r1_zero, chat"),
    (["run.dtype=fp8"], "run.dtype", "is not one of auto, float32, bfloat16, float16"),
    (["run.device=tpu"], "run.device", "must be auto, cpu, cuda, cuda:N or mps"),
    (["run.name=a/b"], "run.name", "must be a plain directory name"),
    (["stages.0.domains=[physics]"], "stages.0.domains", "unknown domain 'physics'"),
    (["stages.1.mixture={math: 1}"], "stages.1.mixture", "must give a weight to each domain"),
    (["stages.1.mixture={math: 0, code: 0}"], "stages.1.mixture", "positive sum"),
    (["stages.0.switch=plateau"], "stages.0.max_steps", "switch=plateau needs max_steps (>= 1)"),
    (["stages.0.switch=end", "stages.0.max_steps=5"], "stages.0.switch",
     "switch=end is for the last stage only"),
    (["stages.0.switch=epochs"], "stages.0.epochs", "switch=epochs needs epochs (>= 1)"),
    (["stages.1.name=math"], "stages.1.name", "not used by an earlier stage"),
    (["stages=[]"], "stages", "at least one stage is needed"),
    (["eval.k_values=[1, 8]"], "eval.k_values", "each k must be <= eval.n_samples = 4"),
    (["checkpoint.keep_last=0"], "checkpoint.keep_last", "must be >= 1"),
    (["data.eval_limit=0"], "data.eval_limit", "must be >= 1 or null, got 0"),
    (["stages.0.max_steps=0"], "stages.0.max_steps", "must be >= 1 or null, got 0"),
    (["data.train_hub=[{path: gsm8k.jsonl, adapter: gsm9k}]"], "data.train_hub.0.adapter",
     "unknown adapter 'gsm9k'; choose from apps, codecontests, gsm8k"),
])
def test_validation_names_the_field(overrides, field, words):
    """One bad setting -> exactly one error, for that field, with a readable reason."""
    config = apply_overrides(Config(), overrides)
    with pytest.raises(ConfigError) as info:
        validate(config)
    assert [path for path, _ in info.value.errors] == [field]
    assert str(info.value).startswith(f"{field}: ") and words in str(info.value)


def test_valid_edge_values():
    """Bounds are inclusive where they say so: these settings are all accepted."""
    validate(apply_overrides(Config(), [
        "sampling.group_size=2", "loss.clip_eps_low=0", "loss.advantage_scale=none",
        "loss.adv_eps=0", "sampling.top_p=1", "resampling.readmit_prob=1",
        "optim.max_grad_norm=null", "eval.k_values=[1, 2, 4]", "stages.1.switch=end",
        "stages.1.max_steps=30", "rewards.truncation=soft_overlong",
        "rewards.overlong_buffer=79", "data.train_hub=[{path: /data/gsm8k.jsonl}]"]))


def test_validation_reports_all_problems_and_data_domains():
    """Several bad fields are listed together; a stage needing absent data is caught."""
    config = apply_overrides(Config(), ["sampling.group_size=1", "loss.clip_eps_high=-1"])
    with pytest.raises(ConfigError, match=r"invalid config \(2 problems\)") as info:
        validate(config)
    assert [p for p, _ in info.value.errors] == ["sampling.group_size", "loss.clip_eps_high"]
    with pytest.raises(ConfigError) as info:
        validate(Config(), available_domains={"math"})
    assert info.value.errors == [("stages.1.domains", "stage 'math+code' trains on 'code' but "
                                  "the training data has no code problems (it has: math)")]
    validate(Config(), available_domains=["math", "code"])


def test_resolve_from_cli_arguments(tmp_path):
    """`srpo-mini train` arguments: preset -> YAML -> overrides -> run name -> validate."""
    path = tmp_path / "c.yaml"
    path.write_text("sampling:\n  group_size: 4\n  max_new_tokens: 32\n")
    args = build_parser().parse_args(["train", "--config", str(path), "--run-name", "exp1",
                                      "sampling.group_size=6", "stages.0.steps=3"])
    config = config_from_args(args)
    assert (config.sampling.group_size, config.sampling.max_new_tokens) == (6, 32)
    assert config.stages[0].steps == 3 and config.run_dir.as_posix() == "runs/exp1"
    with pytest.raises(ConfigError, match="sampling.group_size: must be >= 2"):
        config_from_args(Namespace(preset="tiny", config=None, overrides=["sampling.group_size=1"],
                                   run_name=None))
    unchecked = resolve_config(overrides=["sampling.group_size=1"], check=False)
    assert unchecked.sampling.group_size == 1


def test_resolve_device_and_dtype():
    """auto: CUDA + bfloat16 when there is a GPU, else CPU + float32; names map directly."""
    import torch

    device = resolve_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", "cpu") is torch.float32
    assert resolve_dtype("auto", "cuda") is torch.bfloat16
    assert resolve_dtype("float16", "cpu") is torch.float16
    assert resolve_device("cpu") == torch.device("cpu")


def test_presets_registry_matches_docs():
    """The presets named by the CLI help exist."""
    assert sorted(cfg.PRESETS) == ["gpu_0.5b", "tiny"]


def test_sections_feed_their_modules():
    """The stage, resampling and reward sections are what their modules consume."""
    from srpo_mini.resampling import resampler_from_config
    from srpo_mini.rewards import compute_rewards
    from srpo_mini.schedule import StageSchedule

    for name in cfg.PRESETS:
        config = get_preset(name)
        schedule = StageSchedule(config.stages, available_domains={"math", "code"})
        assert [(s.name, s.domains) for s in schedule.stages] == [
            ("math", ["math"]), ("math+code", ["math", "code"])]
        problem = Problem(id="m", domain="math", prompt="q", answer="1")
        cap = config.sampling.max_new_tokens
        wrong = SimpleNamespace(correct=False, score=0.0, reason="unequal")
        rewards = compute_rewards([problem], ["x"], config=config.rewards, max_new_tokens=cap,
                                  truncated=[True], completion_lengths=[cap],
                                  check_fn=lambda problems, completions, **options: [wrong])
        # cut at the cap: -1 under the gpu preset's soft_overlong, no term under tiny's zero
        soft = config.rewards.truncation == "soft_overlong"
        assert rewards.overlong.tolist() == ([-1.0] if soft else [0.0])
    dapo = apply_overrides(Config(), ["resampling.strategy=dapo", "resampling.dapo_max_rounds=5"])
    assert resampler_from_config(dapo.resampling).max_extra_rounds == 5


def test_choices_are_the_components_registries():
    """Each string setting with a registry behind it offers exactly the registry's names."""
    from srpo_mini.grpo import AGGREGATIONS
    from srpo_mini.rewards import TRUNCATION_RULES
    from srpo_mini.schedule import SWITCH_RULES

    def choices(cls, name):
        return {f.metadata["choices"] for f in fields(cls) if f.name == name}.pop()

    assert set(choices(cfg.LossConfig, "aggregation")) == set(AGGREGATIONS)
    assert set(choices(cfg.RewardsConfig, "truncation")) == set(TRUNCATION_RULES)
    assert set(choices(StageConfig, "switch")) == set(SWITCH_RULES)
