"""Shared fixtures: the repository, the toc's notebooks and the built site."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from nbtools import (  # noqa: E402
    KERNEL_ENV,
    ROOT,
    toc_files,
    toc_notebooks,
)

# nbval's kernels inherit these, as `make execute`'s do: deprecations in a chapter's own
# code are errors, and torch runs on one thread (outputs reproducible on any machine).
os.environ.update(KERNEL_ENV)

SITE = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def site() -> Path:
    """The built website (make test builds it before running pytest)."""
    if not (SITE / "index.html").exists():
        pytest.fail("no built site in _build/html: run `make book` first")
    return SITE


def pytest_generate_tests(metafunc):
    if "notebook" in metafunc.fixturenames:
        paths = toc_notebooks()
        metafunc.parametrize("notebook", paths, ids=[p.stem for p in paths])
    if "toc_entry" in metafunc.fixturenames:
        entries = toc_files()
        metafunc.parametrize("toc_entry", entries, ids=entries)


def pytest_collection_modifyitems(session, config, items):
    """After each chapter's last cell, probe its exercise checks with wrong answers."""
    from exercise_probe import add_probes

    add_probes(items)
