"""Math typeset when the book is built: TeX -> SVG with MathJax in Node
(``tex2svg.cjs``). Pages carry SVG with hidden MathML for screen readers and load no
math JavaScript; a formula that MathJax cannot parse is a build warning."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

# --- math: TeX -> SVG at build time ---------------------------------------------------
# The HTML writer leaves a placeholder per formula; when a page is assembled, all its
# formulas go to one Node process in one request (glyphs shared across the page).
MATH_MARK = re.compile(r"<!--course-math:(\d+)-->")
# Attributes the page does not need: MathJax's own bookkeeping, namespaces (implied in
# HTML), and the fill/stroke every formula repeats (course.css sets them once).
MATH_NOISE = re.compile(
    r' (data-(mml-node|c|mjx-texclass)|xmlns(:xlink)?|focusable)="[^"]*"'
    r'| stroke="currentColor" fill="currentColor" stroke-width="0"'
)


class _MathRenderer:
    def __init__(self, node_modules: Path):
        self.node_modules = node_modules
        self.formulas: list[tuple[str, bool]] = []
        self.process = None

    def mark(self, tex: str, display: bool) -> str:
        self.formulas.append((tex, display))
        return f"<!--course-math:{len(self.formulas) - 1}-->"

    def render_page(self, html: str, pagename: str) -> str:
        ids = [int(i) for i in MATH_MARK.findall(html)]
        if not ids:
            return html
        if self.process is None:
            script = Path(__file__).with_name("tex2svg.cjs")
            env = {**os.environ, "NODE_PATH": str(self.node_modules)}
            self.process = subprocess.Popen(
                ["node", str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
        request = {"formulas": [self.formulas[i] for i in ids]}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError(
                f"math could not be typeset ({self.node_modules}/mathjax-full missing? "
                "make setup installs it)"
            )
        result = json.loads(reply)
        for error in result["errors"]:
            logger.warning(f"{pagename}: bad TeX: {error}", type="course")
        svgs = {
            i: MATH_NOISE.sub("", svg)
            for i, svg in zip(ids, result["svgs"], strict=True)
        }
        html = MATH_MARK.sub(lambda m: svgs[int(m.group(1))], html)
        defs = MATH_NOISE.sub("", result["defs"])
        # the glyphs every formula of the page refers to (<use href="#MJX-…">)
        return html + (
            '<svg class="math-glyphs" width="0" height="0" aria-hidden="true" '
            f'style="position: absolute">{defs}</svg>'
        )

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
            self.process = None


def _renderer(app) -> _MathRenderer:
    if not hasattr(app, "course_math"):
        modules = Path(app.srcdir) / app.config.course_node_modules
        app.course_math = _MathRenderer(modules)
    return app.course_math


def _visit_math(self, node):
    self.body.append(
        '<span class="math-inline">'
        + _renderer(self.builder.app).mark(node.astext(), False)
        + "</span>"
    )
    raise nodes.SkipNode


def _visit_displaymath(self, node):
    if node.get("number"):
        logger.warning("numbered equations are not supported", location=node)
    # a formula wider than the column scrolls: reachable by keyboard too (tabindex)
    self.body.append(
        '<div class="math-display" tabindex="0">'
        + _renderer(self.builder.app).mark(node.astext(), True)
        + "</div>"
    )
    raise nodes.SkipNode


def _typeset_page(app, pagename, templatename, context, doctree):
    if "body" in context and hasattr(app, "course_math"):
        context["body"] = app.course_math.render_page(context["body"], pagename)


def _finish(app, exception):
    if hasattr(app, "course_math"):
        app.course_math.close()


def setup(app):
    app.add_config_value("course_node_modules", ".venv/npm/node_modules", "env")
    app.add_html_math_renderer(
        "course_svg", (_visit_math, None), (_visit_displaymath, None)
    )
    app.connect("html-page-context", _typeset_page)
    app.connect("build-finished", _finish)
