"""`make audit`: Lighthouse (mobile) over every page of the built site — a report.

The site is served from _build/html on 127.0.0.1 with gzip, as any static host serves
it. For each toc page: the four Lighthouse scores, the first-load transfer size, the
same bytes uncompressed, and the largest resources. Lighthouse runs Debian's Chromium;
nothing is fetched from the network. Scores vary a little from run to run (they
depend on the machine's load): read them as a report, not a pass/fail test.

    python tests/audit/audit_site.py [toc entries …]   (make audit)
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from nbtools import toc_files  # noqa: E402

SITE = ROOT / "_build" / "html"
LIGHTHOUSE = ROOT / ".venv" / "npm-audit" / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
COMPRESS = {".html", ".css", ".js", ".svg", ".json", ".txt"}
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzip-compressed when the client accepts it (as hosts do)."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts and path.suffix in COMPRESS and path.is_file()):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        return __import__("io").BytesIO(body)


def serve():
    handler = functools.partial(GzipHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def audit(url: str, workdir: Path) -> dict:
    report = workdir / "report.json"
    env = {**os.environ, "CHROME_PATH": CHROMIUM, "HOME": str(workdir)}
    flags = (
        "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
        "--disable-component-update --disable-sync --no-first-run"
    )
    cmd = [
        str(LIGHTHOUSE), url, "--quiet", f"--chrome-flags={flags}",
        "--output=json", f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}",
    ]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, timeout=300, capture_output=True)
    return json.loads(report.read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    if not (SITE / "index.html").exists():
        print("no site: run make book first")
        return 1
    entries = argv or toc_files()
    server, base = serve()
    rows = []
    print(
        f"{'page':38s} {'perf':>4s} {'a11y':>4s} {'best':>4s} {'seo':>4s} "
        f"{'transfer':>9s} {'raw':>8s}  largest resources"
    )
    try:
        for entry in entries:
            with tempfile.TemporaryDirectory() as work:
                result = audit(f"{base}/{entry}.html", Path(work))
            scores = [round(100 * result["categories"][c]["score"]) for c in CATEGORIES]
            items = result["audits"]["network-requests"]["details"]["items"]
            transfer = sum(i.get("transferSize", 0) for i in items)
            raw = sum(i.get("resourceSize", 0) for i in items)
            big = sorted(items, key=lambda i: -i.get("transferSize", 0))[:3]
            names = ", ".join(
                f"{Path(i['url'].split('?')[0]).name} {i['transferSize'] / 1e3:.0f} KB"
                for i in big
            )
            rows.append((entry, *scores, transfer, raw))
            print(
                f"{entry:38s} {scores[0]:4d} {scores[1]:4d} {scores[2]:4d} "
                f"{scores[3]:4d} {transfer / 1e6:7.2f}MB {raw / 1e6:6.2f}MB  {names}",
                flush=True,
            )
            failed = [
                a["title"]
                for a in result["audits"].values()
                if a.get("score") is not None
                and a["score"] < 1
                and a.get("scoreDisplayMode") == "binary"
                and any(
                    a["id"] == ref["id"]
                    for c in CATEGORIES[1:]
                    for ref in result["categories"][c]["auditRefs"]
                )
            ]
            if failed:
                print(f"{'':38s} failed: {'; '.join(failed)[:300]}")
    finally:
        server.shutdown()
    if rows:
        columns = zip(*[r[1:5] for r in rows], strict=True)
        medians = [sorted(col)[len(col) // 2] for col in columns]
        print(f"{'median':38s} " + " ".join(f"{m:4d}" for m in medians))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
