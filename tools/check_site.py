"""Open every chapter of the built book in headless Chromium and fail if a reader would see a broken page.

Usage: ``python tools/check_site.py _build/html [--screenshots DIR] [--all-screenshots] [--max-load-seconds S]``

The site is served from a local HTTP server on 127.0.0.1 (as a reader's browser would load it) and
each page listed in the book's table of contents is opened in Debian's Chromium through Selenium and
chromedriver. A page fails when:

- it does not load, has no article content, or takes longer than ``--max-load-seconds`` (3 s) from the
  request to the end of its ``load`` event (the browser's Navigation Timing entry; a page over the limit is
  loaded once more and judged by the faster load, so that a moment of CPU contention is not a failure);
- an image is missing or broken (``naturalWidth == 0``), or a chapter shows no figure at all;
- it contains maths that MathJax did not render, or MathJax reports an error;
- a code cell shows an error or a Python traceback;
- an internal link (any ``<a href>`` into the site, as the live page has it) names a file that is not
  there, or a ``#fragment`` that is not an ``id`` on the target page;
- its download menu does not offer the page's source (``.md``) and, for a notebook, the executed
  ``.ipynb``, each a file that exists in the site (the ``.ipynb`` a valid notebook);
- a notebook page has no Binder launch button, or the button does not open this page's source file,
  from the repository and branch in ``_config.yml``, in the configured interface;
- the browser logs a severe error (a failed request for one of the site's own files, a script error).

Screenshots of a sample (the landing page and the first page of each part; every page with
``--all-screenshots``) are saved to a folder that is printed at the end, for the CI log.

The decisions are pure functions (here and in ``tools/linkcheck.py``), tested without a browser by
``tests/test_site_tools.py``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/ is not a package: find linkcheck.py beside us
import linkcheck  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MAX_LOAD_SECONDS = 3.0
INTERFACE_PREFIXES = {"jupyterlab": "lab/tree", "classic": "tree"}  # sphinx-book-theme's urlpath prefixes

NAVIGATION_JS = """
const nav = performance.getEntriesByType('navigation')[0];
return nav ? nav.toJSON() : null;
"""

PAGE_REPORT_JS = """
const article = document.querySelector('article, main, .bd-article') || document.body;
const text = article.innerText || '';
const images = Array.from(article.querySelectorAll('img'));
const hrefs = selector => Array.from(document.querySelectorAll(selector)).map(a => a.getAttribute('href'));
const nav = performance.getEntriesByType('navigation')[0];
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
  links: hrefs('a[href]'),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  downloads: hrefs('.dropdown-download-buttons a[href]'),
  launches: hrefs('.dropdown-launch-buttons a[href]'),
  navigation: nav ? nav.toJSON() : null,
};
"""


# --------------------------------------------------------------------------------------------------------------
# Pure decisions (no browser)


def _root(toc: dict) -> str:
    return linkcheck.toc_pages({"root": toc["root"]})[0]


def _part_pages(toc: dict, part: dict) -> list[str]:
    return linkcheck.toc_pages({"root": toc["root"], "parts": [part]})[1:]


def pages_without_figures(toc: dict) -> set[str]:
    """Front and back matter: the root page and every page of a part that is not numbered (not a chapter)."""
    pages = {_root(toc)}
    for part in toc.get("parts", []):
        if not part.get("numbered"):
            pages.update(_part_pages(toc, part))
    return pages


def screenshot_sample(toc: dict) -> list[str]:
    """The pages worth a screenshot in every CI log: the landing page and the first page of each part."""
    sample = [_root(toc)]
    for part in toc.get("parts", []):
        pages = _part_pages(toc, part)
        if pages and pages[0] not in sample:
            sample.append(pages[0])
    return sample


def load_seconds(navigation: dict | None) -> float | None:
    """Seconds from the request to the end of the ``load`` event, from a Navigation Timing entry (ms).

    ``None`` when there is no entry or the load event has not ended.
    """
    if not navigation or not navigation.get("loadEventEnd"):
        return None
    return (navigation["loadEventEnd"] - navigation.get("startTime", 0.0)) / 1000.0


def fastest_load(navigations: list[dict | None]) -> dict | None:
    """The Navigation Timing entry of the quickest load that finished (``None`` when none did)."""
    finished = [entry for entry in navigations if load_seconds(entry) is not None]
    return min(finished, key=load_seconds) if finished else None


def timing_problem(navigation: dict | None, max_seconds: float) -> str | None:
    """Why a page's load time fails (too slow, or never finished), or ``None``."""
    seconds = load_seconds(navigation)
    if seconds is None:
        return "the page never finished loading (no load event in its Navigation Timing entry)"
    if seconds > max_seconds:
        return f"took {seconds:.2f} s to load, more than {max_seconds:g} s"
    return None


def source_file(book: Path, page: str) -> Path | None:
    """The file (under the book's folder) a TOC page is built from (``book/nn/neurons`` -> ``book/nn/neurons.md``)."""
    for suffix in (".md", ".ipynb", ".rst"):
        if (book / f"{page}{suffix}").is_file():
            return book / f"{page}{suffix}"
    return None


def is_notebook_source(path: Path) -> bool:
    """True for a notebook: an ``.ipynb``, or a text file whose front matter names a kernel (as Jupytext
    writes it). sphinx-book-theme gives exactly these pages launch buttons and an ``.ipynb`` download."""
    if path.suffix == ".ipynb":
        return True
    head = path.read_text(encoding="utf-8")[:3000]
    if not head.startswith("---"):
        return False
    front_matter = head.split("---", 2)[1] if head.count("---") >= 2 else ""
    return "kernelspec:" in front_matter


def download_problems(index: linkcheck.SiteIndex, page: str, hrefs: list[str], source: Path,
                      notebook: bool) -> list[str]:
    """What is wrong with a page's download menu: each link must resolve to a file in the site; the page's
    source (same suffix) must be offered from ``_sources/``, and for a notebook the ``.ipynb`` as well, a
    file that parses as a notebook."""
    page_path = index.site / f"{page}.html"
    problems = [f"download {problem}" for href in hrefs
                if (problem := linkcheck.internal_link_problem(index, page_path, href))]
    targets = {linkcheck.resolve_internal(index.site, page_path, href).path for href in hrefs}
    wanted = [(source.suffix, index.site / "_sources" / f"{page}{source.suffix}")]
    if notebook and source.suffix != ".ipynb":
        wanted.append((".ipynb", index.site / "_sources" / f"{page}.ipynb"))
    for suffix, expected in wanted:
        if expected.resolve() not in targets:
            problems.append(f"the download menu offers no {suffix} (expected a link to "
                            f"{expected.relative_to(index.site).as_posix()})")
        elif suffix == ".ipynb" and expected.is_file():
            try:
                content = json.loads(expected.read_text(encoding="utf-8"))
            except ValueError:
                content = None
            if not (isinstance(content, dict) and isinstance(content.get("cells"), list) and "nbformat" in content):
                problems.append(f"{expected.relative_to(index.site).as_posix()} is not a Jupyter notebook")
    return problems


def launch_settings(config: dict) -> dict[str, str]:
    """The Binder launch settings that take effect for a parsed ``_config.yml``.

    Jupyter Book derives theme options from ``launch_buttons:`` and ``repository:``, but a
    ``sphinx.config.html_theme_options`` replaces them wholesale, so its values win when present.
    """
    repository = config.get("repository") or {}
    derived = {"launch_buttons": config.get("launch_buttons") or {}, "repository_url": repository.get("url", ""),
               "repository_branch": repository.get("branch", ""), "path_to_docs": repository.get("path_to_book", "")}
    sphinx = config.get("sphinx") or {}
    given = (sphinx.get("config") or {}).get("html_theme_options")
    if given is None:
        theme = derived
    elif sphinx.get("recursive_update"):
        theme = {**derived, **given,
                 "launch_buttons": {**derived["launch_buttons"], **(given.get("launch_buttons") or {})}}
    else:
        theme = given
    launch = theme.get("launch_buttons") or {}
    return {
        "binderhub_url": str(launch.get("binderhub_url") or "").rstrip("/"),
        "interface": str(launch.get("notebook_interface") or "classic"),
        "repository_url": str(theme.get("repository_url") or "").rstrip("/"),
        "branch": str(theme.get("repository_branch") or "master"),  # sphinx-book-theme's default
        "path_to_docs": str(theme.get("path_to_docs") or "").strip("/"),
    }


def binder_problems(hrefs: list[str], source: Path, book: Path, settings: dict[str, str]) -> list[str]:
    """What is wrong with a notebook page's launch menu: it needs a Binder link, on the configured
    BinderHub, for the configured GitHub repository and branch, opening this page's source file (``source``,
    which must exist, under the book's folder ``book``, which is ``path_to_docs`` in the repository) in the
    configured interface (``settings`` as :func:`launch_settings` gives them)."""
    if not settings["binderhub_url"]:
        return ["_config.yml configures no binderhub_url, so there is no launch button"]
    binder = [href for href in hrefs if href.startswith(settings["binderhub_url"] + "/")]
    if not binder:
        return [f"no launch button to {settings['binderhub_url']} (launch links: {hrefs})"]
    parts = urllib.parse.urlsplit(binder[0])
    repo_path = urllib.parse.urlsplit(settings["repository_url"]).path.strip("/")
    expected_path = f"/v2/gh/{repo_path}/{settings['branch']}"
    problems = []
    if parts.path.rstrip("/") != urllib.parse.urlsplit(settings["binderhub_url"]).path.rstrip("/") + expected_path:
        problems.append(f"Binder link {binder[0]!r} does not build {repo_path} at branch {settings['branch']!r}")
    urlpath = urllib.parse.parse_qs(parts.query).get("urlpath", [""])[0]
    prefix = INTERFACE_PREFIXES.get(settings["interface"], "tree") + "/"
    if not urlpath.startswith(prefix):
        problems.append(f"Binder link {binder[0]!r} does not open {settings['interface']} ({prefix}...)")
        return problems
    opened = urlpath[len(prefix):]
    expected = "/".join(filter(None, [settings["path_to_docs"].strip("/"), source.relative_to(book).as_posix()]))
    if opened != expected:
        problems.append(f"Binder link opens {opened!r}, not this page's source {expected!r}")
    elif not source.is_file():
        problems.append(f"Binder link opens {opened!r}, which is not in the repository")
    return problems


def internal_link_problems(index: linkcheck.SiteIndex, page: str, hrefs: list[str], base_url: str,
                           live_ids: list[str]) -> list[str]:
    """The live page's internal ``<a href>`` links that do not resolve (file, then ``#fragment``)."""
    page_path = index.site / f"{page}.html"
    problems = []
    for href in dict.fromkeys(hrefs):  # each distinct link once, in page order
        if linkcheck.link_kind(href, base_url) == "internal":
            problem = linkcheck.internal_link_problem(index, page_path, href, base_url, page_ids=set(live_ids))
            if problem:
                problems.append(f"broken link {problem}")
    return problems


# --------------------------------------------------------------------------------------------------------------
# The browser


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


def start_browser():
    from selenium import webdriver  # here, so that the pure functions above import without Selenium
    from selenium.webdriver.chrome.service import Service

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


def wait_for_page(driver, timeout: float = 30.0) -> None:
    """Wait until the document, its load event, its images and MathJax (if the page loads it) have finished."""
    driver.set_script_timeout(timeout)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const images = () => Array.from(document.images).every(img => img.complete);
        const loaded = () => {
          const nav = performance.getEntriesByType('navigation')[0];
          return !nav || nav.loadEventEnd > 0;
        };
        const deadline = Date.now() + %d;
        (function poll() {
          const mj = window.MathJax;
          const mathReady = !mj || !mj.startup || !mj.startup.promise;
          const finish = () => done(true);
          if (document.readyState === 'complete' && loaded() && images()) {
            if (mathReady) { finish(); return; }
            mj.startup.promise.then(() => (mj.typesetPromise ? mj.typesetPromise() : null)).then(finish, finish);
            return;
          }
          if (Date.now() > deadline) { finish(); return; }
          setTimeout(poll, 100);
        })();
    """ % int(timeout * 1000))


@dataclass
class SiteContext:
    """What every page's check needs besides the page: the site, the repository and the configuration."""

    index: linkcheck.SiteIndex
    base_url: str
    book: Path
    launch: dict[str, str]
    no_figures: set[str]
    max_load_seconds: float


def check_page(driver, context: SiteContext, page: str, screenshot: Path | None) -> list[str]:
    problems: list[str] = []
    driver.get_log("browser")  # drop anything logged by the previous page
    FAILED_REQUESTS.clear()
    driver.get(f"{context.base_url}/{page}.html")
    wait_for_page(driver)
    report = driver.execute_script(PAGE_REPORT_JS)
    if report["readyState"] != "complete" or report["articleChars"] < 200:
        problems.append(f"did not load (state {report['readyState']}, {report['articleChars']} characters of text)")
    navigation = report["navigation"]
    if timing_problem(navigation, context.max_load_seconds):
        # Measured once more before failing: a page that is really slow is slow twice, while one load that
        # lost the shared CPU to another process is not the page's fault.
        driver.get(f"{context.base_url}/{page}.html")
        wait_for_page(driver)
        navigation = fastest_load([navigation, driver.execute_script(NAVIGATION_JS)])
    if slow := timing_problem(navigation, context.max_load_seconds):
        problems.append(slow)
    broken = [img["src"] for img in report["images"] if not img["ok"]]
    if broken:
        problems.append(f"broken or missing images: {broken}")
    if page not in context.no_figures and not report["images"]:
        problems.append("a chapter with no figure")
    if report["mathSource"] and not report["mathRendered"]:
        problems.append(f"{report['mathSource']} maths elements, none rendered by MathJax")
    if report["mathErrors"]:
        problems.append(f"{report['mathErrors']} MathJax errors")
    if report["errorOutputs"] or report["tracebackText"]:
        problems.append("a cell shows an error or a traceback")
    problems += internal_link_problems(context.index, page, report["links"], context.base_url, report["ids"])
    source = source_file(context.book, page)
    if source is None:
        problems.append(f"no source file for {page} in {context.book}")
    else:
        notebook = is_notebook_source(source)
        problems += download_problems(context.index, page, report["downloads"], source, notebook)
        if notebook:
            problems += binder_problems(report["launches"], source, context.book, context.launch)
    if FAILED_REQUESTS:
        problems.append(f"requests the site's server could not answer: {sorted(set(FAILED_REQUESTS))}")
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"browser error: {entry.get('message')}")
    if screenshot is not None:
        driver.save_screenshot(str(screenshot))
    seconds = load_seconds(navigation)
    print(f"{'FAIL' if problems else 'ok  '} {page}: {len(report['images'])} images, {report['figures']} figures, "
          f"{report['mathRendered']} maths rendered, {len(set(report['links']))} links, "
          f"loaded in {'?' if seconds is None else f'{seconds:.2f}'} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="folder for the screenshots (default: <site>/../screenshots)")
    parser.add_argument("--all-screenshots", action="store_true",
                        help="a screenshot of every page, not only the landing page and the first page of each part")
    parser.add_argument("--max-load-seconds", type=float, default=DEFAULT_MAX_LOAD_SECONDS,
                        help="fail a page whose load event ends later than this after the request (default: 3)")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="table of contents listing the pages")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml",
                        help="book configuration, for the launch buttons' repository and branch")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"check_site: {site} has no index.html; run `make book` first", file=sys.stderr)
        return 2
    screenshots = (args.screenshots or site.parent / "screenshots").resolve()
    screenshots.mkdir(parents=True, exist_ok=True)
    toc = yaml.safe_load(args.toc.read_text())
    pages = linkcheck.toc_pages(toc)
    sample = set(pages if args.all_screenshots else screenshot_sample(toc))
    missing = [p for p in pages if not (site / f"{p}.html").is_file()]
    server, base_url = serve(site)
    context = SiteContext(index=linkcheck.SiteIndex(site), base_url=base_url, book=ROOT,
                          launch=launch_settings(yaml.safe_load(args.config.read_text())),
                          no_figures=pages_without_figures(toc), max_load_seconds=args.max_load_seconds)
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
            shot = screenshots / (page.replace("/", "_") + ".png") if page in sample else None
            problems = check_page(driver, context, page, shot)
            if problems:
                failures[page] = problems
    finally:
        driver.quit()
        server.shutdown()
    print(f"screenshots of {len(sample)} page(s) in {screenshots}")
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
