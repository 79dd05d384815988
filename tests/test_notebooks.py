"""Every chapter notebook follows the house style (CONTRIBUTING.md) and holds one clean,
top-to-bottom run: the rules a reader, Colab and nbval rely on."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from nbtools import ROOT

# Paths of a developer's or CI's machine must never reach a committed notebook.
MACHINE_PATH = re.compile(r"(/work/|/root/|/home/|/tmp/|/Users/|[A-Z]:\\\\)")


def _load(path):
    return nbformat.read(path, as_version=4)


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_skeleton(notebook):
    if notebook.stem.startswith("appendix"):
        pytest.skip("the appendix is a record, not a chapter: no exercises")
    nb = _load(notebook)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        "the first cell must be the chapter's H1 title"
    )
    h1 = [line for line in _markdown(nb).splitlines() if re.match(r"# \S", line)]
    assert len(h1) == 1, f"exactly one H1 title expected, found {h1}"
    md = _markdown(nb)
    assert "What you will learn" in first.source, "'What you will learn' list missing"
    for heading in ("## Exercises", "## Summary"):
        assert re.search(rf"^{heading}\s*$", md, re.M), f"section '{heading}' missing"
    assert md.count("```{exercise}") >= 3, "at least three exercises expected"
    assert md.count("{solution-start}") == md.count("```{exercise}"), (
        "every exercise needs a hidden solution"
    )
    assert md.count("{solution-start}") == md.count("{solution-end}")


def test_setup_cell(notebook):
    setup = _code_cells(_load(notebook))[0].source
    for needle in (
        "torch.manual_seed(",
        "torch.accelerator.is_available()",
        'print(f"device: {device}',
        "TORCH_COURSE_DATA",
        "%xmode Minimal",
    ):
        assert needle in setup, f"the first code cell is not the setup cell: {needle!r}"


def test_one_clean_run(notebook):
    nb = _load(notebook)
    counts = [c.execution_count for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts} are not one clean top-to-bottom run: "
        f"make execute NB={notebook.relative_to(ROOT)}"
    )


def test_errors_only_where_tagged(notebook):
    for index, cell in enumerate(_code_cells(_load(notebook)), start=1):
        tags = cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in tags:
            assert errors, f"code cell {index} is tagged raises-exception: no error"
        else:
            assert not errors, f"code cell {index} stored an error: {errors[0].ename}"


def test_no_machine_paths_or_addresses(notebook):
    for index, cell in enumerate(_load(notebook).cells):
        text = cell.source + json.dumps(cell.get("outputs", []))
        match = MACHINE_PATH.search(text)
        assert not match, f"cell {index} holds a machine path: {match.group(0)}…"


def test_kernelspec_and_metadata(notebook):
    nb = _load(notebook)
    assert nb.metadata.kernelspec.name == "python3"
    assert set(nb.metadata) <= {"kernelspec", "language_info", "mystnb"}, (
        f"volatile notebook metadata: {sorted(nb.metadata)} (make execute normalises)"
    )
    for cell in nb.cells:
        assert set(cell.metadata) <= {"tags", "mystnb"}, (
            f"volatile cell metadata {cell.metadata}"
        )


MPL_REPR = re.compile(r"^\(?\[?<(matplotlib|Figure|Axes|mpl_toolkits)|^Text\(")


def test_no_matplotlib_reprs(notebook):
    """nbval ignores a trailing `;`: a plotting cell that ends with an expression such
    as `ax.set_title(...)` stores its repr (`Text(…)`) as an output. End it with
    plt.show() instead."""
    for index, cell in enumerate(_code_cells(_load(notebook)), start=1):
        if "raises-exception" in cell.metadata.get("tags", []):
            continue  # it stops at its error on purpose
        for out in cell.outputs:
            text = out.get("data", {}).get("text/plain", "")
            has_image = any(k.startswith("image/") for k in out.get("data", {}))
            assert has_image or not MPL_REPR.match(text), (
                f"code cell {index} stores a matplotlib repr {text[:50]!r}: "
                "end the cell with plt.show()"
            )


def test_progress_bars_hidden_on_the_site(notebook):
    """A tqdm widget stores only its first frame ("0%|…") as text: on the website that
    would be a stuck bar. Such cells are tagged remove-output (the book hides the
    output; Jupyter and Colab still show the live bar) and nbval-ignore-output."""
    widget = "application/vnd.jupyter.widget-view+json"
    for index, cell in enumerate(_code_cells(_load(notebook)), start=1):
        if any(widget in out.get("data", {}) for out in cell.outputs):
            tags = set(cell.metadata.get("tags", []))
            missing = {"remove-output", "nbval-ignore-output"} - tags
            assert not missing, f"code cell {index} shows a progress bar: tag {missing}"


def test_figures_have_alt_text(notebook):
    """A screen reader reads a figure's alt text; without it the site falls back to the
    image's file name. Each cell that draws a figure (or an animation) carries a
    description in its metadata: {"mystnb": {"image": {"alt": "..."}}}."""
    for index, cell in enumerate(_code_cells(_load(notebook)), start=1):
        data = [out.get("data", {}) for out in cell.outputs]
        draws = any(k.startswith("image/") for d in data for k in d) or any(
            "_anim_img" in d.get("text/html", "") for d in data
        )
        if not draws:
            continue
        image = cell.metadata.get("mystnb", {}).get("image", {})
        alt = image.get("alt", "") if isinstance(image, dict) else ""
        assert len(alt.split()) >= 5, (
            f"code cell {index} draws a figure without alt text: add "
            '{"mystnb": {"image": {"alt": "what it shows"}}} to its metadata'
        )
