"""Hand the book's Jupytext chapters to nbval, so that ``pytest --nbval book/`` executes every chapter.

nbval collects only ``.ipynb`` files. The chapters are MyST markdown (``book/**/*.md`` with a Jupytext
header), so this hook reads each one with jupytext and gives the notebook to nbval's own collector,
``nbval.plugin.IPyNbFile``. Its ``collect`` reads ``self.fspath`` with nbformat, which is the one
method replaced here; that is an nbval internal, so ``nbval`` is pinned in ``pyproject.toml``.

A chapter in markdown carries no stored outputs, so there is nothing for nbval to compare a cell's
output against: outputs are not compared (as with ``--nbval-lax``; a cell can still opt in with a
``# NBVAL_CHECK_OUTPUT`` comment). A chapter proves its claims with ``assert`` in its cells instead,
and every cell must run without error.
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbval.plugin
import pytest
from hypothesis import settings
from nbval.plugin import IPyNbFile

collect_ignore_glob = ["_build/*", ".venv/*", "node_modules/*"]

# In CI, Hypothesis draws the same examples on every run, so a red build is reproducible and never a
# coin toss; run locally without CI set to keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _is_jupytext_chapter(path: Path) -> bool:
    if path.suffix != ".md" or "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
        return False
    with path.open(encoding="utf-8") as handle:
        head = handle.read(2000)
    return head.startswith("---") and "jupytext:" in head


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    options = parent.config.option
    if not (getattr(options, "nbval", False) or getattr(options, "nbval_lax", False)):
        return None
    if not _is_jupytext_chapter(file_path):
        return None
    return JupytextNotebook.from_parent(parent, path=file_path)


class JupytextNotebook(IPyNbFile):
    """nbval's notebook collector, reading a Jupytext MyST chapter instead of an ``.ipynb``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compare_outputs = False  # markdown chapters store no outputs to compare with

    def collect(self):
        # IPyNbFile.collect begins with nbformat.read(self.fspath). jupytext.read returns the same kind of
        # NotebookNode (cells with their tags, the kernelspec), so nbval's own loop over cells is reused.
        original_read = nbval.plugin.nbformat.read
        nbval.plugin.nbformat.read = lambda path, as_version=4: jupytext.read(str(path), as_version=as_version)
        try:
            return list(super().collect())
        finally:
            nbval.plugin.nbformat.read = original_read
