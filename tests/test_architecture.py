"""The package's imports flow one way (no cycle, no import hidden inside a function, the
documented layer order), and the demo's classifier takes a short route through it."""

import ast
import sys
from pathlib import Path

from captum_explainer.evaluation.registry import method_records
from captum_explainer.models.pretrained import synthetic_classifier
from captum_explainer.tasks.demo import run_demo

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
    {
        "_version",
        "_deprecation",
        "scores",
        "maps",
        "output_files",
        "files",
        "checkpoint",
        "distributed",
        "runtime",
        "machine",
    },
    {"data"},
    {"models"},
    {"attr"},
    {"metrics"},
    {"training", "explainer"},
    {"report"},
    {"evaluation"},
    {"amortized"},
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


# ---------------------------------------------------------------- the classifier's route
_MODULES: dict[str, str | None] = {}


def _package_module(frame) -> str | None:
    filename = frame.f_code.co_filename
    if filename not in _MODULES:
        path = Path(filename).resolve()
        _MODULES[filename] = _module_name(path) if path.is_relative_to(PACKAGE) else None
    return _MODULES[filename]


def _handed(frame, target) -> bool:
    """Whether ``target`` is among the frame's arguments (its own methods' ``self`` aside:
    the classifier's own code is not a place it is handed to)."""
    code = frame.f_code
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return any(frame.f_locals.get(name) is target for name in names if name != "self")


def _route(target, run):
    """The package modules whose functions are handed ``target`` while ``run()`` runs, and
    the distinct moves (calling module -> called module) between them, the caller being the
    nearest package frame above the call."""
    modules, moves = [], []

    def profile(frame, event, arg):
        if event != "call":
            return
        here = _package_module(frame)
        if here is None or not _handed(frame, target):
            return
        caller = frame.f_back
        while caller is not None and _package_module(caller) is None:
            caller = caller.f_back
        if here not in modules:
            modules.append(here)
        there = _package_module(caller) if caller is not None else None
        if there not in (None, here) and (there, here) not in moves:
            moves.append((there, here))

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return modules, moves


def test_the_demos_classifier_travels_through_few_files_and_climbs_little(tmp_path):
    """Follow the shipped classifier through a quick demo (every method): a file is on its
    route when one of its functions is handed the classifier; a climb is a move into a higher
    layer than the caller's (a lower module calling back up). docs/architecture.md: at most
    12 files and 4 climbs. Run with -s to print the route."""
    classifier = synthetic_classifier()
    settings = {r.key: r.presets["quick"] for r in method_records()}
    modules, moves = _route(
        classifier,
        lambda: run_demo(
            tmp_path / "demo", n_images=2, progress=False, classifier=classifier, settings=settings
        ),
    )
    climbs = [(a, b) for a, b in moves if _layer(b) > _layer(a)]
    route = "\n".join(f"  {a} -> {b}{'   (climb)' if (a, b) in climbs else ''}" for a, b in moves)
    print(f"\n{len(modules)} files: {', '.join(modules)}\n{len(moves)} moves:\n{route}")
    assert "captum_explainer.tasks.demo" in modules and len(moves) > 3  # the tracer works
    assert len(modules) <= 12, route
    assert len(climbs) <= 4, route
