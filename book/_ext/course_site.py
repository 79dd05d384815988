"""Sphinx additions for the course site (_config.yml: sphinx.local_extensions).

- Sphinx 7.4 adds sphinx-thebe's inline script twice, which makes Chromium log
  "THEBE_JS_URL has already been declared": drop exact duplicate scripts per page.
- ``{course-status}``: a table generated at build time from the execution data myst-nb
  records (run time, success) and the key result lines each chapter prints
  (``test accuracy: …``, ``result: …``), with the versions the build ran with.
"""

from __future__ import annotations

import platform
import re
from datetime import date
from importlib.metadata import version

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

# Lines a chapter prints that summarise its result (shown on the status page).
# The build machine's Python prefix in tracebacks (as tests/nbtools.py strips it).
MACHINE_PREFIX = re.compile(r"/[^\s\x1b\"'()]*/(site-packages|lib/python3\.\d+)/")
RESULT_LINE = re.compile(
    r"^(test accuracy|accuracy|result|both versions|learned w|restored model)\b.*$",
    re.M | re.I,
)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # the same file or inline body, whatever priority it was added with
        attributes = getattr(script, "attributes", {}) or {}
        filename = str(getattr(script, "filename", "") or "")
        key = (filename, repr(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


class course_status(nodes.General, nodes.Element):
    """Placeholder, replaced by the table once every document has been read."""


class CourseStatusDirective(SphinxDirective):
    def run(self):
        self.env.course_status_pages = getattr(self.env, "course_status_pages", set())
        self.env.course_status_pages.add(self.env.docname)
        return [course_status()]


def _collect_results(app, doctree):
    """Remember each notebook's result lines (from its executed outputs)."""
    env = app.env
    if not str(env.doc2path(env.docname)).endswith(".ipynb"):
        return
    found = []
    for block in list(doctree.findall(nodes.literal_block)):
        if "traceback" in block.get("classes", []) and MACHINE_PREFIX.search(
            block.astext()
        ):  # the build machine's paths have no place on the site
            text = MACHINE_PREFIX.sub(r".../\1/", block.astext())
            block.replace_self(block.__class__(text, text, **block.attributes))
            continue
        if "output" in block.get("classes", []):
            found += [m.group(0).strip() for m in RESULT_LINE.finditer(block.astext())]
    if not hasattr(env, "course_results"):
        env.course_results = {}
    env.course_results[env.docname] = found


def _merge(app, env, docnames, other):
    env.course_results = {
        **getattr(env, "course_results", {}),
        **getattr(other, "course_results", {}),
    }


def _purge(app, env, docname):
    getattr(env, "course_results", {}).pop(docname, None)


def _outdated(app, env, added, changed, removed):
    """Rebuild the status page whenever a chapter is re-read."""
    if added | changed | removed:
        return sorted(getattr(env, "course_status_pages", set()))
    return []


class CourseStatusTransform(SphinxPostTransform):
    default_priority = 8

    def run(self, **kwargs):
        from myst_nb.sphinx_ import NbMetadataCollector

        env = self.env
        data = NbMetadataCollector.get_doc_data(env)
        results = getattr(env, "course_results", {})
        builder = self.app.builder
        for node in list(self.document.findall(course_status)):
            table = _table(["Chapter", "Run time (s)", "Status", "Result"])
            tbody = table[0][-1]
            for docname in sorted(env.found_docs):  # chapters sort by number
                exec_data = data.get(docname, {}).get("exec_data")
                if not exec_data:
                    continue
                title = env.titles[docname].astext()
                ref = nodes.reference(
                    "",
                    title,
                    internal=True,
                    refuri=builder.get_relative_uri(env.docname, docname),
                )
                runtime = exec_data.get("runtime")
                ok = exec_data.get("succeeded")
                tbody += _row(
                    [
                        nodes.paragraph("", "", ref),
                        nodes.paragraph(
                            text="-" if runtime is None else f"{runtime:.1f}"
                        ),
                        nodes.paragraph(text="✅ ran" if ok else "❌ failed"),
                        nodes.paragraph(
                            text="; ".join(results.get(docname, [])) or "—"
                        ),
                    ]
                )
            versions = (
                f"As tested with Python {platform.python_version()}, "
                f"torch {version('torch')}, torchvision {version('torchvision')}, "
                f"jupyter-book {version('jupyter-book')} on "
                f"{platform.system()} {platform.machine()} "
                f"({date.today().isoformat()}; executed on the {_device()})."
            )
            node.replace_self([table, nodes.paragraph(text=versions)])


def _table(headers):
    table = nodes.table(classes=["colwidths-auto"])
    tgroup = nodes.tgroup(cols=len(headers))
    table += tgroup
    for _ in headers:
        tgroup += nodes.colspec(colwidth=1)
    thead = nodes.thead()
    tgroup += thead
    thead += _row([nodes.paragraph(text=h) for h in headers])
    tgroup += nodes.tbody()
    return table


def _row(cells):
    row = nodes.row()
    for cell in cells:
        row += nodes.entry("", cell)
    return row


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.add_node(course_status)
    app.add_directive("course-status", CourseStatusDirective)
    app.connect("doctree-read", _collect_results)
    app.connect("env-merge-info", _merge)
    app.connect("env-purge-doc", _purge)
    app.connect("env-get-outdated", _outdated)
    app.add_post_transform(CourseStatusTransform)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return "CPU"
