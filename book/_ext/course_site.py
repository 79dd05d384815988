"""Sphinx additions for the course site (_config.yml: sphinx.local_extensions).

- Sphinx 7.4 adds sphinx-thebe's inline script twice, which makes Chromium log
  "THEBE_JS_URL has already been declared": drop exact duplicate scripts per page.
- Tracebacks in stored outputs lose the machine's Python prefix.
- Math is typeset at build time (``book/_ext/tex2svg.cjs``, MathJax in Node): pages
  carry SVG with hidden MathML for screen readers and load no math JavaScript.
- ``{course-status}``: a table of every chapter's last clean run — time, result lines,
  date and versions — read from ``notebooks/status.json``, which ``make execute``
  writes (the book itself never executes a chapter).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import course_math
import course_pages
import course_search
from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

# The build machine's Python prefix in tracebacks (as tests/nbtools.py strips it).
MACHINE_PREFIX = re.compile(r"/[^\s\x1b\"'()]*/(site-packages|lib/python3\.\d+)/")
STATUS = "notebooks/status.json"


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


def _strip_machine_paths(app, doctree):
    """The build machine's paths have no place on the site."""
    for block in list(doctree.findall(nodes.literal_block)):
        text = block.astext()
        if "traceback" in block.get("classes", []) and MACHINE_PREFIX.search(text):
            text = MACHINE_PREFIX.sub(r".../\1/", text)
            block.replace_self(block.__class__(text, text, **block.attributes))


class course_status(nodes.General, nodes.Element):
    """Placeholder, replaced by the table once every document has been read."""


class CourseStatusDirective(SphinxDirective):
    def run(self):
        self.env.note_dependency(str(Path(self.env.srcdir) / STATUS))
        return [course_status()]


class CourseStatusTransform(SphinxPostTransform):
    default_priority = 8

    def run(self, **kwargs):
        env = self.env
        path = Path(env.srcdir) / STATUS
        status = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        builder = self.app.builder
        for node in list(self.document.findall(course_status)):
            table = _table(["Chapter", "Run time (s)", "Result", "Measured"])
            tbody = table[0][-1]
            for docname in sorted(env.found_docs):  # chapters sort by number
                run = status.get(Path(docname).name)
                if not docname.startswith("notebooks/") or run is None:
                    continue
                ref = nodes.reference(
                    "",
                    env.titles[docname].astext(),
                    internal=True,
                    refuri=builder.get_relative_uri(env.docname, docname),
                )
                measured = (
                    f"{run['date']}: Python {run['python']}, torch {run['torch']}, "
                    f"torchvision {run['torchvision']}, {run['platform']}, "
                    f"{run['device']}, {run.get('threads', run['cores'])} thread(s)"
                )
                tbody += _row(
                    [
                        nodes.paragraph("", "", ref),
                        nodes.paragraph(text=f"{run['seconds']:.1f}"),
                        nodes.paragraph(text="; ".join(run["results"]) or "—"),
                        nodes.paragraph(text=measured),
                    ]
                )
            node.replace_self(table)


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
    course_math.setup(app)
    course_pages.setup(app)
    course_search.setup(app)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("doctree-read", _strip_machine_paths)
    app.add_node(course_status)
    app.add_directive("course-status", CourseStatusDirective)
    app.add_post_transform(CourseStatusTransform)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
