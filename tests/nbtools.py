"""Notebook tooling shared by the Makefile, the tests and the Colab lane.

    python tests/nbtools.py execute notebooks/01_tensors.ipynb [...]
    python tests/nbtools.py normalise notebooks/*.ipynb
    python tests/nbtools.py check notebooks/*.ipynb   # normalised? (pre-commit)
    python tests/nbtools.py toc            # the notebooks listed in _toc.yml
    python tests/nbtools.py sources DIR notebooks/*.ipynb   # cell sources as text

`execute` runs a notebook top to bottom in a fresh kernel, in the notebook's folder
(as Jupyter, Colab, nbval and Jupyter Book do), stores the outputs, normalises the file
and records the run (time, result lines, versions) in notebooks/status.json — the
book's status page is generated from that record, so the book never executes a chapter.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
STATUS = ROOT / "notebooks" / "status.json"
KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}
# Notebook metadata we keep; everything else (jupytext, widgets, colab…) is dropped.
KEEP_NB_METADATA = {"kernelspec", "language_info", "mystnb"}
# Cell-level metadata we keep: tags drive nbval and Jupyter Book; `mystnb` holds a
# figure's alt text and caption (myst-nb reads them when it renders the page).
KEEP_CELL_METADATA = {"tags", "mystnb"}
DEFAULT_TIMEOUT = 600  # seconds per cell
# A deprecated call in a chapter's own code (module __main__ in the kernel) is an
# error, in every lane: the kernel inherits PYTHONWARNINGS from whoever starts it.
WARNINGS_AS_ERRORS = "error::DeprecationWarning:__main__,error::FutureWarning:__main__"
# Every kernel that records or checks outputs runs torch on ONE CPU thread. A trained
# model's last digits depend on how many threads summed its numbers (measured: 0.8998
# vs 0.9092 validation accuracy, same seeds, 2 vs 1 threads), so a fixed count makes
# the committed outputs reproducible on any machine; and on a 2-core machine two
# one-thread chapters run side by side instead of fighting over the cores. Learners'
# notebooks use all their cores: this is the harness's setting, not the chapters'.
KERNEL_ENV = {
    "PYTHONWARNINGS": WARNINGS_AS_ERRORS,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# Tracebacks name the files of this machine's Python: keep only the part a reader needs.
MACHINE_PREFIX = re.compile(r"/[^\s\x1b\"'()]*/(site-packages|lib/python3\.\d+)/")
# Lines a chapter prints that summarise its result (shown on the status page).
RESULT_LINE = re.compile(
    r"^(test accuracy|validation accuracy|accuracy|result|both versions|learned w|"
    r"restored model)\b.*$",
    re.M | re.I,
)


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
    """The notebooks listed in _toc.yml (chapters and appendix)."""
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
                elif output.output_type == "stream" and output.name == "stderr":
                    output.text = strip_machine_paths(output.text)  # library logs
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def is_normalised(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    return nbformat.writes(normalise(nb)) + "\n" == text


def code_digest(nb: nbformat.NotebookNode) -> str:
    """A fingerprint of a notebook's code: the status record belongs to this code."""
    code = "\n\x00".join(c.source for c in nb.cells if c.cell_type == "code")
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


def result_lines(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get(
            "tags", []
        ):
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout":
                found += [m.group(0).strip() for m in RESULT_LINE.finditer(out.text)]
    return found


def environment() -> dict:
    import torch

    device = "CUDA GPU" if torch.cuda.is_available() else "CPU"
    return {
        "python": platform.python_version(),
        "torch": version("torch").split("+")[0],
        "torchvision": version("torchvision").split("+")[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "cores": os.cpu_count(),
        "threads": int(KERNEL_ENV["OMP_NUM_THREADS"]),
        "device": device,
    }


def record(path: Path, seconds: float, nb: nbformat.NotebookNode) -> None:
    """Store one run in notebooks/status.json (read by the book's status page)."""
    status = json.loads(STATUS.read_text(encoding="utf-8")) if STATUS.exists() else {}
    status[path.stem] = {
        "seconds": round(seconds, 1),
        "date": date.today().isoformat(),
        "code": code_digest(nb),
        "results": result_lines(nb),
        **environment(),
    }
    text = json.dumps(dict(sorted(status.items())), indent=1, ensure_ascii=False)
    partial = STATUS.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(STATUS)  # atomic: a reader never sees half a file


def execute(
    path: Path, timeout: int = DEFAULT_TIMEOUT, kernel_env: dict | None = None
) -> float:
    """Run one notebook top to bottom in place; return the wall time in seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = nbformat.NotebookNode(KERNELSPEC)
    timeout = nb.metadata.get("mystnb", {}).get("execution_timeout", timeout)
    env = {**os.environ, **KERNEL_ENV, **(kernel_env or {})}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute(env=env)  # keyword arguments go to the kernel's start
    seconds = time.perf_counter() - start
    nbformat.write(normalise(nb), path)
    return seconds


def execute_all(paths: list[Path]) -> int:
    """Run notebooks, as many at a time as the machine has cores (one thread each),
    and record each clean run in status.json."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    toc = {p.resolve() for p in toc_notebooks()}
    lock = threading.Lock()

    def run(path: Path) -> str:
        seconds = execute(path)  # raises CellExecutionError on an unexpected error
        with lock:
            if path.resolve() in toc:
                record(path, seconds, nbformat.read(path, as_version=4))
            print(f"  {path.name}: {seconds:.1f} s", flush=True)
        return path.name

    jobs = max(1, min(len(paths), int(os.environ.get("JOBS") or os.cpu_count() or 1)))
    recorded = json.loads(STATUS.read_text()) if STATUS.exists() else {}
    paths = sorted(paths, key=lambda p: -recorded.get(p.stem, {}).get("seconds", 0))
    print(f"executing {len(paths)} notebook(s), {jobs} at a time …", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(run, path) for path in paths]:
            future.result()
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"execute", "normalise", "check", "toc", "sources"}:
        print(__doc__)
        return 2
    command, paths = argv[0], [Path(p) for p in argv[1:]]
    if command == "sources":  # for spell checking: what people wrote, not outputs
        out, paths = paths[0], paths[1:]
        out.mkdir(parents=True, exist_ok=True)
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            text = "\n\n".join(cell.source for cell in nb.cells)
            (out / f"{path.name}.txt").write_text(text + "\n", encoding="utf-8")
        return 0
    if command == "toc":
        print("\n".join(str(p.relative_to(ROOT)) for p in toc_notebooks()))
        return 0
    if command == "execute":
        return execute_all(paths)
    bad = []
    for path in paths:
        if command == "check":
            if not is_normalised(path):
                bad.append(str(path))
        else:
            nb = nbformat.read(path, as_version=4)
            nbformat.write(normalise(nb), path)
    if bad:
        print("not normalised (run: python tests/nbtools.py normalise FILE):")
        print("\n".join(f"  {p}" for p in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
