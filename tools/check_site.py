"""Open every chapter of the built book in headless Chromium and fail if a reader would see a broken page.

Usage: ``python tools/check_site.py _build/html [--screenshots DIR]``

The site is served from a local HTTP server on 127.0.0.1 (as a reader's browser would load it) and
each page listed in the book's table of contents is opened in Debian's Chromium through Selenium and
chromedriver. A page fails when:

- it does not load, or has no article content;
- an image is missing or broken (``naturalWidth == 0``), or a chapter shows no figure at all;
- it contains maths that MathJax did not render, or MathJax reports an error;
- a code cell shows an error or a Python traceback;
- the browser logs a severe error (a failed request for one of the site's own files, a script error).

A screenshot of each page is saved, so that a person can look at what was checked.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
PAGES_WITHOUT_FIGURES = {"book/intro", "book/references"}  # front and back matter, not chapters

PAGE_REPORT_JS = """
const article = document.querySelector('article, main, .bd-article') || document.body;
const text = article.innerText || '';
const images = Array.from(article.querySelectorAll('img'));
return {
  title: document.title,
  readyState: document.readyState,
  articleChars: text.length,
  images: images.map(img => ({src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0})),
  figures: article.querySelectorAll('figure').length,
  mathSource: article.querySelectorAll('.math, span.math, div.math').length,
  mathRendered: article.querySelectorAll('mjx-container').length,
  mathErrors: article.querySelectorAll('mjx-merror').length,
  errorOutputs: article.querySelectorAll('.output.error, .output.traceback, .cell_output .traceback').length,
  tracebackText: text.includes('Traceback (most recent call last)'),
};
"""


def toc_pages(toc_file: Path) -> list[str]:
    """Every document named in _toc.yml (root first), as paths without suffix."""
    toc = yaml.safe_load(toc_file.read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return pages


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


FAILED_REQUESTS: list[str] = []  # paths the site asked its own server for and did not get


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        if str(code).isdigit() and int(code) >= 400:
            FAILED_REQUESTS.append(f"{code} {self.path}")

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the browser moved on before the reply ended
            pass


def find_executable(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"check_site: none of {names} found; install Debian's chromium and chromium-driver")


def start_browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = find_executable("chromium", "chromium-browser", "google-chrome")
    # No network beyond loopback here: every background service of Chrome's is switched off.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions",
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=find_executable("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def wait_for_page(driver: webdriver.Chrome, timeout: float = 30.0) -> None:
    """Wait until the document, its images and MathJax (if the page loads it) have finished."""
    driver.set_script_timeout(timeout)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const images = () => Array.from(document.images).every(img => img.complete);
        const deadline = Date.now() + %d;
        (function poll() {
          const mj = window.MathJax;
          const mathReady = !mj || !mj.startup || !mj.startup.promise;
          const finish = () => done(true);
          if (document.readyState === 'complete' && images()) {
            if (mathReady) { finish(); return; }
            mj.startup.promise.then(() => (mj.typesetPromise ? mj.typesetPromise() : null)).then(finish, finish);
            return;
          }
          if (Date.now() > deadline) { finish(); return; }
          setTimeout(poll, 100);
        })();
    """ % int(timeout * 1000))


def check_page(driver: webdriver.Chrome, base_url: str, page: str, screenshots: Path | None) -> list[str]:
    problems: list[str] = []
    driver.get_log("browser")  # drop anything logged by the previous page
    FAILED_REQUESTS.clear()
    driver.get(f"{base_url}/{page}.html")
    wait_for_page(driver)
    report = driver.execute_script(PAGE_REPORT_JS)
    if report["readyState"] != "complete" or report["articleChars"] < 200:
        problems.append(f"did not load (state {report['readyState']}, {report['articleChars']} characters of text)")
    broken = [img["src"] for img in report["images"] if not img["ok"]]
    if broken:
        problems.append(f"broken or missing images: {broken}")
    if page not in PAGES_WITHOUT_FIGURES and not report["images"]:
        problems.append("a chapter with no figure")
    if report["mathSource"] and not report["mathRendered"]:
        problems.append(f"{report['mathSource']} maths elements, none rendered by MathJax")
    if report["mathErrors"]:
        problems.append(f"{report['mathErrors']} MathJax errors")
    if report["errorOutputs"] or report["tracebackText"]:
        problems.append("a cell shows an error or a traceback")
    if FAILED_REQUESTS:
        problems.append(f"requests the site's server could not answer: {sorted(set(FAILED_REQUESTS))}")
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"browser error: {entry.get('message')}")
    if screenshots is not None:
        path = screenshots / (page.replace("/", "_") + ".png")
        driver.save_screenshot(str(path))
    print(f"{'FAIL' if problems else 'ok  '} {page}: {len(report['images'])} images, {report['figures']} figures, "
          f"{report['mathRendered']} maths rendered")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="folder for one screenshot per page (default: <site>/../screenshots)")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="table of contents listing the pages")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"check_site: {site} has no index.html; run `make book` first", file=sys.stderr)
        return 2
    screenshots = args.screenshots or site.parent / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    pages = toc_pages(args.toc)
    missing = [p for p in pages if not (site / f"{p}.html").is_file()]
    server, base_url = serve(site)
    driver = start_browser()
    failures: dict[str, list[str]] = {p: ["page was not built"] for p in missing}
    try:
        driver.get(f"{base_url}/index.html")  # index.html is a redirect to the first chapter
        wait_for_page(driver)
        if not driver.current_url.endswith(f"{pages[0]}.html"):
            failures["index.html"] = [f"redirects to {driver.current_url}, not {pages[0]}.html"]
        for page in pages:
            if page in missing:
                continue
            problems = check_page(driver, base_url, page, screenshots)
            if problems:
                failures[page] = problems
    finally:
        driver.quit()
        server.shutdown()
    print(f"screenshots in {screenshots}")
    if failures:
        print(f"\n{len(failures)} page(s) failed the browser check:", file=sys.stderr)
        for page, problems in failures.items():
            for problem in problems:
                print(f"  {page}: {problem}", file=sys.stderr)
        return 1
    print(f"all {len(pages)} pages passed the browser check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
