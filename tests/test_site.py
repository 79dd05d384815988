"""The built website in a real browser (Debian's Chromium driven by playwright).

For every page in the toc: no console error, every image loaded, every formula typeset
(at build time: no raw TeX), no request leaving 127.0.0.1 (animations included), zero
axe-core accessibility violations, and no sideways scrolling on a 390-px phone. Plus
alt text, meta tags, English and Chinese search, launch and live-code links, and an
internal link + anchor check of the whole site with linkchecker.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml

from nbtools import ROOT, toc_files

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# axe's default rules (WCAG 2.x A/AA and best practices) plus one it marks experimental
AXE_RUN = """axe.run(document, {
  rules: {"label-content-name-mismatch": {enabled: true}}, resultTypes: ["violations"]
}).then(r => r.violations.map(v => v.id + ": " + v.help + " — " +
  v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | ")))"""
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass

    def end_headers(self):
        self.send_header("LinkChecker", "allow")  # no throttling for our own checker
        super().end_headers()


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a page closed early
            super().handle_error(request, client_address)


def serve(directory: Path):
    """Serve a folder on 127.0.0.1 in a thread; returns (server, base_url)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def base_url(site):
    server, url = serve(site)
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: make browser installs it")
    home = tmp_path_factory.mktemp("home")
    os.environ.setdefault("XDG_CONFIG_HOME", str(home / "config"))
    os.environ.setdefault("XDG_CACHE_HOME", str(home / "cache"))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def visit(browser, url: str, base: str, viewport: dict | None = None) -> dict:
    """Open a page; return what went wrong on it."""
    page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
    problems = {"console": [], "external": [], "failed": []}
    page.on(
        "console",
        lambda msg: msg.type == "error" and problems["console"].append(msg.text),
    )
    page.on("pageerror", lambda exc: problems["console"].append(str(exc)))
    page.on(
        "requestfailed",
        lambda req: req.url.startswith(base) and problems["failed"].append(req.url),
    )

    def route(route):
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems["external"].append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    # formulas are typeset when the book is built: each one must hold an SVG
    problems["raw_math"] = page.evaluate(
        """[...document.querySelectorAll('.math-inline, .math-display, .math')]
           .filter(e => !e.querySelector('mjx-container svg'))
           .map(e => e.textContent.slice(0, 60))"""
    )
    page.evaluate(  # lazy images: bring each into view so that it loads
        """Promise.all([...document.images].map(i => {
             i.loading = 'eager'; return i.decode().catch(() => null); }))"""
    )
    problems["broken_images"] = page.evaluate(
        """[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
           .map(i => i.getAttribute('src'))"""
    )
    problems["overflow"] = page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth"
    )
    if AXE.exists():
        page.add_script_tag(path=str(AXE))
        problems["axe"] = page.evaluate(AXE_RUN)
    else:
        problems["axe"] = [f"axe-core is missing ({AXE}): make setup installs it"]
    problems["html"] = page.content()
    page.close()
    return problems


@pytest.mark.parametrize("entry", toc_files())
def test_page_in_browser(browser, base_url, entry):
    result = visit(browser, f"{base_url}/{entry}.html", base_url)
    assert not result["console"], f"console errors: {result['console']}"
    assert not result["external"], f"requests leaving 127.0.0.1: {result['external']}"
    assert not result["failed"], f"failed requests: {result['failed']}"
    assert not result["broken_images"], f"images not loaded: {result['broken_images']}"
    assert not result["raw_math"], f"formulas not typeset: {result['raw_math'][:3]}"
    assert not result["axe"], "accessibility (axe-core):\n" + "\n".join(result["axe"])


@pytest.mark.parametrize("entry", toc_files())
def test_page_fits_a_phone(browser, base_url, entry):
    """At 390 px nothing makes the whole page scroll sideways: code, formulas and
    tables scroll inside their own boxes, inline code wraps."""
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{base_url}/{entry}.html", wait_until="load")
    wide = page.evaluate(
        """(() => { const W = window.innerWidth, out = [];
          for (const e of document.querySelectorAll('main *')) {
            if (e.getBoundingClientRect().right <= W + 1) continue;
            let a = e.parentElement;
            while (a && getComputedStyle(a).overflowX === 'visible')
              a = a.parentElement;
            if (!a || a === document.body || a === document.documentElement)
              out.push(e.tagName.toLowerCase() + '.' + e.getAttribute('class'));
          }
          return [document.documentElement.scrollWidth - W, out.slice(0, 5)]; })()"""
    )
    page.close()
    assert wide[0] <= 0, f"the page scrolls sideways by {wide[0]} px: {wide[1]}"


def bad_alt_texts(site: Path) -> list[str]:
    """Images whose alt text is missing, empty or a file name (read aloud as such)."""
    bad = []
    for path in sorted(site.rglob("*.html")):
        for tag in re.findall(r"<img\b[^>]*>", path.read_text(encoding="utf-8")):
            alt = re.search(r'\balt="([^"]*)"', tag)
            text = alt.group(1).strip() if alt else None
            if not text or re.search(r"(^|/)[\w.-]+\.(png|jpe?g|svg|gif)$", text):
                bad.append(f"{path.relative_to(site)}: {tag[:120]}")
    return bad


def test_images_have_meaningful_alt_text(site):
    bad = bad_alt_texts(site)
    assert not bad, f"{len(bad)} images without a meaningful alt text:\n" + "\n".join(
        bad[:20]
    )


class _ChineseRuns(html.parser.HTMLParser):
    """Text runs with Han characters that no element marks as Chinese (lang="zh…")."""

    HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")
    SKIP = {"script", "style", "title", "svg", "math", "textarea", "mjx-container"}
    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col"}

    def __init__(self):
        super().__init__()
        self.stack, self.unmarked = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append((tag, (dict(attrs).get("lang") or "")))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed elements
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not self.HAN.search(data) or any(t in self.SKIP for t, _ in self.stack):
            return
        lang = next((lang for _, lang in reversed(self.stack) if lang), "")
        if not lang.startswith("zh"):
            self.unmarked.append(data.strip()[:40])


def test_chinese_text_is_marked_as_chinese(site):
    """Every run of Chinese characters, in the body and in the navigation, sits in an
    element with lang="zh-Hans" (the page itself is English): fonts and screen readers
    need it."""
    bad = []
    for path in sorted(site.rglob("*.html")):
        parser = _ChineseRuns()
        parser.feed(path.read_text("utf-8"))
        bad += [f"{path.relative_to(site)}: {run}" for run in parser.unmarked[:3]]
    assert not bad, f"{len(bad)} Chinese runs without lang:\n" + "\n".join(bad[:20])


def test_animations_play_from_image_files(site, browser, base_url):
    """Each animation's frames are image files (not data in the page, which delayed
    the first paint); stepping the player to its last frame shows that frame."""
    pages = [p for p in site.rglob("*.html") if "_anim_img" in p.read_text("utf-8")]
    assert len(pages) >= 3, f"expected animations on at least 3 pages: {pages}"
    for path in pages:
        text = path.read_text("utf-8")
        assert "data:image/png;base64" not in text, f"{path.name}: frames in the page"
        page = browser.new_page()
        page.goto(f"{base_url}/{path.relative_to(site).as_posix()}", wait_until="load")
        shown = page.evaluate(
            """async () => {
                 const out = [];
                 for (const s of document.querySelectorAll('input[id^=_anim_slider]')) {
                   s.scrollIntoView();
                   s.value = s.max;
                   s.dispatchEvent(new Event('input'));
                   const img = document.getElementById(s.id.replace('slider', 'img'));
                   await img.decode().catch(() => null);
                   out.push([s.max, img.getAttribute('src'), img.naturalWidth]);
                 }
                 return out;
               }"""
        )
        page.close()
        assert shown, f"{path.name}: no animation player"
        for last, src, width in shown:
            assert int(last) > 1 and "_images/anim/" in src and width > 0, (
                f"{path.name}: the last frame ({src}) did not show"
            )


@pytest.mark.parametrize("entry", toc_files())
def test_meta_tags(site, entry):
    html = (site / f"{entry}.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<meta name="viewport"', html)) == 1, "duplicate viewport"
    descriptions = re.findall(r'<meta name="description" content="([^"]*)"', html)
    assert len(descriptions) == 1 and len(descriptions[0]) > 40, descriptions
    assert "fontawesome.js" not in html, "Font Awesome's 1.5 MB script is back"
    assert "searchindex.js" not in html, "the search index loads on every page again"


def search(browser, base_url: str, query: str) -> set[str]:
    """The pages (toc entries) that the site's own search lists for a query."""
    page = browser.new_page()
    page.goto(
        f"{base_url}/search.html?q={urllib.parse.quote(query)}", wait_until="load"
    )
    page.wait_for_function(  # searchtools.js writes this line when it is done
        "(document.querySelector('#search-results p.search-summary') || {})"
        ".innerText?.length > 0",
        timeout=30000,
    )
    hrefs = page.eval_on_selector_all(
        "#search-results li a", "as => as.map(a => a.href)"
    )
    page.close()
    pages = {urllib.parse.urlsplit(h).path.lstrip("/") for h in hrefs}
    return {p.removesuffix(".html") for p in pages}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("broadcasting", "notebooks/01_tensors"),
        ("cross-entropy", "notebooks/08_classification_mlp"),
    ],
)
def test_english_search(browser, base_url, query, expected):
    assert expected in search(browser, base_url, query)


def _main_text(path: Path) -> str:
    html = path.read_text(encoding="utf-8")
    main = html[html.find("<main") : html.find("</main>")]
    return re.sub(r"<[^>]+>", "", main)


@pytest.mark.parametrize("term", ["张量", "梯度", "广播", "卷积", "过拟合"])
def test_chinese_search_finds_every_page(browser, base_url, site, term):
    """Chinese has no spaces between words: search must still find every page whose
    text contains the term (the site indexes character pairs)."""
    pages = {e for e in toc_files() if term in _main_text(site / f"{e}.html")}
    assert pages, f"no page contains {term}: pick another term"
    found = search(browser, base_url, term)
    assert pages <= found, f"{term}: not found on {sorted(pages - found)}"


def test_live_code_runs_the_course_repository(site):
    url = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))[
        "repository"
    ]["url"]
    org_repo = "/".join(url.rstrip("/").split("/")[-2:])
    html = (site / "notebooks" / "01_tensors.html").read_text(encoding="utf-8")
    repos = re.findall(r'repo: "([^"]+)"', html)
    assert repos == [org_repo], f"Thebe/Binder points at {repos}, not {org_repo}"


def _chapters():
    return [e for e in toc_files() if e.startswith("notebooks/")]


@pytest.mark.parametrize("entry", _chapters())
def test_launch_and_download_links(site, entry):
    html = (site / f"{entry}.html").read_text(encoding="utf-8")
    colab = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)
    assert colab and all(link.endswith(f"/{entry}.ipynb") for link in colab), colab
    binder = re.findall(r'href="(https://mybinder\.org/[^"]+)"', html)
    assert binder and all(f"{entry}.ipynb" in link for link in binder), binder
    name = Path(entry).name
    assert f"_sources/{entry}.ipynb" in html, "no .ipynb download link"
    assert (site / "_sources" / "notebooks" / f"{name}.ipynb").exists()


def run_linkchecker(url: str, home: Path) -> subprocess.CompletedProcess:
    """linkchecker over the local site: every internal link and image, warnings on.
    (Its AnchorCheck plugin re-parses a page for every #anchor link — tens of minutes
    on this site — so anchors are checked by `broken_anchors` below instead.)"""
    config = home / "linkcheckerrc"
    config.write_text(
        "[checking]\nmaxrequestspersecond=100\n[output]\nstatus=0\n", encoding="utf-8"
    )
    exe = Path(sys.executable).with_name("linkchecker")
    cmd = [
        str(exe), "--config", str(config), "--no-status",
        "--ignore-url", r"^(?!http://127\.0\.0\.1)", "--check-extern", url,
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


class _Anchors(html.parser.HTMLParser):
    """Collects a page's ids and its links."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def broken_anchors(site: Path) -> list[str]:
    """Every `page.html#anchor` link (and `#anchor` within a page) whose anchor does
    not exist on the target page; each page is parsed once."""
    pages = {}
    for path in site.rglob("*.html"):
        parser = _Anchors()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = parser
    broken = []
    for path, parser in pages.items():
        for href in parser.links:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or not parts.fragment:
                continue
            target = (path.parent / parts.path).resolve() if parts.path else path
            fragment = urllib.parse.unquote(parts.fragment)
            if target in pages and fragment not in pages[target].ids:
                broken.append(f"{path.relative_to(site.resolve())}: {href}")
    return broken


def test_internal_links_and_anchors(site, tmp_path):
    server, url = serve(site)
    try:
        result = run_linkchecker(f"{url}/index.html", tmp_path)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 warnings" in result.stdout and "0 errors" in result.stdout, result.stdout[
        -4000:
    ]
    assert not broken_anchors(site), broken_anchors(site)[:20]


def test_checks_catch_planted_faults(site, browser, tmp_path):
    """The site checks can fail: plant a broken link and anchor, a missing image, a
    console error and an external request in a copy of the built site: all caught."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    page = copy / "book" / "setup.html"
    html = page.read_text(encoding="utf-8")
    faults = (
        '<a href="no-such-page.html">broken link</a>'
        '<a href="intro.html#no-such-anchor">broken anchor</a>'
        '<img src="../_static/no-such-image.png" alt="missing">'
        '<img src="https://example.org/remote.png" alt="remote">'
        '<script>console.error("planted console error")</script>'
        '<img src="../_images/planted.png" alt="../_images/planted.png">'
        '<div style="width: 2000px">planted wide block</div>'
        "<button></button>"
    )
    page.write_text(html.replace("</main>", faults + "</main>", 1), encoding="utf-8")

    server, url = serve(copy)
    try:
        result = visit(browser, f"{url}/book/setup.html", url)
        phone = visit(browser, f"{url}/book/setup.html", url, viewport=PHONE)
        links = run_linkchecker(f"{url}/index.html", tmp_path)
    finally:
        server.shutdown()
    assert any("planted console error" in msg for msg in result["console"])
    assert any("example.org" in req for req in result["external"])
    assert any("no-such-image.png" in src for src in result["broken_images"])
    assert any(v.startswith("button-name") for v in result["axe"]), result["axe"]
    assert phone["overflow"] > 0, "a 2000-px block did not widen the phone page"
    assert any("planted.png" in b for b in bad_alt_texts(copy))
    assert links.returncode != 0
    assert "no-such-page.html" in links.stdout
    assert any("no-such-anchor" in b for b in broken_anchors(copy))
