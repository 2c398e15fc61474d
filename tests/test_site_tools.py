"""The site checks' own logic (tools/linkcheck.py, tools/check_site.py) on small synthetic sites: no browser,
no internet. Each check is shown to pass on a good site and to fail on the breakage it exists to catch."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_site  # noqa: E402
import linkcheck  # noqa: E402
from tests._book_helpers import HEADER  # noqa: E402

TOC = {
    "format": "jb-book",
    "root": "book/intro",
    "parts": [
        {"caption": "Part I", "numbered": True,
         "chapters": [{"file": "book/a/one"}, {"file": "book/a/two", "sections": [{"file": "book/a/two-more"}]}]},
        {"caption": "Part II", "numbered": True, "chapters": [{"file": "book/b/three.md"}]},
        {"caption": "Back matter", "chapters": [{"file": "book/references"}]},
    ],
}



def page(body: str = "", ids: tuple[str, ...] = ()) -> str:
    anchors = "".join(f'<section id="{i}"><h2>{i}</h2></section>' for i in ids)
    return ("<!DOCTYPE html><html><head><title>t</title></head>"
            f"<body><main id='main'>{anchors}{body}</main></body></html>")


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A built site where every link resolves: intro links to each page; pages link to each other's sections."""
    html = tmp_path / "html"
    redirect = '<html><head><meta http-equiv="Refresh" content="0; url=book/intro.html" /></head></html>'
    write(html, "index.html", redirect)
    nav = ('<nav><a href="a/one.html">1</a><a href="a/two.html">2</a><a href="a/two-more.html">2b</a>'
           '<a href="b/three.html">3</a><a href="references.html">refs</a></nav>')
    write(html, "book/intro.html",
          page(nav + '<a href="#welcome">here</a><a href="https://example.org/x?y=1#z">ext</a>', ids=("welcome",)))
    write(html, "book/a/one.html", page('<a href="two.html#setup">two</a><img src="../../_images/fig.png">'
                                        '<link rel="stylesheet" href="../../_static/style.css">'
                                        '<a href="../../_sources/book/a/one.md">md</a><a href="#">top</a>',
                                        ids=("one",)))
    write(html, "book/a/two.html", page('<a href="../b/three.html#the%20end">3</a><a href="/book/intro.html">home</a>'
                                        '<a href="mailto:authors@example.org">mail</a>', ids=("setup",)))
    write(html, "book/a/two-more.html", page('<a href="../a/">folder</a>'))
    write(html, "book/a/index.html", page())
    write(html, "book/b/three.html", page('<a href="https://doi.org/10.1000/182">doi</a>', ids=("the end",)))
    write(html, "book/references.html", page())
    write(html, "_images/fig.png", "png")
    write(html, "_static/style.css", "body {}")
    write(html, "_sources/book/a/one.md", "# one")
    return html


PAGES = linkcheck.toc_pages(TOC)


# ---- reading pages -------------------------------------------------------------------------------------------


def test_parse_page_finds_links_ids_and_the_redirect():
    info = linkcheck.parse_page(
        '<meta http-equiv="refresh" content="0; URL=\'book/intro.html\'">'
        '<link rel="preconnect" href="https://fonts.example.org"><link rel="stylesheet" href="s.css">'
        '<a href="x.html#y" id="a1">x</a><a name="old-anchor"></a><img src="i.png"/><script src="j.js"></script>'
        '<div id="d1"></div><a>no href</a>')
    assert [(link.tag, link.url) for link in info.links] == [
        ("meta", "book/intro.html"), ("link", "s.css"), ("a", "x.html#y"), ("img", "i.png"), ("script", "j.js")]
    assert info.ids == {"a1", "old-anchor", "d1"}


def test_toc_pages_walks_parts_chapters_and_sections_and_drops_suffixes():
    assert PAGES == ["book/intro", "book/a/one", "book/a/two", "book/a/two-more", "book/b/three", "book/references"]


# ---- one link ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, kind", [
    ("chapter.html", "internal"), ("../x/y.html#z", "internal"), ("#frag", "internal"), ("/abs.html", "internal"),
    ("https://example.org", "external"), ("http://example.org/a", "external"), ("//cdn.example.org/x.js", "external"),
    ("mailto:a@example.org", "special"), ("javascript:void(0)", "special"), ("data:image/png;base64,AA", "special"),
    ("file:///home/author/notes.html", "local-file"), ("C:\\Users\\me\\fig.png", "local-file"),
    ("ftp://example.org/file", "external"),
])
def test_link_kind(url, kind):
    assert linkcheck.link_kind(url) == kind


def test_link_kind_treats_the_sites_own_address_as_internal():
    assert linkcheck.link_kind("http://127.0.0.1:8123/book/intro.html", "http://127.0.0.1:8123") == "internal"
    assert linkcheck.link_kind("http://127.0.0.1:9999/book/intro.html", "http://127.0.0.1:8123") == "external"


def test_resolve_internal(site):
    here = site / "book/a/one.html"
    assert linkcheck.resolve_internal(site, here, "two.html#setup") == linkcheck.Target(site / "book/a/two.html",
                                                                                         "setup")
    assert linkcheck.resolve_internal(site, here, "../b/three.html?x=1#the%20end").path == site / "book/b/three.html"
    assert linkcheck.resolve_internal(site, here, "../b/three.html#the%20end").fragment == "the end"
    assert linkcheck.resolve_internal(site, here, "/book/intro.html?q=1").path == site / "book/intro.html"
    assert linkcheck.resolve_internal(site, here, "#one") == linkcheck.Target(here, "one")
    assert linkcheck.resolve_internal(site, here, "../a/").path == site / "book/a/index.html"
    assert linkcheck.resolve_internal(site, here, "../a").path == site / "book/a/index.html"
    assert linkcheck.resolve_internal(site, here, "http://127.0.0.1:8/book/a/two.html#s", "http://127.0.0.1:8") == \
        linkcheck.Target(site / "book/a/two.html", "s")
    assert linkcheck.resolve_internal(site, here, "../../../outside.html").path == site.parent / "outside.html"


def test_internal_links_that_resolve_pass(site):
    index = linkcheck.SiteIndex(site)
    one = site / "book/a/one.html"
    for url in ["two.html#setup", "two.html", "../b/three.html#the%20end", "#one", "#", "#top", "../../_images/fig.png",
                "../../_sources/book/a/one.md#not-html-so-not-checked", "../a/"]:
        assert linkcheck.internal_link_problem(index, one, url) is None, url


@pytest.mark.parametrize("url, words", [
    ("missing.html", "no file book/a/missing.html"),
    ("two.html#nowhere", "no element with id 'nowhere' on book/a/two.html"),
    ("#nowhere", "no element with id 'nowhere' on this page"),
    ("../b/three.html#the-end", "no element with id 'the-end'"),
    ("../../_images/gone.png", "no file _images/gone.png"),
    ("../../../outside.html", "leads outside the site"),
])
def test_a_broken_internal_link_or_fragment_fails(site, url, words):
    problem = linkcheck.internal_link_problem(linkcheck.SiteIndex(site), site / "book/a/one.html", url)
    assert problem is not None and words in problem


def test_ids_the_live_page_adds_count_for_links_to_the_same_page(site):
    index, one = linkcheck.SiteIndex(site), site / "book/a/one.html"
    assert linkcheck.internal_link_problem(index, one, "#added-by-script") is not None
    assert linkcheck.internal_link_problem(index, one, "#added-by-script", page_ids={"added-by-script"}) is None


@pytest.mark.parametrize("url", [
    "https://example.org", "http://example.org/a/b?c=d#e", "https://sub.example.co.uk:8443/x", "https://192.0.2.1/",
    "http://localhost:8000/docs", "http://[::1]:8000/", "mailto:someone@example.org", "https://doi.org/10.1145/2764454",
    "https://en.wikipedia.org/wiki/Smith%E2%80%93Waterman_algorithm",
])
def test_well_formed_external_urls_pass(url):
    assert linkcheck.external_url_problem(url) is None


@pytest.mark.parametrize("url, words", [
    ("https://exa mple.org", "whitespace"),
    ("https://example.org/<x>", "escaped"),
    ("ftp://example.org/file", "not an http(s) link"),
    ("https://", "no host"),
    ("https:///path-only", "no host"),
    ("https://example.org:99999/", "invalid port"),
    ("https://-bad-.example.org", "not a valid host name"),
    ("https://under_score.example.org", "not a valid host name"),
    ("https://intranet/wiki", "no domain"),
    ("https://example.123", "neither a host name nor an IP"),
    ("mailto:", "empty"),
])
def test_malformed_external_urls_fail(url, words):
    problem = linkcheck.external_url_problem(url)
    assert problem is not None and words in problem


def test_loopback_links_are_recognised():
    assert linkcheck.is_loopback("http://localhost:8000/predict")
    assert linkcheck.is_loopback("http://127.0.0.1/")
    assert linkcheck.is_loopback("http://[::1]:80/")
    assert not linkcheck.is_loopback("https://example.org/")


# ---- the whole site, offline ---------------------------------------------------------------------------------


def test_a_good_site_passes_and_its_external_links_are_listed(site):
    report = linkcheck.check_site_links(site, PAGES)
    assert report.problems == {}
    assert report.external == {"https://example.org/x?y=1#z": {"book/intro.html"},
                                "https://doi.org/10.1000/182": {"book/b/three.html"}}


def test_a_broken_link_fails_the_site_check_and_names_page_and_line(site):
    write(site, "book/b/three.html", page('\n\n<a href="../a/two.html#gone">x</a>', ids=("the end",)))
    report = linkcheck.check_site_links(site, PAGES)
    assert list(report.problems) == ["book/b/three.html"]
    (problem,) = report.problems["book/b/three.html"]
    assert "line 3, <a href>" in problem and "no element with id 'gone'" in problem


def test_a_link_to_the_authors_disk_or_a_malformed_url_fails(site):
    write(site, "book/references.html",
          page('<a href="file:///home/me/book.pdf">pdf</a><a href="https://bad host">x</a>'))
    problems = linkcheck.check_site_links(site, PAGES).problems["book/references.html"]
    assert len(problems) == 2
    assert "on the author's disk" in problems[0] and "whitespace" in problems[1]


def test_a_toc_page_that_was_not_built_or_cannot_be_reached_fails(site):
    (site / "book/b/three.html").unlink()
    write(site, "book/intro.html", page('<a href="a/one.html">1</a>'))  # the navigation lost most pages
    problems = linkcheck.check_site_links(site, PAGES).problems
    assert problems["book/b/three.html"] == ["named in the table of contents but not built"]
    assert "no chain of links from index.html" in problems["book/references.html"][0]
    assert "book/a/one.html" not in problems


def test_linkcheck_cli_offline(site, tmp_path, capsys):
    toc, config = tmp_path / "toc.yml", tmp_path / "config.yml"
    toc.write_text(yaml.safe_dump(TOC))
    config.write_text("title: t\n")
    assert linkcheck.main([str(site), "--toc", str(toc), "--config", str(config)]) == 0
    assert "every link resolves" in capsys.readouterr().out
    write(site, "book/a/one.html", page('<a href="two.html#nope">x</a>'))
    assert linkcheck.main([str(site), "--toc", str(toc), "--config", str(config)]) == 1
    assert "book/a/one.html" in capsys.readouterr().err
    assert linkcheck.main([str(tmp_path / "nothing"), "--toc", str(toc), "--config", str(config)]) == 2


# ---- online (a local server stands in for the web) -----------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 - the base class's naming
        if self.path == "/no-head":
            self.send_response(405)
        else:
            self.send_response(200 if self.path in {"/ok", "/no-head"} else 404)
        self.end_headers()

    def do_GET(self):  # noqa: N802
        self.send_response(200 if self.path in {"/ok", "/no-head"} else 404)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


@pytest.fixture
def web() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_status_uses_head_then_get_and_reports_errors(web):
    assert linkcheck.fetch_status(f"{web}/ok", timeout=5)[0] == 200
    assert linkcheck.fetch_status(f"{web}/no-head", timeout=5)[0] == 200  # HEAD refused, GET served
    assert linkcheck.fetch_status(f"{web}/missing", timeout=5)[0] == 404
    status, error = linkcheck.fetch_status("http://127.0.0.1:9/", timeout=2)  # nothing listens on port 9
    assert status is None and error


def test_online_failures_lists_every_url_that_fails(web):
    failures = linkcheck.online_failures([f"{web}/ok", f"{web}/missing", "http://127.0.0.1:9/"], timeout=2, workers=3)
    assert set(failures) == {f"{web}/missing", "http://127.0.0.1:9/"}
    assert failures[f"{web}/missing"].startswith("HTTP 404")
    assert failures["http://127.0.0.1:9/"].startswith("no answer")


def test_online_cli_reports_the_pages_that_use_a_dead_link(site, tmp_path, monkeypatch, capsys):
    toc, config = tmp_path / "toc.yml", tmp_path / "config.yml"
    toc.write_text(yaml.safe_dump(TOC))
    config.write_text(yaml.safe_dump({"sphinx": {"config": {"linkcheck_ignore": [r"https://example\.org/"]}}}))
    fetched = []
    monkeypatch.setattr(linkcheck, "fetch_status", lambda url, timeout: (fetched.append(url), (404, "Not Found"))[1])
    assert linkcheck.main([str(site), "--online", "--toc", str(toc), "--config", str(config)]) == 1
    assert fetched == ["https://doi.org/10.1000/182"]  # the ignored URL was not fetched
    assert "book/b/three.html: https://doi.org/10.1000/182: HTTP 404 Not Found" in capsys.readouterr().err


def test_the_books_linkcheck_settings_are_read_from_config():
    patterns, timeout = linkcheck.linkcheck_settings(yaml.safe_load((ROOT / "_config.yml").read_text()))
    assert timeout > 0
    assert linkcheck.ignored("https://mybinder.org/v2/gh/mlbook/mlbook/main?urlpath=lab/tree/book/intro.md", patterns)
    assert not linkcheck.ignored("https://github.com/mlbook/mlbook", patterns)
    assert linkcheck.linkcheck_settings({}) == ([], 15.0)


# ---- check_site's decisions ----------------------------------------------------------------------------------


def test_front_and_back_matter_need_no_figure_and_the_screenshot_sample():
    assert check_site.pages_without_figures(TOC) == {"book/intro", "book/references"}
    assert check_site.screenshot_sample(TOC) == ["book/intro", "book/a/one", "book/b/three", "book/references"]


def nav(start: float, load_end: float) -> dict:
    return {"startTime": start, "responseEnd": start + 5, "loadEventEnd": load_end}


def test_load_time_from_navigation_timing():
    assert check_site.load_seconds(nav(0.0, 1250.0)) == pytest.approx(1.25)
    assert check_site.load_seconds(nav(0.0, 0.0)) is None  # the load event has not ended
    assert check_site.load_seconds(None) is None
    assert check_site.timing_problem(nav(0.0, 2900.0), max_seconds=3.0) is None
    slow = check_site.timing_problem(nav(0.0, 3400.0), max_seconds=3.0)
    assert slow is not None and "3.40 s" in slow
    assert "never finished" in check_site.timing_problem(nav(0.0, 0.0), max_seconds=3.0)
    assert check_site.fastest_load([nav(0, 3400.0), None, nav(0, 1200.0)]) == nav(0, 1200.0)
    assert check_site.fastest_load([None, nav(0, 0.0)]) is None


def test_a_notebook_is_a_source_whose_front_matter_names_a_kernel(tmp_path):
    assert check_site.is_notebook_source(write(tmp_path, "nb.md", HEADER + "# Title\n"))
    assert not check_site.is_notebook_source(write(tmp_path, "plain.md", "# References\n\nkernelspec: in prose\n"))
    assert check_site.is_notebook_source(write(tmp_path, "nb.ipynb", "{}"))
    assert check_site.source_file(tmp_path, "nb") == tmp_path / "nb.md"
    assert check_site.source_file(tmp_path, "absent") is None


NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def downloads_site(site: Path, ipynb: str | None = NOTEBOOK) -> list[str]:
    if ipynb is not None:
        write(site, "_sources/book/a/one.ipynb", ipynb)
    return ["../../_sources/book/a/one.ipynb", "../../_sources/book/a/one.md"]


def test_downloads_of_a_notebook_page_pass_when_both_files_exist(site, tmp_path):
    hrefs = downloads_site(site)
    source = write(tmp_path, "book/a/one.md", HEADER)
    assert check_site.download_problems(linkcheck.SiteIndex(site), "book/a/one", hrefs, source, notebook=True) == []


def test_a_missing_or_broken_download_fails(site, tmp_path):
    index = linkcheck.SiteIndex(site)
    source = write(tmp_path, "book/a/one.md", HEADER)
    hrefs = downloads_site(site, ipynb=None)  # the menu links to an .ipynb that was never copied
    problems = check_site.download_problems(index, "book/a/one", hrefs, source, notebook=True)
    assert any("no file _sources/book/a/one.ipynb" in p for p in problems)
    problems = check_site.download_problems(index, "book/a/one", hrefs[1:], source, notebook=True)
    assert problems == ["the download menu offers no .ipynb (expected a link to _sources/book/a/one.ipynb)"]
    problems = check_site.download_problems(index, "book/a/one", [], source, notebook=False)
    assert problems == ["the download menu offers no .md (expected a link to _sources/book/a/one.md)"]
    hrefs = downloads_site(site, ipynb="<html>not a notebook</html>")
    problems = check_site.download_problems(index, "book/a/one", hrefs, source, notebook=True)
    assert problems == ["_sources/book/a/one.ipynb is not a Jupyter notebook"]


def test_a_plain_page_needs_only_its_source(site, tmp_path):
    source = write(tmp_path, "book/a/one.md", "# plain\n")
    problems = check_site.download_problems(linkcheck.SiteIndex(site), "book/a/one", ["../../_sources/book/a/one.md"],
                                            source, notebook=False)
    assert problems == []


def test_the_books_config_gives_every_notebook_a_jupyterlab_binder_button():
    settings = check_site.launch_settings(yaml.safe_load((ROOT / "_config.yml").read_text()))
    assert settings["binderhub_url"] == "https://mybinder.org"
    assert settings["interface"] == "jupyterlab"
    assert settings["repository_url"].startswith("https://github.com/")
    assert settings["branch"] == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["branch"]


def test_theme_options_in_sphinx_config_replace_the_launch_buttons_jupyter_book_derives():
    config = {"launch_buttons": {"binderhub_url": "https://mybinder.org"},
              "repository": {"url": "https://github.com/o/r"}}
    assert check_site.launch_settings(config)["binderhub_url"] == "https://mybinder.org"
    config["sphinx"] = {"config": {"html_theme_options": {"use_download_button": True}}}
    assert check_site.launch_settings(config)["binderhub_url"] == ""  # the button silently vanishes
    assert check_site.binder_problems([], Path("x.md"), Path("."), check_site.launch_settings(config)) == [
        "_config.yml configures no binderhub_url, so there is no launch button"]
    config["sphinx"]["recursive_update"] = True
    assert check_site.launch_settings(config)["binderhub_url"] == "https://mybinder.org"


SETTINGS = {"binderhub_url": "https://mybinder.org", "interface": "jupyterlab",
            "repository_url": "https://github.com/mlbook/mlbook", "branch": "main", "path_to_docs": ""}


def test_a_binder_link_to_this_pages_source_passes(tmp_path):
    source = write(tmp_path, "book/a/one.md", HEADER)
    url = "https://mybinder.org/v2/gh/mlbook/mlbook/main?urlpath=lab/tree/book/a/one.md"
    assert check_site.binder_problems([url], source, tmp_path, SETTINGS) == []
    docs = {**SETTINGS, "path_to_docs": "docs/"}
    url = "https://mybinder.org/v2/gh/mlbook/mlbook/main?urlpath=lab/tree/docs/book/a/one.md"
    assert check_site.binder_problems([url], source, tmp_path, docs) == []


@pytest.mark.parametrize("url, words", [
    ("https://mybinder.org/v2/gh/mlbook/mlbook/master?urlpath=lab/tree/book/a/one.md", "at branch 'main'"),
    ("https://mybinder.org/v2/gh/someone/else/main?urlpath=lab/tree/book/a/one.md", "does not build mlbook/mlbook"),
    ("https://mybinder.org/v2/gh/mlbook/mlbook/main?urlpath=tree/book/a/one.md", "does not open jupyterlab"),
    ("https://mybinder.org/v2/gh/mlbook/mlbook/main?urlpath=lab/tree/book/a/two.md", "not this page's source"),
    ("https://mybinder.org/v2/gh/mlbook/mlbook/main?urlpath=lab/tree/one.md", "not this page's source"),
    ("https://colab.research.google.com/github/mlbook/mlbook/blob/main/book/a/one.md", "no launch button to"),
])
def test_a_wrong_binder_link_fails(tmp_path, url, words):
    source = write(tmp_path, "book/a/one.md", HEADER)
    problems = check_site.binder_problems([url], source, tmp_path, SETTINGS)
    assert problems and words in problems[0]


def test_live_page_links_are_checked_against_the_site(site):
    index = linkcheck.SiteIndex(site)
    base = "http://127.0.0.1:8123"
    good = ["two.html#setup", f"{base}/book/b/three.html#the%20end", "https://example.org", "#one", "#one", "#live"]
    assert check_site.internal_link_problems(index, "book/a/one", good, base, live_ids=["one", "live"]) == []
    bad = ["two.html#gone", f"{base}/book/nope.html"]
    problems = check_site.internal_link_problems(index, "book/a/one", bad, base, live_ids=["one"])
    assert len(problems) == 2 and all(p.startswith("broken link") for p in problems)
