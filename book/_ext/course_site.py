"""Small Sphinx fixes for the course site (loaded from _config.yml: local_extensions).

- Sphinx 7.4 adds sphinx-thebe's inline script twice, which makes Chromium log
  "THEBE_JS_URL has already been declared": drop exact duplicate scripts per page.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
