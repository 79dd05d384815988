"""Promises the chapters make to learners, tested outside nbval:

- chapters that read MNIST do it through one `load_mnist` helper, the same in every
  chapter, with the root taken from `$TORCH_COURSE_DATA`; a missing data set that cannot
  be downloaded, or a damaged file, stops with one short message that says what to do;
- the autograd chapter degrades, never breaks, where torchviz or graphviz's `dot` is
  missing: it runs to the end and says in one line what is missing.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from nbtools import ROOT, execute, python_source, toc_notebooks

MNIST_RAW = Path(os.environ.get("TORCH_COURSE_DATA") or ROOT / "data") / "MNIST" / "raw"


def _sources(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


MNIST_CHAPTERS = [
    p for p in toc_notebooks() if "datasets.MNIST(" in "".join(_sources(p))
]


# The course's loader: what every MNIST chapter copies verbatim (the loader cell may
# hold chapter code too, such as a to_tensors helper; only these names are compared).
LOADER_NAMES = ("TO_TENSOR", "MNIST_FILES", "check_mnist_files", "load_mnist")


def _loader(path: Path) -> list[ast.stmt]:
    """The loader cell's copies of the course's loader functions and constants."""
    sources = _sources(path)
    cell = next(src for src in sources if "def load_mnist(" in src)
    found = {}
    for node in ast.parse(python_source(cell)).body:
        if isinstance(node, ast.FunctionDef) and node.name in LOADER_NAMES:
            found[node.name] = node
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in LOADER_NAMES:
                found[target.id] = node
    missing = [name for name in LOADER_NAMES if name not in found]
    assert not missing, f"{path.name}: the loader cell lacks {missing}"
    return [found[name] for name in LOADER_NAMES]


@pytest.mark.parametrize("path", MNIST_CHAPTERS, ids=[p.stem for p in MNIST_CHAPTERS])
def test_mnist_goes_through_load_mnist(path):
    code = "\n".join(_sources(path))
    setup = _sources(path)[0]
    assert 'os.environ.get("TORCH_COURSE_DATA")' in setup
    tree = ast.parse(python_source(code))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "datasets.MNIST"
    ]
    assert len(calls) == 1 and all(
        any(k.arg == "download" and ast.unparse(k.value) == "True" for k in c.keywords)
        for c in calls
    ), [ast.unparse(c) for c in calls]
    assert "def load_mnist(" in code, "MNIST is read without the load_mnist helper"


def test_the_loader_is_the_same_in_every_chapter():
    """One helper, copied (Colab opens one file): every copy identical."""
    copies = {
        p.stem: "\n".join(ast.unparse(n) for n in _loader(p)) for p in MNIST_CHAPTERS
    }
    first = next(iter(copies.values()))
    differ = [name for name, text in copies.items() if text != first]
    assert len(copies) >= 4 and not differ, f"load_mnist differs in {differ}"


def _load_mnist_of(path: Path, root: Path):
    """The chapter's own load_mnist, with the imports of every cell up to its own."""
    sources = _sources(path)
    upto = next(i for i, src in enumerate(sources) if "def load_mnist(" in src)
    imports = [
        node
        for src in sources[: upto + 1]
        for node in ast.parse(python_source(src)).body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    namespace = {"DATA_ROOT": root, "Path": Path, "os": os}
    exec(compile(ast.Module(imports, []), str(path), "exec"), namespace)
    tree = ast.Module(
        [n for n in _loader(path) if not ast.unparse(n).startswith("DATA_ROOT")], []
    )
    namespace.setdefault("TO_TENSOR", None)
    exec(compile(tree, str(path), "exec"), namespace)
    return namespace["load_mnist"]


@pytest.mark.parametrize("path", MNIST_CHAPTERS, ids=[p.stem for p in MNIST_CHAPTERS])
def test_missing_data_gives_one_clear_message(path, tmp_path, monkeypatch):
    """Run the chapter's own load_mnist against an empty root with downloads failing."""
    from torchvision import datasets

    load_mnist = _load_mnist_of(path, tmp_path / "empty")
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["file:///nonexistent-mirror/"])
    with pytest.raises(RuntimeError) as info:
        load_mnist(train=True)
    message = str(info.value)
    assert "TORCH_COURSE_DATA" in message, message
    assert len(message.splitlines()) == 1 and len(message) < 600, message
    assert info.value.__suppress_context__, "the 40-line download traceback is chained"


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda f: f.truncate(1_000_000), "it has 1 000 000 of 47 040 016 bytes"),
        (lambda f: f.write(b"\xff" * 16), "its size is right but its contents differ"),
    ],
    ids=["truncated", "corrupted"],
)
def test_damaged_file_names_the_file_and_the_fix(damage, expected, tmp_path):
    """A truncated or corrupted copy of one MNIST file: one message that names the
    file, what is wrong with it, and how to fix it."""
    if not MNIST_RAW.exists():
        pytest.fail(f"MNIST is not in {MNIST_RAW}: set TORCH_COURSE_DATA")
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(MNIST_RAW, raw)
    with open(raw / "train-images-idx3-ubyte", "r+b") as file:
        damage(file)
    load_mnist = _load_mnist_of(MNIST_CHAPTERS[0], tmp_path)
    with pytest.raises(RuntimeError) as info:
        load_mnist(train=True)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and expected in message, message
    assert "Delete it" in message and "TORCH_COURSE_DATA" in message, message
    assert len(message.splitlines()) == 1, message


AUTOGRAD = ROOT / "notebooks" / "03_autograd.ipynb"


def _outputs(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    ]


def test_autograd_chapter_runs_without_torchviz(tmp_path):
    """torchviz unimportable (and pip unable to install it): the chapter runs to the
    end, and says once how to install it; the graph cells say in one line what they
    would have drawn."""
    shadow = tmp_path / "shadow" / "torchviz"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ImportError(\"No module named 'torchviz'\")\n", encoding="utf-8"
    )
    copy = tmp_path / AUTOGRAD.name
    shutil.copy(AUTOGRAD, copy)
    execute(
        copy,
        kernel_env={
            "PYTHONPATH": str(shadow.parent),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": "",
        },
    )  # raises if any cell not tagged raises-exception fails
    texts = _outputs(copy)
    advice = [t for t in texts if "pip install torchviz" in t]
    assert advice, "the setup cell did not say how to install torchviz"
    skipped = [t for t in texts if "torchviz" in t and "graph" in t.lower()]
    assert len(skipped) >= 2, "the graph cells did not say what is missing"
    assert not any("digraph" in t for t in texts), "a graph was drawn without torchviz"


def test_autograd_chapter_runs_without_dot(tmp_path, monkeypatch):
    """Hide graphviz's `dot`: the graph cells fall back to a one-line hint and the DOT
    source (run up to the first graph, which is where it would break)."""
    nb = nbformat.read(AUTOGRAD, as_version=4)
    first_graph = next(
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and "show_graph(" in c.source
        and "def show_graph" not in c.source
    )
    nb.cells = nb.cells[: first_graph + 1]
    copy = tmp_path / AUTOGRAD.name
    nbformat.write(nb, copy)
    bin_dir = Path(sys.executable).parent  # the venv: python, no dot
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("dot") is None
    execute(copy)
    hints = [t for t in _outputs(copy) if "digraph" in t]
    assert hints, "the graph cell did not fall back to the DOT source"
    assert all("dot" in t.splitlines()[0] for t in hints), hints[0][:300]
