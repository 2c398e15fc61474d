"""Small Sphinx fixes for the book's build.

sphinx-thebe adds its inline configuration script once per ``env-before-read-docs`` event, which
Jupyter Book fires more than once in a build. The page then declares ``const THEBE_JS_URL`` twice and the
browser logs a SyntaxError on every page. Dropping repeated scripts from each page's context fixes it
without touching the installed packages.
"""

from __future__ import annotations


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        # Sphinx 7.4's _JavaScript carries filename, priority and attributes (an inline script's body is
        # one of them); the same script added twice may differ in priority, and in a filename of None or ''.
        key = (getattr(script, "filename", str(script)) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    # In place: the list is the builder's own, to which handlers running after this one (MathJax's) still add.
    context.get("script_files", [])[:] = unique


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts, priority=100)  # early: html-page-context stops at the first handler that returns a value
    return {"parallel_read_safe": True, "parallel_write_safe": True}
