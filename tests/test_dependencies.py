"""Which modules may import which: the dependency directions the package keeps.

The code verifier owns the test spec (the data schema calls it), the answer tags sit in a
leaf module that prompts and verifiers both import, and the log-prob scorer shares its
forward-pass helpers with the sampler through model.py, not by importing the sampler.
Each test reads the import statements of the source files (nothing is imported).

Run: python -m pytest tests/test_dependencies.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "srpo_mini"


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, relative imports resolved to absolute names."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_imported_modules_resolves_relative_imports():
    # verifiers/math_extract.py: `from ..tags import ...` and `from .math_policy import ...`
    names = imported_modules(PACKAGE / "verifiers" / "math_extract.py")
    assert "srpo_mini.tags" in names and "srpo_mini.verifiers.math_policy" in names


@pytest.mark.parametrize("path", sorted((PACKAGE / "verifiers").glob("*.py")),
                         ids=lambda p: p.name)
def test_verifiers_import_neither_data_nor_prompts(path):
    bad = sorted(name for name in imported_modules(path)
                 if name.startswith(("srpo_mini.data", "srpo_mini.prompts")))
    assert bad == [], f"{path.name} imports {bad}"


def test_tags_is_a_leaf():
    names = imported_modules(PACKAGE / "tags.py")
    assert sorted(n for n in names if n.startswith("srpo_mini")) == []


def test_logprobs_does_not_import_the_sampler():
    names = imported_modules(PACKAGE / "logprobs.py")
    assert not any(name.startswith("srpo_mini.sampler") for name in names), names
    assert "srpo_mini.model" in names  # the shared forward-pass helpers


def test_schema_takes_the_test_spec_from_the_code_verifier():
    from srpo_mini.data import schema
    from srpo_mini.verifiers import code_spec

    assert schema.DataError is code_spec.DataError
    assert schema.test_kind is code_spec.test_kind
    assert "srpo_mini.verifiers.code_spec" in imported_modules(PACKAGE / "data" / "schema.py")
