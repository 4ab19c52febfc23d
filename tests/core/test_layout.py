"""The package layout the README describes holds: one installed package whose sub-packages are the
top-level folders, layered, with no import running upward and no generic top-level names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
#: bottom to top: a package may import the packages before it in this list (and itself), never after
LAYERS = ["semcolor", "colorspace", "networks", "metrics", "palettes", "datamodules", "scenes", "lightning_modules",
          "widths", "cli"]
#: modules of the bottom package that the CLI needs and that import upward only to run it
ENTRY_POINTS = {"semcolor/__main__.py"}


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "semcolor":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "semcolor"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _sources() -> list[Path]:
    return [p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))]


def test_pyproject_installs_every_folder_under_semcolor():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    for top in LAYERS:
        key = "semcolor" if top == "semcolor" else f"semcolor.{top}"
        assert mapping[key] == top, key
        for init in (ROOT / top).rglob("__init__.py"):
            sub = init.parent.relative_to(ROOT / top).parts
            assert ".".join([key, *sub]) in config["packages"], f"{init.parent} is not installed"
    for package in config["packages"]:
        top, *sub = package.split(".")[1:] or ["semcolor"]
        assert (ROOT / mapping.get(f"semcolor.{top}", "semcolor") / Path(*sub) / "__init__.py").is_file() or \
            package == "semcolor", f"{package} has no folder"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_runs_upward(path):
    own = path.relative_to(ROOT).parts[0]
    if str(path.relative_to(ROOT)) in ENTRY_POINTS:
        return
    upward = sorted(m for m in _imports(path)
                    if (pkg := _package_of(m)) and LAYERS.index(pkg) > LAYERS.index(own))
    assert not upward, f"{path.relative_to(ROOT)} ({own}) imports from above: {upward}"


@pytest.mark.parametrize("path", _sources() + sorted((ROOT / "tests").rglob("*.py"))
                         + sorted((ROOT / "benchmarks").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_bare_top_level_names(path):
    """Code imports ``semcolor.networks``, never ``networks``: the folders are not top-level packages."""
    bare = sorted(m for m in _imports(path) if m.split(".")[0] in set(LAYERS) - {"semcolor"})
    assert not bare, f"{path.relative_to(ROOT)} imports {bare}"
