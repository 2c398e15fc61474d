"""Check every link of the built book, offline by default and against the live web when asked.

Usage: ``python tools/linkcheck.py _build/html [--online] [--timeout S] [--ignore REGEX ...]``

Offline (the default: the build machine has no internet), it reads every HTML file of the site and fails when

- a page named in ``_toc.yml`` was not built, or cannot be reached by following links from ``index.html``;
- an internal link (``<a href>``, ``<img src>``, ``<link href>``, ``<script src>``, ...) names a file that is
  not in the site, leaves the site (``../`` past its root), or ends in a ``#fragment`` that is not an ``id``
  on the target page;
- an external link is not a well-formed ``http(s)`` URL, or points at a file on the author's disk
  (``file:``, a drive letter).

With ``--online`` it also fetches each distinct external ``<a href>`` once (HEAD, then GET where a server
refuses HEAD), in parallel, with a timeout, and reports every URL that fails or answers 4xx/5xx. URLs that
match a regular expression in ``_config.yml``'s ``sphinx.config.linkcheck_ignore`` (shared with Sphinx's
``linkcheck`` builder) or ``--ignore`` are not fetched; nor are loopback addresses, which only mean
something on the reader's own machine. ``linkcheck_timeout`` there sets the default timeout.

The functions here are pure (no browser, no network except :func:`fetch_status`), so that
``tests/test_site_tools.py`` can run them on small synthetic sites, and ``tools/check_site.py`` reuses them
for the links it finds in the live page.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import html.parser
import ipaddress
import posixpath
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Attributes that make the browser load or navigate to a URL.
URL_ATTRIBUTES = {"a": "href", "area": "href", "link": "href", "img": "src", "script": "src",
                  "iframe": "src", "source": "src", "video": "src", "audio": "src", "embed": "src"}
# <link rel=...> values that name a URL the browser never fetches as a page or asset of this site.
NON_RESOURCE_RELS = {"preconnect", "dns-prefetch", "canonical", "alternate", "author", "license"}
# Schemes that are neither a web page nor a file: nothing to check beyond their syntax.
SPECIAL_SCHEMES = {"mailto", "tel", "javascript", "data"}
# A fragment every browser understands without a matching id (HTML: "#top" scrolls to the top).
IMPLICIT_FRAGMENTS = {"", "top"}
HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
DRIVE_LETTER = re.compile(r"^[A-Za-z]:[\\/]")
SITE_FOLDERS_NOT_SCANNED = {"_static", "_sources", "_images", "_downloads", "mathjax"}


# --------------------------------------------------------------------------------------------------------------
# Reading HTML


@dataclass
class Link:
    """One URL in a page: the element and attribute that hold it, and the raw value."""

    tag: str
    attr: str
    url: str
    line: int


@dataclass
class PageInfo:
    """What a page offers to others (its ids) and what it points at (its links)."""

    links: list[Link] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class _PageParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.info = PageInfo()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        if "id" in values:
            self.info.ids.add(values["id"])
        if tag == "a" and "name" in values:  # the pre-HTML5 anchor, still honoured by browsers
            self.info.ids.add(values["name"])
        line = self.getpos()[0]
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            # index.html is a redirect: "0; url=book/intro.html"
            match = re.search(r"url\s*=\s*['\"]?([^'\"\s]+)", values.get("content", ""), re.I)
            if match:
                self.info.links.append(Link("meta", "content", match.group(1), line))
            return
        attr = URL_ATTRIBUTES.get(tag)
        if attr is None or attr not in values:
            return
        if tag == "link" and NON_RESOURCE_RELS & set(values.get("rel", "").lower().split()):
            return
        self.info.links.append(Link(tag, attr, values[attr].strip(), line))

    handle_startendtag = handle_starttag


def parse_page(text: str) -> PageInfo:
    """The ids and the URLs (with their tag and line) of one HTML document."""
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser.info


class SiteIndex:
    """Lazily parsed pages of a built site, so that each file is read once however often it is linked."""

    def __init__(self, site: Path) -> None:
        self.site = site.resolve()
        self._pages: dict[Path, PageInfo] = {}

    def page(self, path: Path) -> PageInfo:
        path = path.resolve()
        if path not in self._pages:
            self._pages[path] = parse_page(path.read_text(encoding="utf-8", errors="replace"))
        return self._pages[path]

    def ids(self, path: Path) -> set[str]:
        return self.page(path).ids

    def html_files(self) -> list[Path]:
        """Every page of the site, not the theme's assets or the copied sources."""
        return sorted(p for p in self.site.rglob("*.html")
                      if not SITE_FOLDERS_NOT_SCANNED & set(p.relative_to(self.site).parts[:1]))


# --------------------------------------------------------------------------------------------------------------
# Classifying and resolving one URL


def link_kind(url: str, base_url: str | None = None) -> str:
    """``"internal"`` (a file of this site), ``"external"`` (another site), ``"special"`` (mailto:, data:, ...)
    or ``"local-file"`` (a path on someone's disk, which no reader has).

    ``base_url`` is the address the site is served from (``http://127.0.0.1:8000``); a URL under it is internal.
    """
    if base_url and _under_base(url, base_url):
        return "internal"
    if DRIVE_LETTER.match(url) or url.startswith("\\\\"):
        return "local-file"
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file":
        return "local-file"
    if scheme in SPECIAL_SCHEMES:
        return "special"
    if scheme or url.startswith("//"):
        return "external"
    return "internal"


def _under_base(url: str, base_url: str) -> bool:
    base = base_url.rstrip("/")
    return url == base or url.startswith(base + "/")


@dataclass(frozen=True)
class Target:
    """Where an internal link leads: a path inside (or, for a broken link, outside) the site, and a fragment."""

    path: Path
    fragment: str


def resolve_internal(site: Path, page: Path, url: str, base_url: str | None = None) -> Target:
    """The file and fragment that ``url``, written in ``page``, points at (``page`` and ``site`` are paths).

    A URL under ``base_url`` or starting with ``/`` is taken from the site's root, anything else from the
    page's folder; a folder means its ``index.html``; ``%xx`` escapes are decoded and a query is dropped.
    The result is not checked for existence here: see :func:`internal_link_problem`.
    """
    site = site.resolve()
    if base_url and _under_base(url, base_url):
        url = "/" + url[len(base_url.rstrip("/")):].lstrip("/")
    parts = urllib.parse.urlsplit(url)
    fragment = urllib.parse.unquote(parts.fragment)
    path_text = urllib.parse.unquote(parts.path)
    if not path_text:  # "#section" or "?q=1": this very page
        return Target(page.resolve(), fragment)
    start = site if path_text.startswith("/") else page.resolve().parent
    target = Path(_normpath(start, path_text.lstrip("/")))
    if path_text.endswith("/") or (target.is_dir() and _inside(site, target)):
        target = target / "index.html"
    return Target(target, fragment)


def _normpath(start: Path, relative: str) -> str:
    # os.path.normpath without touching the disk, so that "../" past the site's root stays visible
    return posixpath.normpath(posixpath.join(start.as_posix(), relative))


def _inside(site: Path, path: Path) -> bool:
    try:
        path.relative_to(site)
    except ValueError:
        return False
    return True


def internal_link_problem(index: SiteIndex, page: Path, url: str, base_url: str | None = None,
                          page_ids: set[str] | None = None) -> str | None:
    """Why the internal ``url`` on ``page`` is broken, or ``None`` when it resolves.

    The target must be a file inside the site; a fragment must be an ``id`` on the target page when that
    page is HTML. ``page_ids`` may supply the ids of ``page`` itself as the live browser sees them (scripts
    add some), instead of those in the file.
    """
    target = resolve_internal(index.site, page, url, base_url)
    if not _inside(index.site, target.path):
        return f"{url!r} leads outside the site (to {target.path})"
    if not target.path.is_file():
        return f"{url!r}: no file {target.path.relative_to(index.site).as_posix()} in the site"
    if target.fragment in IMPLICIT_FRAGMENTS or target.path.suffix not in {".html", ".htm"}:
        return None
    same_page = target.path == page.resolve()
    ids = page_ids if (same_page and page_ids is not None) else index.ids(target.path)
    if target.fragment not in ids:
        where = "this page" if same_page else target.path.relative_to(index.site).as_posix()
        return f"{url!r}: no element with id {target.fragment!r} on {where}"
    return None


def external_url_problem(url: str) -> str | None:
    """Why ``url`` is not a well-formed web address, or ``None`` when it is (no network used).

    It must be ``http`` or ``https`` with a host name made of valid labels (or an IP address), a valid
    port, and no whitespace or characters a URL never contains unescaped. ``mailto:`` and the other
    special schemes are accepted when they have something after the colon.
    """
    if any(ch.isspace() for ch in url) or any(ch in url for ch in '"<>\\^`{|}'):
        return f"{url!r} contains whitespace or characters that must be escaped"
    parts = urllib.parse.urlsplit(url if not url.startswith("//") else "https:" + url)
    scheme = parts.scheme.lower()
    if scheme in SPECIAL_SCHEMES:
        return None if url.split(":", 1)[1] else f"{url!r} is empty after its scheme"
    if scheme not in {"http", "https"}:
        return f"{url!r} is not an http(s) link"
    if not parts.netloc:
        return f"{url!r} has no host"
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return f"{url!r} has an invalid port"
    host = parts.hostname or ""
    if not host:
        return f"{url!r} has no host"
    if _ip_address(host) is not None:
        return None
    labels = host.rstrip(".").split(".")
    if not all(HOSTNAME_LABEL.match(label) for label in labels):
        return f"{url!r}: {host!r} is not a valid host name"
    if len(labels) < 2 and host != "localhost":
        return f"{url!r}: {host!r} has no domain (a typo, or a machine on the author's network)"
    if labels[-1].isdigit():
        return f"{url!r}: {host!r} is neither a host name nor an IP address"
    return None


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(url: str) -> bool:
    """True for a link to the reader's own machine (``localhost``, ``127.0.0.1``, ``[::1]``)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    address = _ip_address(host)
    return host == "localhost" or (address is not None and address.is_loopback)


# --------------------------------------------------------------------------------------------------------------
# The whole site


def toc_pages(toc: dict) -> list[str]:
    """Every document named in a jb-book table of contents (root first), as paths without suffix."""
    pages = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return [_strip_suffix(page) for page in pages]


def _strip_suffix(page: str) -> str:
    return re.sub(r"\.(md|ipynb|rst)$", "", page)


def reachable_pages(index: SiteIndex, start: Path) -> set[Path]:
    """The HTML files a reader reaches from ``start`` by following the site's own ``<a>`` links and redirects."""
    seen: set[Path] = set()
    queue = deque([start.resolve()])
    while queue:
        page = queue.popleft()
        if page in seen or not page.is_file():
            continue
        seen.add(page)
        for link in index.page(page).links:
            if link.tag not in {"a", "area", "meta"} or link_kind(link.url) != "internal":
                continue
            target = resolve_internal(index.site, page, link.url).path
            if target.suffix == ".html" and _inside(index.site, target) and target not in seen:
                queue.append(target)
    return seen


@dataclass
class Report:
    """Problems per page (site-relative path), and the external URLs found with the pages that use them."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)

    def add(self, page: str, problem: str) -> None:
        self.problems.setdefault(page, []).append(problem)


def check_site_links(site: Path, pages: list[str]) -> Report:
    """Offline check of a built site: TOC pages built and reachable, internal links resolve, external well-formed.

    ``pages`` are the TOC's documents without suffix (``book/nn/neurons``); the site's ``index.html`` is the
    entry point from which each of them must be reachable.
    """
    index = SiteIndex(site)
    report = Report()
    entry = index.site / "index.html"
    if not entry.is_file():
        report.add("index.html", "the site has no index.html")
        return report
    reached = reachable_pages(index, entry)
    for page in pages:
        path = index.site / f"{page}.html"
        if not path.is_file():
            report.add(f"{page}.html", "named in the table of contents but not built")
        elif path.resolve() not in reached:
            report.add(f"{page}.html", "built, but no chain of links from index.html reaches it")
    for path in index.html_files():
        name = path.relative_to(index.site).as_posix()
        for link in index.page(path).links:
            kind = link_kind(link.url)
            where = f"line {link.line}, <{link.tag} {link.attr}>"
            if kind == "internal":
                problem = internal_link_problem(index, path, link.url)
            elif kind == "local-file":
                problem = f"{link.url!r} points at a file on the author's disk"
            else:
                problem = external_url_problem(link.url)
                if problem is None and kind == "external" and link.tag in {"a", "area"}:
                    report.external.setdefault(link.url, set()).add(name)
            if problem:
                report.add(name, f"{where}: {problem}")
    return report


# --------------------------------------------------------------------------------------------------------------
# Online


def fetch_status(url: str, timeout: float) -> tuple[int | None, str]:
    """HTTP status of ``url`` (HEAD, falling back to GET when HEAD is refused), or ``None`` and the error."""
    headers = {"User-Agent": "mlbook-linkcheck/1.0 (+https://github.com/mlbook/mlbook)", "Accept": "*/*"}
    last_error = ""
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked
                if method == "GET":
                    response.read(1024)
                return response.status, ""
        except urllib.error.HTTPError as error:
            # Many servers answer HEAD with 403/405/501 but serve the page to a GET.
            if method == "HEAD" and error.code in {400, 403, 404, 405, 406, 429, 500, 501, 503}:
                last_error = f"HTTP {error.code} to HEAD"
                continue
            return error.code, str(error.reason)
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            last_error = str(getattr(error, "reason", error))
            if method == "HEAD":
                continue
    return None, last_error


def online_failures(urls: list[str], timeout: float, workers: int = 8, fetch=None) -> dict[str, str]:
    """The URLs that do not answer with a status below 400, each with what went wrong.

    ``fetch(url, timeout) -> (status or None, error)`` defaults to :func:`fetch_status`.
    """
    fetch = fetch or fetch_status
    failures: dict[str, str] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(fetch, url, timeout): url for url in urls}
        for future in concurrent.futures.as_completed(futures):
            url = futures[future]
            status, error = future.result()
            if status is None:
                failures[url] = f"no answer ({error})"
            elif status >= 400:
                failures[url] = f"HTTP {status} {error}".rstrip()
    return failures


def ignored(url: str, patterns: list[str]) -> bool:
    """True when ``url`` matches one of ``patterns`` from its start (as Sphinx's ``linkcheck_ignore`` does)."""
    return any(re.match(pattern, url) for pattern in patterns)


def linkcheck_settings(config: dict) -> tuple[list[str], float]:
    """``linkcheck_ignore`` and ``linkcheck_timeout`` from a parsed ``_config.yml`` (defaults: none, 15 s)."""
    sphinx_config = (config.get("sphinx") or {}).get("config") or {}
    return list(sphinx_config.get("linkcheck_ignore") or []), float(sphinx_config.get("linkcheck_timeout") or 15)


# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--online", action="store_true", help="also fetch every external link (needs internet)")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="table of contents listing the pages")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml",
                        help="book configuration with sphinx.config.linkcheck_ignore / linkcheck_timeout")
    parser.add_argument("--ignore", action="append", default=[], metavar="REGEX",
                        help="do not fetch URLs matching this regular expression (repeatable)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per request (default: linkcheck_timeout)")
    parser.add_argument("--workers", type=int, default=8, help="requests in flight at once")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"linkcheck: {site} has no index.html; run `make book` first", file=sys.stderr)
        return 2
    config = yaml.safe_load(args.config.read_text()) if args.config.is_file() else {}
    patterns, default_timeout = linkcheck_settings(config)
    patterns += args.ignore
    pages = toc_pages(yaml.safe_load(args.toc.read_text()))
    report = check_site_links(site, pages)

    print(f"linkcheck: {len(pages)} pages in the table of contents, {len(report.external)} distinct external links")
    if args.online:
        to_fetch = sorted(url for url in report.external if not ignored(url, patterns) and not is_loopback(url))
        skipped = len(report.external) - len(to_fetch)
        timeout = args.timeout or default_timeout
        print(f"linkcheck: fetching {len(to_fetch)} external links ({skipped} ignored), timeout {timeout:g} s")
        for url, why in sorted(online_failures(to_fetch, timeout, args.workers).items()):
            for page in sorted(report.external[url]):
                report.add(page, f"{url}: {why}")
    else:
        print("linkcheck: offline (external links checked for form only; `--online` or `make linkcheck ONLINE=1` "
              "fetches them)")

    if report.problems:
        count = sum(len(v) for v in report.problems.values())
        print(f"\nlinkcheck: {count} broken link(s) on {len(report.problems)} page(s):", file=sys.stderr)
        for page, problems in sorted(report.problems.items()):
            for problem in problems:
                print(f"  {page}: {problem}", file=sys.stderr)
        return 1
    print("linkcheck: every link resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
