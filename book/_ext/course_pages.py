"""What the course's pages need beyond the theme: light, accessible, readable on a
phone, Chinese-aware.

Per page (``html-page-context``):
- a meta description from the page's first paragraph; one viewport tag, not three;
- notebook figures load lazily with their size known (no layout shift), and open full
  size when tapped;
- runs of Chinese text carry ``lang="zh-Hans"`` (fonts, screen readers, hyphenation);
- matplotlib animations link no Font Awesome stylesheet from a CDN (the site has its
  own icon font), and their frames carry the cell's alt text; the frames, embedded in
  the notebook as base64 data, become image files that the player fetches when it
  comes into view (a page no longer downloads them before its first paint);
- a solution's header names its exercise in plain text: the whole header opens the
  solution (a link there jumped to the exercise instead);
- Thebe's live code points at the course's own repository (``repository.url``).

Once per build (``build-finished``):
- no page loads Font Awesome's 1.5 MB JavaScript (the icon font does the same job), and
  the icon fonts are cut down to the icons the site uses;
- pages other than search.html do not load the search index;
- Chinese runs in the theme's navigation carry ``lang="zh-Hans"`` as well;
- no source-map references to files that are not shipped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
CJK_RUN = re.compile(f"[{CJK_PUNCT}]*[{HAN}][{HAN}{CJK_PUNCT}]*")
# Elements whose text must not be touched (code is fine: Chinese comments get lang too).
SKIP = {"script", "style", "svg", "math", "mjx-container", "textarea", "title"}
TAG = re.compile(r"(<!--.*?-->|<[^>]+>)", re.S)
FA_CDN = re.compile(
    r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*"\s*/?>\s*'
)
IMG = re.compile(
    r'<img alt="([^"]*)" src="(\.\./)*(_images/[^"]+)"( class="[^"]*")? />'
)
SOLUTION_LINK = re.compile(
    r'(<p class="admonition-title">Solution to<a class="reference internal" '
    r'href="[^"]*">(.*?)</a></p>)'
)
VIEWPORT = re.compile(r'\s*<meta name="viewport"[^>]*>')
# matplotlib's to_jshtml player: one script per animation, its frames as data URLs
ANIM_SCRIPT = re.compile(r'var img_id = "(_anim_img[0-9a-f]+)";.*?setTimeout', re.S)
ANIM_FRAME = re.compile(
    r'frames\[(\d+)\] = "data:image/(png|jpeg);base64,([A-Za-z0-9+/=\\\n]+)"'
)
ANIM_PRELOAD = (
    "this.frames[i] = new Image();\n     this.frames[i].src = frames[i];\n    }"
)
ANIM_ON_DEMAND = """this.frames[i] = {src: frames[i]};  // fetched when shown
    }
    var sources = frames, player = document.getElementById(img_id);
    if ("IntersectionObserver" in window && player) {  // warm the cache when in view
      new IntersectionObserver(function (seen, observer) {
        if (seen.some(function (s) { return s.isIntersecting; })) {
          sources.forEach(function (src) { new Image().src = src; });
          observer.disconnect();
        }
      }, {rootMargin: "300px"}).observe(player);
    }"""


def mark_chinese(body: str) -> str:
    """Wrap runs of Chinese characters in text (never inside tags) in lang spans."""
    out, stack, spans = [], [], []  # spans: is each open <span> already Chinese?
    for part in TAG.split(body):
        if part.startswith("<"):
            name = re.match(r"</?([a-zA-Z][\w-]*)", part)
            if name and name.group(1).lower() == "span":  # marked before: idempotent
                if part.startswith("</"):
                    if spans:
                        spans.pop()
                elif not part.endswith("/>"):
                    spans.append('lang="zh-Hans"' in part)
            if name and name.group(1).lower() in SKIP:
                if part.startswith("</"):
                    if stack:
                        stack.pop()
                elif not part.endswith("/>"):
                    stack.append(name.group(1).lower())
            out.append(part)
        elif stack or any(spans) or not CJK_RUN.search(part):
            out.append(part)
        else:
            out.append(CJK_RUN.sub(r'<span lang="zh-Hans">\g<0></span>', part))
    return "".join(out)


def _image_size(app, name: str) -> tuple[int, int] | None:
    """Pixel size of an image the builder copies to _images/."""
    from PIL import Image

    if not name.endswith((".png", ".jpg", ".jpeg", ".gif")):
        return None  # an SVG scales to its box
    for source, dest in app.builder.images.items():
        if dest == name:
            path = Path(app.srcdir) / source
            if path.exists():
                with Image.open(path) as img:
                    return img.size
    return None


def _figures(app, body: str) -> str:
    def lazy(match):
        alt, up, src, classes = (
            match.group(1),
            match.group(2) or "",
            match.group(3),
            (match.group(4) or ""),
        )
        size = _image_size(app, src.split("/", 1)[1])
        dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
        img = (
            f'<img alt="{alt}" src="{up}{src}"{classes}{dims} loading="lazy" '
            'decoding="async" />'
        )
        label = html.escape(f"Open the figure full size: {html.unescape(alt)}")
        return f'<a class="course-zoom" href="{up}{src}" aria-label="{label}">{img}</a>'

    return IMG.sub(lazy, body)


def _animation_frames(app, pagename: str, body: str) -> str:
    """Write each animation frame to _images/anim/ and let the player fetch it by URL,
    when it is shown; the player's image gets the frames' size (no layout shift)."""
    if "_anim_img" not in body:
        return body
    folder = Path(app.outdir) / "_images" / "anim"
    up = "../" * pagename.count("/")
    sizes = {}

    def script(match):
        img_id = match.group(1)

        def frame(m):
            data = base64.b64decode(re.sub(r"[\\\n]", "", m.group(3)))
            ext = "png" if m.group(2) == "png" else "jpg"
            name = f"{hashlib.sha256(data).hexdigest()[:20]}.{ext}"
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / name).exists():
                (folder / name).write_bytes(data)
            if ext == "png" and img_id not in sizes:  # width, height from the header
                sizes[img_id] = (
                    int.from_bytes(data[16:20], "big"),
                    int.from_bytes(data[20:24], "big"),
                )
            return f'frames[{m.group(1)}] = "{up}_images/anim/{name}"'

        return ANIM_FRAME.sub(frame, match.group(0))

    body = ANIM_SCRIPT.sub(script, body)
    body = body.replace(ANIM_PRELOAD, ANIM_ON_DEMAND)
    for img_id, (width, height) in sizes.items():
        body = body.replace(
            f'<img id="{img_id}"',
            f'<img id="{img_id}" width="{width}" height="{height}"',
        )
    return body


def _description(doctree) -> str:
    """The page's first real paragraph, as plain text (≤ 160 characters)."""
    if doctree is None:
        return ""
    for para in doctree.findall(nodes.paragraph):
        text = " ".join(para.astext().split())
        if len(text) > 60 and not text.startswith(("What you will learn",)):
            if len(text) > 160:
                text = text[:157].rsplit(" ", 1)[0] + "…"
            return text
    return ""


def _page(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body:
        body = FA_CDN.sub("", body)
        body = _animation_frames(app, pagename, body)
        body = SOLUTION_LINK.sub(
            r'<p class="admonition-title">Solution to \2</p>', body
        )
        body = _figures(app, body)
        context["body"] = mark_chinese(body)
    description = _description(doctree)
    if description:
        context["metatags"] = context.get("metatags", "") + (
            f'\n<meta name="description" content="{html.escape(description)}" />'
        )
    # Sphinx's own viewport tag: the theme writes one as well
    context["metatags"] = VIEWPORT.sub("", context.get("metatags", ""))


ANIM_IMG = re.compile(r'<img id="(_anim_img[0-9a-f]+)">')
ANIM_SLIDER = re.compile(
    r'(<input id="_anim_slider[0-9a-f]+" type="range")(?! aria-label)'
)


def _animation_alt(app, doctree, docname):
    """matplotlib's animation player shows its frames in an <img> without alt text and
    has an unlabelled frame slider: give the image the cell's alt text (cell metadata
    mystnb.image.alt, as for figures) and the slider a label."""
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if ANIM_SLIDER.search(text):
            text = ANIM_SLIDER.sub(r'\1 aria-label="Animation frame"', text)
            raw.replace_self(nodes.raw("", text, format=raw.get("format", "html")))
    for cell in list(doctree.findall(nodes.container)):
        alt = (cell.get("cell_metadata") or {}).get("mystnb", {}).get("image", {})
        alt = alt.get("alt") if isinstance(alt, dict) else None
        if not alt:
            continue
        for raw in list(cell.findall(nodes.raw)):
            text = raw.astext()
            if ANIM_IMG.search(text):
                label = html.escape(alt)
                text = ANIM_IMG.sub(
                    lambda m, label=label: f'<img id="{m.group(1)}" alt="{label}">',
                    text,
                )
                raw.replace_self(nodes.raw("", text, format=raw.get("format", "html")))


def _thebe(app, config):
    """Live code (Thebe + Binder) runs the course's own repository and .binder/."""
    options = config.html_theme_options or {}
    url = options.get("repository_url")
    if url:
        config.thebe_config = {
            "repository_url": url,
            "repository_branch": options.get("repository_branch", "main"),
            "path_to_docs": options.get("path_to_book", "") or ".",
        }


# --- once per build ----------------------------------------------------------------
FA_JS = re.compile(
    r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*">'
    r"</script>"
)
SEARCH_JS = re.compile(
    r'\s*<script src="[^"]*(_static/searchtools\.js|_static/language_data\.js|'
    r'searchindex\.js)[^"]*"></script>'
)
SOURCE_MAP = re.compile(r"\n?/[/*][#@] sourceMappingURL=\S+?( \*/)?\s*$")
ICON_CLASS = re.compile(r"\bfa-[a-z0-9-]+")
ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+::?before,?)+)\{content:"\\([0-9a-f]+)"\}')


def _used_icons(outdir: Path) -> set[str]:
    names: set[str] = set()
    for page in outdir.rglob("*.html"):
        for cls in re.findall(r'class="([^"]*\bfa-[^"]*)"', page.read_text("utf-8")):
            names.update(ICON_CLASS.findall(cls))
    for script in (outdir / "_static").rglob("*.js"):
        if script.name != "fontawesome.js":
            names.update(
                re.findall(r"[\"' ](fa-[a-z0-9-]+)", script.read_text("utf-8"))
            )
    return {n for n in names}


def _subset_icon_fonts(app, outdir: Path) -> None:
    """Keep only the icons the site uses in Font Awesome's web fonts."""
    from fontTools import subset

    css = (outdir / "_static" / "styles" / "pydata-sphinx-theme.css").read_text("utf-8")
    codepoints = {}
    for selectors, code in ICON_RULE.findall(css):
        for name in re.findall(r"\.(fa-[a-z0-9-]+):", selectors):
            codepoints[name] = int(code, 16)
    used = {codepoints[n] for n in _used_icons(outdir) if n in codepoints}
    import pydata_sphinx_theme

    theme = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
    for font in (theme / "static" / "vendor" / "fontawesome" / "webfonts").glob(
        "*.woff2"
    ):
        target = outdir / "_static" / "vendor" / "fontawesome" / "webfonts" / font.name
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["*"]
        loaded = subset.load_font(str(font), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=used)
        subsetter.subset(loaded)
        subset.save_font(loaded, str(target), options)


# The search box's label must contain what it shows ("Search Ctrl+K"): let the
# visible text name it (axe: label-content-name-mismatch).
SEARCH_LABEL = (
    'search-button-field search-button__button pst-js-only" title="Search" '
    'aria-label="Search"'
)
# The logo link sits outside every landmark (axe: region): give it one.
BRAND = re.compile(r'(<a class="navbar-brand logo".*?</a>)', re.S)
# The theme's navigation (the book's table of contents, the page's contents, previous /
# next) and the print-only title are outside the page body: their Chinese runs get
# their lang here.
NAV = re.compile(
    r"<nav\b.*?</nav>"
    r'|<p class="prev-next-title">.*?</p>'
    r'|<div id="jb-print-docs-body"[^>]*>\s*<h1>.*?</h1>',
    re.S,
)


def _finish(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for page in outdir.rglob("*.html"):
        text = original = page.read_text("utf-8")
        text = FA_JS.sub("", text)
        if page.name != "search.html":
            text = SEARCH_JS.sub("", text)
        text = text.replace(
            SEARCH_LABEL, SEARCH_LABEL.replace(' aria-label="Search"', "")
        )
        if 'aria-label="Course home"' not in text:
            text = BRAND.sub(r'<nav aria-label="Course home">\1</nav>', text, count=1)
        text = NAV.sub(lambda m: mark_chinese(m.group(0)), text)
        for extra in reversed(list(VIEWPORT.finditer(text))[1:]):  # keep the first
            text = text[: extra.start()] + text[extra.end() :]
        if text != original:
            page.write_text(text, "utf-8")
    for asset in (outdir / "_static").rglob("*"):
        if asset.suffix == ".map":
            asset.unlink()
        elif asset.suffix in {".js", ".css"}:
            text = asset.read_text("utf-8")
            if "sourceMappingURL" in text[-300:]:
                asset.write_text(SOURCE_MAP.sub("", text), "utf-8")
    _subset_icon_fonts(app, outdir)


def setup(app):
    app.connect("config-inited", _thebe)
    app.connect("doctree-resolved", _animation_alt)  # after myst-nb picks the output
    app.connect("html-page-context", _page, priority=600)
    app.connect("build-finished", _finish)
