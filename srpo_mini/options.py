"""Documented settings trees: dataclass fields that carry their doc and their valid range,
built from YAML data, changed by `KEY=VALUE` overrides, dumped as commented YAML.

`srpo_mini.config` declares the run's settings with `option(default, doc, ...)`; this module
is the machinery that makes such a tree usable from files and the command line, whatever
its fields:

    from_dict(data, cls)           plain YAML data -> typed instance (unknown keys rejected)
    apply_overrides(obj, items)    ["sampling.group_size=16", "stages.0.steps=20", ...]
    dump_yaml(obj)                 YAML with each field's doc as a comment above it
    check_options(obj)             every field against its choices and bounds

Values are coerced to the annotated type (`int`, `float`, `str`, `bool`, `X | None`,
`list[X]`, `dict[str, X]`, nested dataclasses) and every error names the dotted path of the
field (`stages.0.steps`), the same spelling an override uses.
"""

from __future__ import annotations

import copy
import difflib
import operator
import textwrap
import types
import typing
from dataclasses import asdict, field, fields, is_dataclass
from typing import Any

import yaml

# bound name: (symbol, interval bracket, test)
_BOUNDS = {"ge": (">=", "[", operator.ge), "gt": (">", "(", operator.gt),
           "le": ("<=", "]", operator.le), "lt": ("<", ")", operator.lt)}


def option(default: Any, doc: str | None = None, *, choices: tuple | None = None,
           ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None):
    """A dataclass field that carries its documentation, allowed values and bounds.

    Args:
        default: the default value (lists, dicts and dataclasses are copied per instance).
        doc: what the field does, its trade-off, where the default comes from. A section
            (a dataclass-valued field) may leave it out: its class docstring is its doc.
        choices: the allowed values of a string field.
        ge, gt, le, lt: bounds (>=, >, <=, <) of a number, or of each number of a list;
            None values pass (an optional field).
    """
    if doc is None:
        doc = type(default).__doc__
    bounds = {name: value for name, value in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt))
              if value is not None}
    metadata = {"doc": " ".join(doc.split()), "choices": choices, "bounds": bounds}
    if isinstance(default, (list, dict)) or is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


class ConfigError(ValueError):
    """One or more invalid settings; `errors` holds (dotted field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        lines = [f"{path}: {message}" for path, message in self.errors]
        text = lines[0] if len(lines) == 1 else (
            f"invalid config ({len(lines)} problems):\n  " + "\n  ".join(lines))
        super().__init__(text)


# --------------------------------------------------------------------------------------------
# Plain data -> typed tree
# --------------------------------------------------------------------------------------------

def _unknown_key(path: str, key: str, cls) -> ConfigError:
    valid = [f.name for f in fields(cls)]
    where = f"'{path}'" if path else "the top level"
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError([(f"{path}.{key}" if path else key,
                         f"unknown config key{hint}; valid keys under {where}: "
                         f"{', '.join(valid)}")])


def _strip_optional(hint):
    """`X | None` -> X; other hints unchanged."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(hint) if a is not type(None)][0]
    return hint


def _coerce(value: Any, hint: Any, path: str, current: Any = None) -> Any:
    """`value` (plain YAML data) converted to the type `hint`, or a ConfigError naming `path`.

    A mapping given for a dataclass is merged over `current` (or the class defaults).
    """
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, _strip_optional(hint), path, current)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:
        raise ConfigError([(path, "must not be null")])
    if is_dataclass(hint):
        if isinstance(value, hint):
            return copy.deepcopy(value)
        if not isinstance(value, dict):
            raise ConfigError([(path, f"expected a mapping of {hint.__name__} fields, got "
                                      f"{value!r}")])
        return from_dict(value, hint, base=current, path=path)
    if origin is list:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_coerce(item, args[0], f"{path}.{i}") for i, item in enumerate(items)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError([(path, f"expected a mapping, got {value!r}")])
        return {str(k): _coerce(v, args[1], f"{path}.{k}") for k, v in value.items()}
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError([(path, f"expected true or false, got {value!r}")])
    if hint is int:
        if is_number and float(value).is_integer():
            return int(value)
        raise ConfigError([(path, f"expected an integer, got {value!r}")])
    if hint is float:
        if is_number:
            return float(value)
        try:  # YAML 1.1 reads `1e-4` (no dot) as a string
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError([(path, f"expected a number, got {value!r}")]) from None
    if hint is str:
        if isinstance(value, str) or is_number:
            return str(value)
        raise ConfigError([(path, f"expected a string, got {value!r}")])
    return value


def from_dict(data: dict, cls, *, base=None, path: str = ""):
    """A `cls` instance from plain data, over `base` (or the defaults) for the keys not given.

    Args:
        data: nested dicts and lists as YAML gives them; unknown keys are errors. A list
            replaces the list it names (each entry over its class defaults).
        cls: the dataclass to build.
        base: an instance supplying every value `data` does not name (not modified).
        path: dotted prefix for error messages.
    """
    if not isinstance(data, dict):
        raise ConfigError([(path or "config", f"expected a mapping, got {data!r}")])
    result = copy.deepcopy(base) if base is not None else cls()
    hints, names = typing.get_type_hints(cls), {f.name for f in fields(cls)}
    for key, value in data.items():
        if key not in names:
            raise _unknown_key(path, str(key), cls)
        key_path = f"{path}.{key}" if path else key
        setattr(result, key, _coerce(value, hints[key], key_path, getattr(result, key)))
    return result


def to_dict(obj) -> dict:
    """The tree as plain nested dicts and lists (what YAML holds)."""
    return asdict(obj)


# --------------------------------------------------------------------------------------------
# KEY=VALUE overrides
# --------------------------------------------------------------------------------------------

def apply_overrides(obj, overrides):
    """A copy of `obj` with `a.b=value` / `stages.0.steps=20` overrides applied in order.

    Values are parsed as YAML (`null`, `true`, `1e-4`, `[1, 4]`, `{math: 0.7, code: 0.3}`)
    and coerced to the field's type. A mapping given for a section or a list entry is
    merged over it; a key of a free mapping (`stages.1.mixture.code`) may be new.
    """
    obj = copy.deepcopy(obj)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError([(item, "an override is KEY=VALUE, e.g. sampling.group_size=8")])
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError([(key, f"cannot parse {text!r} as a YAML value")]) from None
        parent, hint, path = obj, type(obj), ""
        parts = key.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            child_hint, child = _child(parent, hint, part, path, last)
            path = f"{path}.{part}" if path else part
            if last:
                _assign(parent, part, _coerce(value, child_hint, path, child))
            else:
                parent, hint = child, child_hint
    return obj


def _child(parent, hint, part: str, path: str, last: bool):
    """(type hint, current value) of `parent`'s field, index or key `part`, or a ConfigError."""
    hint = _strip_optional(hint)
    if is_dataclass(parent):
        if part not in {f.name for f in fields(parent)}:
            raise _unknown_key(path, part, type(parent))
        return typing.get_type_hints(type(parent))[part], getattr(parent, part)
    if isinstance(parent, list):
        if not parent:
            raise ConfigError([(f"{path}.{part}", f"'{path}' is empty; set the whole list, "
                                                  f"e.g. {path}=[{{...}}]")])
        if not (part.isdigit() and int(part) < len(parent)):
            raise ConfigError([(f"{path}.{part}", f"'{path}' has {len(parent)} entries; use an "
                                                  f"index from 0 to {len(parent) - 1}")])
        return typing.get_args(hint)[0], parent[int(part)]
    if isinstance(parent, dict):
        if not last and part not in parent:
            raise ConfigError([(f"{path}.{part}", f"no key {part!r} in '{path}'")])
        return typing.get_args(hint)[1], parent.get(part)
    raise ConfigError([(f"{path}.{part}", f"'{path}' is a single value, it has no '{part}'")])


def _assign(parent, part: str, value) -> None:
    if is_dataclass(parent):
        setattr(parent, part, value)
    elif isinstance(parent, list):
        parent[int(part)] = value
    else:
        parent[part] = value


# --------------------------------------------------------------------------------------------
# Commented YAML, and the per-field checks
# --------------------------------------------------------------------------------------------

def _flow(value: Any) -> str:
    """One value in YAML flow style on one line (`8`, `null`, `[1, 4]`, `{math: 0.5}`)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, sort_keys=False).strip()
    return text[:-3].strip() if text.endswith("...") else text


def _dump_lines(obj, indent: int, comments: bool) -> list[str]:
    pad, lines = " " * indent, []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if comments:
            doc_lines = textwrap.wrap(f.metadata["doc"], width=max(40, 92 - indent),
                                      break_on_hyphens=False)
            lines += [f"{pad}# {line}" for line in doc_lines]
        if is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            lines += _dump_lines(value, indent + 2, comments)
        elif isinstance(value, list) and value and is_dataclass(value[0]):
            lines.append(f"{pad}{f.name}:")
            for i, item in enumerate(value):  # field docs once, on the first entry
                lines.append(f"{pad}  -")
                lines += _dump_lines(item, indent + 4, comments and i == 0)
        else:
            lines.append(f"{pad}{f.name}: {_flow(value)}")
    return lines


def dump_yaml(obj, *, comments: bool = True, header: str | None = None) -> str:
    """YAML text of the tree; with `comments`, each field's doc is written above it."""
    lines = [f"# {header}"] if header and comments else []
    return "\n".join(lines + _dump_lines(obj, 0, comments)) + "\n"


def walk(obj, path: str = ""):
    """Yield (dotted path, value, field metadata, type hint) for every field, list entries
    included."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value, here = getattr(obj, f.name), f"{path}.{f.name}" if path else f.name
        yield here, value, f.metadata, hints[f.name]
        if is_dataclass(value):
            yield from walk(value, here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if is_dataclass(item):
                    yield from walk(item, f"{here}.{i}")


def _range_text(bounds: dict) -> str:
    """{"ge": 0, "lt": 1} -> "in [0, 1)"; {"ge": 2} -> ">= 2"."""
    lower = [(k, v) for k, v in bounds.items() if k in ("ge", "gt")]
    upper = [(k, v) for k, v in bounds.items() if k in ("le", "lt")]
    if lower and upper:
        (lk, lv), (uk, uv) = lower[0], upper[0]
        return f"in {_BOUNDS[lk][1]}{lv:g}, {uv:g}{_BOUNDS[uk][1]}"
    (k, v), = lower or upper
    return f"{_BOUNDS[k][0]} {v:g}"


def _within(value: float, bounds: dict) -> bool:
    return all(_BOUNDS[name][2](value, bound) for name, bound in bounds.items())


def check_options(obj, path: str = "") -> list[tuple[str, str]]:
    """(path, message) for every field outside its `choices` or `bounds`; `path` prefixes
    the field names when `obj` is one section of a larger tree (`"rewards"`)."""
    errors = []
    for path, value, meta, hint in walk(obj, path):
        if meta.get("choices") and value not in meta["choices"]:
            errors.append((path, f"{value!r} is not one of {', '.join(meta['choices'])}"))
        bounds = meta.get("bounds")
        if bounds and value is not None:
            numbers = value if isinstance(value, list) else [value]
            if not all(_within(v, bounds) for v in numbers):
                nullable = typing.get_origin(hint) in (typing.Union, types.UnionType)
                what = "each value must be" if isinstance(value, list) else "must be"
                errors.append((path, f"{what} {_range_text(bounds)}"
                                     f"{' or null' if nullable else ''}, got {value!r}"))
    return errors
