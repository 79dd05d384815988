"""Prove that every exercise's self-check can fail.

After nbval has run the last cell of a chapter, one more test item runs in the same
kernel (so the chapter's whole state is there, at no extra execution cost). For each
`check_*(...)` call in a solution it calls the check again with wrong answers — `None`
and a perturbed copy of the solution's own answer (a function becomes one that does
nothing) — and expects an AssertionError (a
TypeError or a silent pass would leave a learner with no useful hint).
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from nbtools import python_source

# Runs inside the chapter's kernel. `__CALLS__` is replaced by [(name, [arg sources])].
PROBE = textwrap.dedent(
    """
    def __course_probe(calls):
        import contextlib, copy, io, json
        import torch

        def perturb(value):
            if isinstance(value, torch.nn.Module):
                value = copy.deepcopy(value)
                with torch.no_grad():
                    next(value.parameters()).add_(1.0)
                return value
            if isinstance(value, torch.Tensor):
                if value.dtype == torch.bool:
                    return ~value
                return value.detach().clone() + 1
            if isinstance(value, bool):
                return not value
            if isinstance(value, (int, float, complex)):
                return value + 1
            if isinstance(value, str):
                return value + "?"
            if isinstance(value, (list, tuple)) and value:
                return type(value)([perturb(value[0]), *value[1:]])
            if isinstance(value, dict) and value:
                key = next(iter(value))
                return {**value, key: perturb(value[key])}
            if callable(value):  # a function that does nothing and returns None
                return lambda *args, **kwargs: None
            if hasattr(value, "__array__"):
                return value + 1
            return None

        report = []
        for name, sources in calls:
            check = globals().get(name)
            if check is None:
                report.append([name, "-", "not defined"])
                continue
            try:
                args = [eval(src, globals()) for src in sources]
            except Exception as exc:
                report.append([name, "-", f"arguments not evaluable: {exc!r}"])
                continue
            wrong = [("None", [None, *args[1:]])]
            if args:
                wrong.append(("perturbed", [perturb(args[0]), *args[1:]]))
            for label, wrong_args in wrong:
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        check(*wrong_args)
                    outcome = "accepted"
                except AssertionError:
                    outcome = "AssertionError"
                except Exception as exc:
                    outcome = type(exc).__name__ + ": " + str(exc)[:120]
                report.append([name, label, outcome])
        print("__PROBE__" + json.dumps(report))

    __course_probe(__CALLS__)
    """
)


def solution_check_calls(path: Path) -> list[tuple[str, list[str]]]:
    """The `check_*(…)` calls made in the solution cells of a notebook."""
    nb = nbformat.read(path, as_version=4)
    calls, in_solution = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if "{solution-start}" in cell.source:
                in_solution = True
            if "{solution-end}" in cell.source:
                in_solution = False
            continue
        if not in_solution:
            continue
        for node in ast.walk(ast.parse(python_source(cell.source))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.startswith("check_")
            ):
                calls.append((node.func.id, [ast.unparse(arg) for arg in node.args]))
    return calls


class ExerciseChecksProbe(pytest.Item):
    def __init__(self, *, calls, **kwargs):
        super().__init__(**kwargs)
        self.calls = calls

    def runtest(self):
        kernel = self.parent.kernel
        code = PROBE.replace("__CALLS__", repr(self.calls))
        out: list[str] = []
        errors: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        kernel.kc.execute_interactive(code, output_hook=hook, timeout=300)
        found = re.search(r"^__PROBE__(.*)$", "".join(out), re.M)
        assert found, f"the probe did not run: {errors}"
        report = json.loads(found.group(1))
        bad = [row for row in report if row[2] != "AssertionError"]
        assert report, "no exercise check was probed"
        assert not bad, "self-checks that do not reject a wrong answer:\n" + "\n".join(
            f"  {name}({label}) -> {outcome}" for name, label, outcome in bad
        )

    def repr_failure(self, excinfo):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: exercise self-checks can fail"


def add_probes(items: list) -> None:
    """Insert one probe after the last nbval cell of each notebook."""
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:  # nbval not installed: nothing to probe
        return
    result = []
    for index, item in enumerate(items):
        result.append(item)
        parent = item.parent
        is_last = index + 1 == len(items) or items[index + 1].parent is not parent
        if isinstance(parent, IPyNbFile) and is_last:
            calls = solution_check_calls(Path(parent.path))
            if calls:
                result.append(
                    ExerciseChecksProbe.from_parent(
                        parent, name="exercise-checks", calls=calls
                    )
                )
    items[:] = result
