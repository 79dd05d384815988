"""pytest run on chapters directly (`pytest --nbval notebooks/07_optimization.ipynb`)
gets the kernel environment of `make test` and `make execute`: deprecations in a
chapter's own code are errors, and torch runs on one thread, without which the
committed outputs of the training chapters do not reproduce."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from nbtools import KERNEL_ENV  # noqa: E402

os.environ.update(KERNEL_ENV)
