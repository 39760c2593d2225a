"""The import contract of `prefopt/`: layered packages, no cycle, no private helper across modules.

Read from the source (AST), function-level imports included, so a lazy import cannot hide an upward edge.
The layers, top to bottom; a package may import itself and the packages above it, never one below:
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "prefopt"
LAYERS = ["core", "losses", "data", "modeling", "config", "evaluation", "training", "reward", "onpolicy", "reproduce",
          "toy"]
# Imported inside functions on purpose: optional or heavy packages that most runs never need, and matplotlib,
# whose backend must be chosen before pyplot is imported (prefopt.core.plotting).
LAZY_ALLOWED = {"trl", "ninja", "vllm", "lm_eval", "deepspeed", "alpaca_eval", "fastchat", "llm_blender", "openai", "anthropic",
                "all_minilm_l6_v2", "matplotlib", "liger_kernel"}
MAX_TOP_LEVEL = 12


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path):
    """(imported prefopt module, imported names, at function level?, line) for every import of `module`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"

    def walk(node, depth):
        for child in ast.iter_child_nodes(node):
            inner = depth + isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, [], depth > 0, child.lineno
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(child, module, is_package)
                names = [a.name for a in child.names]
                attributes = [n for n in names if f"{target}.{n}" not in MODULES]
                if attributes or not names:  # `from pkg import submodule` needs the submodule, not the package's names
                    yield target, attributes, depth > 0, child.lineno
                for sub in sorted(set(names) - set(attributes)):
                    yield f"{target}.{sub}", [], depth > 0, child.lineno
            yield from walk(child, inner)

    yield from walk(tree, 0)


def _graph() -> dict[str, set[str]]:
    edges = defaultdict(set)
    for module, path in MODULES.items():
        for target, _, _, _ in _imports(module, path):
            if target in MODULES and target != module:
                edges[module].add(target)
    return edges


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    return out


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS), f"packages without a layer: {packages - set(LAYERS)}; gone: {set(LAYERS) - packages}"


def test_top_level_is_small():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= MAX_TOP_LEVEL, entries


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_no_package_imports_a_lower_layer():
    upward = []
    for module, targets in _graph().items():
        src = _package(module)
        for target in targets:
            dst = _package(target)
            if src and dst and src != dst and LAYERS.index(dst) > LAYERS.index(src):
                upward.append(f"{module} -> {target}")
    assert upward == [], "imports of a lower layer:\n" + "\n".join(sorted(upward))


def test_no_private_name_crosses_modules():
    crossing = [f"{module}:{line} imports {target}.{name}"
                for module, path in MODULES.items()
                for target, names, _, line in _imports(module, path)
                for name in names
                if target.startswith("prefopt") and target != module and name.startswith("_")]
    assert crossing == [], "\n".join(crossing)


def test_function_level_imports_are_optional_heavy_packages_only():
    lazy = [f"{module}:{line} imports {target} inside a function"
            for module, path in MODULES.items()
            for target, _, inside, line in _imports(module, path)
            if inside and target.split(".")[0] not in LAZY_ALLOWED]
    assert lazy == [], "\n".join(lazy)


def test_the_checker_sees_a_cycle_and_an_upward_edge(tmp_path, monkeypatch):
    """The checks above can fail: a planted cycle and a planted upward import are found."""
    edges = {"prefopt.core.a": {"prefopt.core.b"}, "prefopt.core.b": {"prefopt.core.a"}}
    monkeypatch.setitem(MODULES, "prefopt.core.a", None)
    monkeypatch.setitem(MODULES, "prefopt.core.b", None)
    assert ["prefopt.core.a", "prefopt.core.b"] in _cycles(edges)
    module = tmp_path / "x.py"
    module.write_text("def f():\n    from prefopt.toy import tiny\n")
    found = list(_imports("prefopt.core.x", module))
    assert ("prefopt.toy.tiny", [], True, 2) in found


@pytest.mark.parametrize("package", LAYERS)
def test_readme_layout_names_every_package(package):
    layout = (REPO / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1].split("\n## ", 1)[0]
    assert f"{package}/" in layout, f"README's layout section does not describe prefopt/{package}/"
