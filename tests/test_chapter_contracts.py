"""Promises some chapters make to learners, tested outside nbval:

- chapters that read MNIST do it through `load_mnist`, with the root taken from
  `$TORCH_COURSE_DATA`; when the data is missing and cannot be downloaded, it stops
  with one short message that names TORCH_COURSE_DATA (not a 40-line traceback);
- the autograd chapter still runs where graphviz's `dot` is not installed.
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


def _sources(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


MNIST_CHAPTERS = [
    p for p in toc_notebooks() if "datasets.MNIST(" in "".join(_sources(p))
]


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
    assert calls and all(
        any(k.arg == "download" and ast.unparse(k.value) == "True" for k in c.keywords)
        for c in calls
    ), [ast.unparse(c) for c in calls]
    assert "def load_mnist(" in code, "MNIST is read without the load_mnist helper"


@pytest.mark.parametrize("path", MNIST_CHAPTERS, ids=[p.stem for p in MNIST_CHAPTERS])
def test_missing_data_gives_one_clear_message(path, tmp_path, monkeypatch):
    """Run the chapter's own load_mnist against an empty root with downloads failing."""
    from torchvision import datasets

    sources = _sources(path)
    upto = next(i for i, src in enumerate(sources) if "def load_mnist(" in src)
    body = []  # the imports of every cell up to the helper's, then that cell
    for index, src in enumerate(sources[: upto + 1]):
        tree = ast.parse(python_source(src))
        body += [
            node
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) or index == upto
        ]
    keep = [
        node
        for node in body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        or (isinstance(node, ast.FunctionDef) and node.name == "load_mnist")
        or (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
        )
    ]
    namespace = {"DATA_ROOT": tmp_path / "empty", "Path": Path, "os": os}
    exec(compile(ast.Module(keep, []), str(path), "exec"), namespace)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["file:///nonexistent-mirror/"])
    with pytest.raises(RuntimeError) as info:
        namespace["load_mnist"](train=True)
    message = str(info.value)
    assert "TORCH_COURSE_DATA" in message, message
    assert len(message.splitlines()) == 1 and len(message) < 600, message
    assert info.value.__suppress_context__, "the 40-line download traceback is chained"


def test_autograd_chapter_runs_without_dot(tmp_path, monkeypatch):
    """Hide graphviz's `dot`: the chapter still runs and shows the DOT source."""
    chapter = ROOT / "notebooks" / "03_autograd.ipynb"
    copy = tmp_path / chapter.name
    shutil.copy(chapter, copy)
    bin_dir = Path(sys.executable).parent  # the venv: python, no dot
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("dot") is None
    execute(copy)
    nb = nbformat.read(copy, as_version=4)
    texts = [
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    ]
    hints = [t for t in texts if "digraph" in t]
    assert len(hints) >= 2, "the torchviz cells did not fall back to the DOT source"
    assert all("dot" in t.splitlines()[0] for t in hints), hints[0][:300]
