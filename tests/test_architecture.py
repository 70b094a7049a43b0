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


#: The layers of docs/architecture.md, bottom first: a module may import its own layer and the
#: ones below, never one above. The entries name top-level modules and subpackages.
LAYERS = [
    {"_version", "_deprecation", "scores", "maps", "files", "checkpoint", "distributed", "runtime"},
    {"data"},
    {"models"},
    {"attr"},
    {"metrics"},
    {"training", "explainer"},
    {"report"},
    {"evaluation"},
    {"tasks"},
    {"compare", "sanity", "visualization"},  # thin re-exports; the last two deprecated
    {"cli", "__main__", "captum_explainer"},
]


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else parts[0]
    for index, members in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def test_imports_point_down_the_documented_layers():
    graph, _ = _imports()
    upward = [
        f"{module} ({_layer(module)}) -> {target} ({_layer(target)})"
        for module, targets in graph.items()
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_the_documented_layers_are_the_ones_tested():
    """The layer block of docs/architecture.md lists these layers, top line first."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    block = text.split("## The layers", 1)[1].split("##", 1)[0]
    documented = []
    for line in block.splitlines():
        if line.startswith("    ") and not line.startswith("     "):
            first = line.strip().split("  ", 1)[0]
            documented.append({name.strip() for name in first.split(",")})
    assert documented[::-1] == LAYERS
