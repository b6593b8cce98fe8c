"""The import graph runs downward only: the library packages never import an entry point or a test module, each
imports only its own package or the layers below it, and no flag is defined below the entry points.

Layers, bottom up: common; weights (published files); alexnet, allcnn (the model families); models.py; data;
evaluation; figures; training. On top: the entry points (``python -m`` modules, ``__main__.py``, among them) train.py, evaluate.py, benchmark.py and tools/, and the tests."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
LAYER = {"common": 0, "weights": 1, "alexnet": 2, "allcnn": 2, "models": 3, "data": 4, "evaluation": 5, "figures": 6,
         "training": 7}
ABOVE_THE_LIBRARY = {"train", "evaluate", "benchmark", "tools", "conftest"}


def library_modules():
    """(top-level name, path) of every non-test module of the library packages, and models.py."""
    found = [("models", os.path.join(ROOT, "models.py"))]
    for package in LAYER:
        directory = os.path.join(ROOT, package)
        if os.path.isdir(directory):
            found += [(package, os.path.join(directory, name)) for name in sorted(os.listdir(directory))
                      if name.endswith(".py") and not name.endswith("_test.py") and name != "__main__.py"]
    return found


def imported_top_levels(path):
    """The top-level name of every absolute import in the file, wherever it stands (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package, path", library_modules(), ids=lambda v: os.path.relpath(v, ROOT) if "/" in v
                         else v)
def test_a_library_module_imports_only_its_layer_and_below(package, path):
    names = imported_top_levels(path)
    assert not names & ABOVE_THE_LIBRARY, f"{path} imports an entry point or the tests: {names & ABOVE_THE_LIBRARY}"
    assert not {n for n in names if n.endswith("_test")}, f"{path} imports a test module"
    upward = {n for n in names if n in LAYER and LAYER[n] > LAYER[package]}
    assert not upward, f"{os.path.relpath(path, ROOT)} ({package}, layer {LAYER[package]}) imports {upward} above it"
    assert "flags.DEFINE" not in open(path).read(), f"{path} defines flags: only the entry points do"


def test_the_check_sees_the_library():
    # the layering test must not pass vacuously
    modules = library_modules()
    assert len(modules) > 30 and {"training", "evaluation", "data", "common"} <= {p for p, _ in modules}
    assert "evaluation" in imported_top_levels(os.path.join(ROOT, "training", "loop.py"))
