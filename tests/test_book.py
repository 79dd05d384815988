"""The book: every toc entry exists and was built into a page; nbval really compares."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from nbtools import ROOT


def test_toc_entry_exists(toc_entry):
    sources = [ROOT / f"{toc_entry}{ext}" for ext in (".md", ".ipynb")]
    assert any(p.exists() for p in sources), f"_toc.yml lists {toc_entry}: no such file"


def test_toc_entry_built(toc_entry, site):
    page = site / f"{toc_entry}.html"
    assert page.exists(), f"{toc_entry} was not built into {page.relative_to(ROOT)}"
    html = page.read_text(encoding="utf-8")
    assert "<h1" in html, f"{page.name} has no title"


def test_index_redirects_to_intro(site):
    assert "book/intro.html" in (site / "index.html").read_text(encoding="utf-8")


def _run_nbval(path: Path) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "tests" / "conftest.py", path.parent / "conftest.py")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "tests" / "nbval_sanitize.cfg"),
        str(path),
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.setdefault("TORCH_COURSE_DATA", str(ROOT / "data"))  # as make sets it
    env["PYTHONPATH"] = str(ROOT / "tests")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=path.parent, env=env)


def test_nbval_really_compares(tmp_path):
    """A check that can fail: nbval passes the template as committed and fails it as
    soon as one stored output is altered."""
    original = ROOT / "notebooks" / "_template.ipynb"
    good = tmp_path / "good.ipynb"
    shutil.copy(original, good)
    result = _run_nbval(good)
    assert result.returncode == 0, result.stdout[-2000:]

    nb = nbformat.read(original, as_version=4)
    stream = next(
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and "mean: 2.5000" in out.text
    )
    stream.text = stream.text.replace("mean: 2.5000", "mean: 2.5001")
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    result = _run_nbval(bad)
    assert result.returncode != 0, "nbval accepted an altered output"
    # exactly the altered cell fails (code cell 1: the first after the setup cell)
    assert "FAILED bad.ipynb::Cell 1 " in result.stdout, result.stdout[-2000:]
    assert "1 failed" in result.stdout, result.stdout[-2000:]


def test_exercise_probe_catches_a_weak_check(tmp_path):
    """The probe that runs after each chapter fails a self-check that accepts a
    wrong answer (here: the template's check without its value test)."""
    nb = nbformat.read(ROOT / "notebooks" / "_template.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "def check_ex1" in c.source)
    lines = cell.source.splitlines(keepends=True)
    strict = [line for line in lines if "torch.equal(answer.flatten()" in line]
    assert len(strict) == 1, "the template's value check moved: update this test"
    cell.source = "".join(line for line in lines if line not in strict)
    nbformat.write(nb, tmp_path / "weak.ipynb")
    result = _run_nbval(tmp_path / "weak.ipynb")
    assert result.returncode != 0
    assert "check_ex1(perturbed) -> accepted" in result.stdout, result.stdout[-2000:]
