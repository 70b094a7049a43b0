"""The package's imports flow one way: no cycle, and no import hidden inside a function."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "captum_explainer"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """module -> the package's modules it imports at its top level; and the local imports."""
    graph, local = {}, []
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        tree = ast.parse(path.read_text())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            found = [f for f in found if f in modules]
            if not found:
                continue
            if node.col_offset > 0:
                local.append(f"{name}:{node.lineno}")
            targets.update(f for f in found if f != name)
        graph[name] = targets
    return graph, local


def test_no_function_local_imports_of_the_package():
    _, local = _imports()
    assert local == []


def test_no_import_cycles():
    graph, _ = _imports()
    # A package's __init__ importing its own submodules is how Python packages work; a
    # submodule importing its parent package back would be a cycle and is counted.
    edges = {
        module: {t for t in targets if not t.startswith(module + ".")}
        for module, targets in graph.items()
    }
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(
                    stack[stack.index(target) :] + [target] if target in stack else [module, target]
                )
            elif target not in state:
                visit(target, stack + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_cli_modules_are_short():
    for path in (PACKAGE / "cli").glob("*.py"):
        assert len(path.read_text().splitlines()) < 350, path.name
