"""The package layers of docs/architecture.md hold: no import runs upwards or sideways.

Reads every module's import statements (without importing it) and checks each import of
another jaxarc package against the allowed direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jaxarc

SRC = Path(jaxarc.__file__).parent

#: package -> layer; a package may import packages of lower layers only.
LAYERS = {
    "conf": 0,  # the YAML presets (no code)
    "types": 0,
    "config": 1,
    "data": 2,
    "envs": 2,
    "viz": 2,
    "factory": 3,
    "replay": 3,  # replays sampled episodes with the env's operations (for the report)
    "compat": 3,  # gymnax/Jumanji adapters over envs
    "logging": 4,
    "train": 5,
    "report": 5,
    "cli": 6,
    "jaxarc": 7,  # `import jaxarc` / `from jaxarc import …`: the whole package, from inside it
}
#: entry points that may import anything (``python -m jaxarc.train`` runs the CLI)
ENTRY_POINTS = {"__init__.py", "__main__.py"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, first package name) of every jaxarc import in ``path``."""
    rel = path.relative_to(SRC).with_suffix("").parts
    package = list(rel[:-1])  # the package the module is in, relative to jaxarc
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            names = parts[:1] or [alias.name for alias in node.names]
            out += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "jaxarc":
            parts = (node.module or "").split(".")
            out.append((node.lineno, parts[1] if len(parts) > 1 else "jaxarc"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "jaxarc":
                    out.append((node.lineno, parts[1] if len(parts) > 1 else "jaxarc"))
    return out


def _layer_violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if path.name in ENTRY_POINTS and (len(rel.parts) == 1 or path.name == "__main__.py"):
            continue
        owner = rel.parts[0].removesuffix(".py")
        assert owner in LAYERS, (
            f"{rel}: a new top-level module; give it a layer in tests/test_layers.py"
        )
        for line, target in _imports(path):
            if target == owner:
                continue
            assert target in LAYERS, f"{rel}:{line} imports unknown jaxarc module {target!r}"
            if LAYERS[target] >= LAYERS[owner]:
                problems.append(
                    f"{rel}:{line}: {owner} (layer {LAYERS[owner]}) "
                    f"imports {target} (layer {LAYERS[target]})"
                )
    return problems


def test_imports_run_only_downwards():
    assert _layer_violations() == []


def test_the_checker_sees_upward_imports(tmp_path, monkeypatch):
    """A module of ``data`` importing ``envs`` (a sibling) is reported."""
    fake = tmp_path / "jaxarc"
    for name, text in {
        "data/__init__.py": "",
        "data/bad.py": "from ..envs.environment import EnvParams\nimport jaxarc.logging\n"
        "import jaxarc\nfrom jaxarc import make\n",
        "envs/__init__.py": "",
        "logging/__init__.py": "",
    }.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    monkeypatch.setitem(globals(), "SRC", fake)
    problems = _layer_violations()
    assert problems == [
        "data/bad.py:1: data (layer 2) imports envs (layer 2)",
        "data/bad.py:2: data (layer 2) imports logging (layer 4)",
        "data/bad.py:3: data (layer 2) imports jaxarc (layer 7)",
        "data/bad.py:4: data (layer 2) imports jaxarc (layer 7)",
    ]
