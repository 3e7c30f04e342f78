"""The package's shape, read from the source with `ast`: no import cycle (imports inside functions count),
between modules or between packages, and the light rooms never reach TensorFlow or Keras.

DESIGN.md: `converters/` has one room per stage; `formats/`, `verify/`, `repair/` and `runtime/` are light
(what a board runs), `export/` is the only room that imports TensorFlow or Keras. `edgeshare.bench` is the
light harness that runs on boards too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Where each import name lives in the repository (setup.py maps converters/ and models/ into edgeshare).
FOLDERS = {"edgeshare": ROOT / "edgeshare", "edgeshare.converters": ROOT / "converters",
           "edgeshare.models": ROOT / "models"}
HEAVY = {"tensorflow", "keras", "tf2onnx", "tf_keras", "sklearn", "keras_hub", "jax", "torch"}
LIGHT = ["edgeshare.converters.formats", "edgeshare.converters.verify", "edgeshare.converters.repair",
         "edgeshare.converters.runtime", "edgeshare.bench", "edgeshare.errors", "edgeshare.validation"]


def modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package __init__)."""
    out = {}
    for pkg, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if pkg == "edgeshare" and rel[0] in ("converters", "models"):
                continue
            if "__pycache__" in rel:
                continue
            init = rel[-1] == "__init__"
            out[".".join((pkg, *(rel[:-1] if init else rel)))] = (path, init)
    return out


MODULES = modules()


def imports_of(name: str) -> set[str]:
    """Every module or external top-level package `name` imports, anywhere in the file."""
    path, is_pkg = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        for t in targets:
            while t not in MODULES and "." in t and t.startswith("edgeshare"):
                t = t.rsplit(".", 1)[0]
            if t in MODULES:
                if t != name:
                    found.add(t)
            else:
                found.add(t.split(".")[0])
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next((x for x in it if x in graph), None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def unit(module: str) -> str:
    """The package a module belongs to, for the package-level check: `edgeshare.X.Y` (a room such as
    edgeshare.converters.verify, a folder such as edgeshare.bench.engines) or a top-level module."""
    return ".".join(module.split(".")[:3])


def test_no_import_cycle_between_modules():
    assert cycles(GRAPH) == []


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = defaultdict(set)
    for m, deps in GRAPH.items():
        packages[unit(m)]
        packages[unit(m)] |= {unit(d) for d in deps if d in MODULES and unit(d) != unit(m)}
    assert cycles(dict(packages)) == []


def reaches(start: str, graph: dict[str, set[str]] = GRAPH) -> dict[str, str]:
    """Every heavy package `start` reaches through imports, with one module on the way that imports it."""
    seen, todo, heavy = {start}, [start], {}
    while todo:
        m = todo.pop()
        for d in graph[m]:
            if d in HEAVY:
                heavy.setdefault(d, m)
            elif d in MODULES and d not in seen:
                seen.add(d)
                todo.append(d)
    return heavy


@pytest.mark.parametrize("room", LIGHT)
def test_light_rooms_never_import_tensorflow_or_keras(room):
    members = [m for m in MODULES if m == room or m.startswith(room + ".")]
    assert members, f"{room} is not in the repository"
    found = {m: reaches(m) for m in members}
    assert {m: h for m, h in found.items() if h} == {}


def test_the_checks_see_a_cycle_and_a_heavy_import():
    """The checks can fail: a cycle, and a heavy import two modules away, written into a copy of the graph."""
    graph = {k: set(v) for k, v in GRAPH.items()}
    assert "tensorflow" in graph["edgeshare.converters.export.to_tflite"]  # the parser sees function-level imports
    graph["edgeshare.converters.formats.source"].add("edgeshare.converters.verify.verifier")
    assert cycles(graph)
    graph["edgeshare.converters.formats.weights"].add("edgeshare.converters.export.to_tflite")
    assert reaches("edgeshare.converters.verify.verifier", graph)["tensorflow"]


def test_the_public_imports_resolve():
    """Every name the packages export, as users import them (the rooms moved code; these names did not)."""
    import edgeshare
    import edgeshare.converters as conv
    import edgeshare.layers as layers

    for mod in (edgeshare, conv, layers):
        for name in mod.__all__:
            assert getattr(mod, name) is not None, (mod.__name__, name)
    assert callable(conv.export_tflite) and callable(conv.export_onnx) and callable(conv.verify)
    assert callable(conv.repair) and conv.ExportReport.__name__ == "ExportReport"
    from edgeshare.converters.repair import repair as repair_fn

    assert repair_fn is conv.repair
