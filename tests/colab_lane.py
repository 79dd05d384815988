"""`make test-colab`: every chapter of the toc on Google Colab's package versions.

Each notebook is copied alone into an empty folder (as Colab opens one file) and run
top to bottom in a fresh kernel of this venv (.venv-colab, from
tests/colab/requirements.txt), as many at a time as the machine has cores.
Outputs are not compared — numbers may differ between versions — but every cell must
run, and a deprecated call in a chapter's own code is an error (PYTHONWARNINGS, as in
the main lane). One line per chapter with its time; exit 1 if any chapter failed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import nbformat

from nbtools import ROOT, STATUS, execute, toc_notebooks


def main(argv: list[str]) -> int:
    paths = [ROOT / p for p in argv] if argv else toc_notebooks()
    print(
        f"Colab lane: Python {platform.python_version()}, torch {version('torch')}, "
        f"torchvision {version('torchvision')}, numpy {version('numpy')}, "
        f"pandas {version('pandas')}, matplotlib {version('matplotlib')}",
        flush=True,
    )
    failed, start = [], time.perf_counter()
    lock = threading.Lock()

    def run(path: Path) -> None:
        with tempfile.TemporaryDirectory() as empty:
            copy = Path(empty) / path.name
            shutil.copy(path, copy)
            t0 = time.perf_counter()
            try:
                execute(copy)
                outcome = "ok"
                setup = nbformat.read(copy, as_version=4).cells
                first = next(c for c in setup if c.cell_type == "code")
                printed = "".join(o.get("text", "") for o in first.outputs)
                if f"torch {version('torch')}" not in printed:  # the lane's kernel?
                    outcome = f"FAILED: the kernel did not run torch {version('torch')}"
            except Exception as exc:  # noqa: BLE001 — report every chapter
                outcome = "FAILED\n" + "\n".join(
                    "    " + line for line in str(exc).strip().splitlines()[-25:]
                )
            with lock:
                if outcome != "ok":
                    failed.append(path.name)
                print(
                    f"{path.stem:32s} {time.perf_counter() - t0:6.1f} s  {outcome}",
                    flush=True,
                )

    # As many chapters at a time as there are cores (each kernel runs torch on one
    # thread), the longest first (times from status.json) so the run ends sooner.
    jobs = max(1, min(len(paths), int(os.environ.get("JOBS") or os.cpu_count() or 1)))
    recorded = json.loads(STATUS.read_text()) if STATUS.exists() else {}
    paths = sorted(paths, key=lambda p: -recorded.get(p.stem, {}).get("seconds", 0))
    print(f"{len(paths)} chapters, {jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run, paths))
    total = time.perf_counter() - start
    print(f"{len(paths) - len(failed)} of {len(paths)} chapters ran in {total:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
