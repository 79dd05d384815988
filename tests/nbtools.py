"""Notebook tooling shared by the Makefile and the tests.

    python tests/nbtools.py execute notebooks/01_tensors.ipynb [...]
    python tests/nbtools.py normalise notebooks/*.ipynb
    python tests/nbtools.py toc            # the notebooks listed in _toc.yml

`execute` runs a notebook top to bottom in a fresh kernel, in the notebook's folder
(as Jupyter, Colab, nbval and Jupyter Book do), stores the outputs and normalises the
file, so that committed outputs always come from one clean run.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}
# Notebook metadata we keep; everything else (jupytext, widgets, colab…) is dropped.
KEEP_NB_METADATA = {"kernelspec", "language_info", "mystnb"}
# Cell-level metadata we keep: tags drive nbval and Jupyter Book.
KEEP_CELL_METADATA = {"tags"}
DEFAULT_TIMEOUT = 600  # seconds per cell, as in _config.yml
# Tracebacks name the files of this machine's Python: keep only the part a reader needs.
MACHINE_PREFIX = re.compile(r"/[^\s\x1b\"'()]*/(site-packages|lib/python3\.\d+)/")


def strip_machine_paths(text: str) -> str:
    """'/x/.venv/lib/python3.11/site-packages/a.py' -> '.../site-packages/a.py'"""
    return MACHINE_PREFIX.sub(r".../\1/", text)


def python_source(cell_source: str) -> str:
    """A code cell as plain Python: IPython magics and shell lines (% …, ! …) blanked,
    so that `ast.parse` works and line numbers stay the same."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in cell_source.splitlines()
    )


def toc_files(root: Path = ROOT) -> list[str]:
    """Every `file:` entry of _toc.yml, in order (without suffix)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found: list[str] = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks listed in _toc.yml."""
    return [
        root / f"{entry}.ipynb"
        for entry in toc_files(root)
        if (root / f"{entry}.ipynb").exists()
    ]


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop volatile metadata so a re-run changes only what really changed."""
    nb.metadata = nbformat.NotebookNode(
        {k: v for k, v in nb.metadata.items() if k in KEEP_NB_METADATA}
    )
    nb.metadata["kernelspec"] = nbformat.NotebookNode(KERNELSPEC)
    info = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = nbformat.NotebookNode(
        {"name": "python", "version": info.get("version", "3")}
    )
    for index, cell in enumerate(nb.cells):
        cell.metadata = nbformat.NotebookNode(
            {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        )
        cell["id"] = f"cell-{index:03d}"  # stable ids: no churn in diffs
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("execution", None)
                if output.output_type == "error":
                    output.traceback = [
                        strip_machine_paths(t) for t in output.traceback
                    ]
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def execute(path: Path, timeout: int = DEFAULT_TIMEOUT) -> float:
    """Run one notebook top to bottom in place; return the wall time in seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = nbformat.NotebookNode(KERNELSPEC)
    timeout = nb.metadata.get("mystnb", {}).get("execution_timeout", timeout)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(normalise(nb), path)
    return seconds


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"execute", "normalise", "toc"}:
        print(__doc__)
        return 2
    command, paths = argv[0], [Path(p) for p in argv[1:]]
    if command == "toc":
        print("\n".join(str(p.relative_to(ROOT)) for p in toc_notebooks()))
        return 0
    for path in paths:
        if command == "execute":
            print(f"executing {path} …", flush=True)
            print(f"  {execute(path):.1f} s")
        else:
            nb = nbformat.read(path, as_version=4)
            nbformat.write(normalise(nb), path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
