"""The book's own machinery: the table of contents matches the chapters, and nbval really executes them."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests._book_helpers import HEADER

ROOT = Path(__file__).resolve().parents[1]


def toc_entries() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]
    for part in toc.get("parts", []):
        entries += [chapter["file"] for chapter in part.get("chapters", [])]
    return entries


def chapter_files() -> list[Path]:
    return sorted(p for p in (ROOT / "book").rglob("*.md") if "_build" not in p.parts)


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    entries = set(toc_entries())
    on_disk = {p.relative_to(ROOT).with_suffix("").as_posix() for p in chapter_files()}
    assert on_disk - entries == set(), "chapters missing from _toc.yml"
    assert entries - on_disk == set(), "_toc.yml names files that do not exist"


@pytest.mark.parametrize("chapter", [p.relative_to(ROOT).as_posix() for p in chapter_files()])
def test_every_notebook_chapter_is_myst_and_has_code(chapter):
    text = (ROOT / chapter).read_text(encoding="utf-8")
    if "jupytext:" not in text[:1000]:
        return  # a plain markdown page (references), not a notebook
    assert "format_name: myst" in text[:1000]
    assert "```{code-cell} ipython3" in text
    # A ```python fence is a static listing that is never run: fine for showing code, wrong for a claim.
    for listing in re.findall(r"```python\n(.*?)```", text, re.S):
        assert "assert " not in listing, f"{chapter}: an assert inside a ```python listing is never executed"


CHAPTERS = {
    "passing.md": """
        # A chapter whose claims hold

        ```{code-cell} ipython3
        x = 21
        print("output is not compared with anything")
        ```

        ```{code-cell} ipython3
        assert 2 * x == 42
        ```
        """,
    "failing.md": """
        # A chapter whose claim is wrong

        ```{code-cell} ipython3
        assert 1 + 1 == 3, "the text's claim no longer holds"
        ```
        """,
    "raises.md": """
        # A chapter that shows an error on purpose

        ```{code-cell} ipython3
        :tags: [raises-exception]

        {}["missing"]
        ```
        """,
}


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """``pytest --nbval -v`` with the project's conftest on three small chapters, in one session."""
    folder = tmp_path_factory.mktemp("chapters")
    (folder / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    for name, body in CHAPTERS.items():
        (folder / name).write_text(HEADER + textwrap.dedent(body))
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-v", "-p", "no:cacheprovider", *CHAPTERS],
                          cwd=folder, capture_output=True, text=True, timeout=300)


def cell_outcome(run: subprocess.CompletedProcess, chapter: str, cell: int) -> str:
    match = re.search(rf"^{chapter}\S*::Cell {cell} (PASSED|FAILED|SKIPPED|ERROR)", run.stdout, re.M)
    assert match, f"{chapter} cell {cell} was not run:\n{run.stdout}{run.stderr}"
    return match.group(1)


def test_nbval_collects_and_executes_markdown_chapters(nbval_run):
    assert cell_outcome(nbval_run, "passing", 0) == "PASSED"
    assert cell_outcome(nbval_run, "passing", 1) == "PASSED"


def test_a_failing_cell_fails_the_run(nbval_run):
    assert cell_outcome(nbval_run, "failing", 0) == "FAILED"
    assert "the text's claim no longer holds" in nbval_run.stdout
    assert nbval_run.returncode == 1


def test_a_cell_tagged_raises_exception_may_raise(nbval_run):
    assert cell_outcome(nbval_run, "raises", 0) == "PASSED"
