"""The README: its benchmark tables come from benchmarks/results and never drift, and every
python block runs on its own."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tables_module():
    spec = importlib.util.spec_from_file_location(
        "readme_tables", ROOT / "benchmarks" / "readme_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_match_the_results_files():
    tables = _tables_module()
    assert tables.main(["--check"]) == 0, "run: python benchmarks/readme_tables.py"


def test_a_changed_result_changes_the_table(tmp_path, monkeypatch):
    import json
    import shutil

    tables = _tables_module()
    results = tmp_path / "results"
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    data = json.loads((results / "env_throughput.json").read_text())
    data["results"][1]["steps_per_s"] = 12345.4
    (results / "env_throughput.json").write_text(json.dumps(data))
    monkeypatch.setattr(tables, "RESULTS", results)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    new = tables.render(readme)
    assert new != readme and "| 12,345 |" in new
    with pytest.raises(KeyError, match="lacks the marked tables"):
        tables.render("no tables here")


def _python_blocks() -> list[str]:
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_has_python_blocks():
    assert len(_python_blocks()) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_block_runs_on_its_own(index, tmp_path, monkeypatch):
    """Each block, alone in a fresh namespace, in an empty directory: no placeholders."""
    monkeypatch.chdir(tmp_path)
    code = compile(_python_blocks()[index], f"README.md python block {index}", "exec")
    exec(code, {"__name__": f"readme_block_{index}"})
