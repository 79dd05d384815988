"""The toolchain's promises: the lock is the top-level list resolved (with hashes) and
is exactly what is installed; the status record matches the committed notebooks; the
committed notebooks are normalised."""

from __future__ import annotations

import json

import lockfile
import nbformat
import pytest
from packaging.utils import canonicalize_name

from nbtools import STATUS, code_digest, is_normalised, result_lines, toc_notebooks


def test_lock_has_every_top_level_package_at_its_pin():
    lock = lockfile.locked()
    problems = []
    for name, req in lockfile.top_level().items():
        versions = [
            v for v, marker, _ in lock.get(name, []) if lockfile.applies(marker)
        ]
        if not versions:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not all(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{req}: the lock has {versions}")
    assert not problems, (
        "requirements.txt and requirements.lock disagree (make lock):\n"
        + ("\n".join(problems))
    )


def test_every_locked_package_has_hashes():
    missing = [
        name
        for name, entries in lockfile.locked().items()
        if any(h == 0 for *_, h in entries)
    ]
    assert not missing, f"entries without --hash: {missing}"


def test_lock_is_generated_by_make_lock():
    head = lockfile.LOCK.read_text(encoding="utf-8").splitlines()[:3]
    assert any("make lock" in line for line in head), head


def test_installed_packages_are_exactly_locked():
    """`pip freeze` ⊆ lock: nothing in the venv came from outside the lock."""
    extra = lockfile.not_in_lock()
    assert not extra, f"installed but not locked (make setup syncs): {extra}"
    installed = lockfile.installed()
    for name in lockfile.top_level():
        assert canonicalize_name(name) in installed, f"{name} is locked, not installed"


@pytest.fixture(scope="module")
def status():
    assert STATUS.exists(), "notebooks/status.json is missing: make execute writes it"
    return json.loads(STATUS.read_text(encoding="utf-8"))


def test_status_record_matches_the_notebook(notebook, status):
    """The status page shows each chapter's last clean run: the record must belong to
    the committed code and outputs."""
    run = status.get(notebook.stem)
    hint = f"make execute NB={notebook.relative_to(lockfile.ROOT)}"
    assert run, f"{notebook.name} has no run in status.json: {hint}"
    nb = nbformat.read(notebook, as_version=4)
    assert run["code"] == code_digest(nb), (
        f"the code changed since its last run: {hint}"
    )
    assert run["results"] == result_lines(nb), f"outputs differ from the record: {hint}"
    for key in ("seconds", "date", "python", "torch", "torchvision", "platform"):
        assert run.get(key), f"status.json lacks {key} for {notebook.stem}"


def test_status_has_no_stale_entries(status):
    names = {p.stem for p in toc_notebooks()}
    assert set(status) <= names, (
        f"runs of notebooks not in the toc: {set(status) - names}"
    )


def test_notebooks_are_normalised(notebook):
    assert is_normalised(notebook), (
        f"{notebook.name} is not normalised: "
        f"python tests/nbtools.py normalise {notebook.name}"
    )
