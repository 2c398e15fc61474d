"""The interview question bank, ``book/appendices/interview-questions.md``.

Three promises are checked. Every interview question of the source notes is in the bank: the list
``tests/data/seed_interview_questions.txt`` names each one with an id (``000#4`` is the fourth question
of seed file ``000_*.txt``), and each id tags exactly one dropdown (``% seed: 000#4``, a MyST comment).
Every answer is an answer, ending with a "Demonstrated in:" line of ``{ref}`` links. And every link
resolves to a label that exists somewhere under ``book/``. When the seed notes are present
(``../shared/seeds`` beside the repository), the list itself is re-extracted from them, so a question
added to the notes cannot go missing from the bank.

Each check is a function that returns the problems it found; the tests assert the list is empty, and
the last tests feed those functions a damaged bank to show that each one can fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "book" / "appendices" / "interview-questions.md"
SEED_LIST = ROOT / "tests" / "data" / "seed_interview_questions.txt"
SEEDS = ROOT.parent / "shared" / "seeds"

LEVELS = ("Foundations", "Practitioner", "Senior and systems")
# The notes' own levels, where they give one, decide the bank's section.
LEVEL_OF_NOTES = {"mid": "Practitioner", "senior": "Senior and systems", "principal": "Senior and systems"}
STOPWORDS = set("""a an and are as at be by do does for from how in is it its of on or the this to
    we what when where which who why will with would you your using use vs""".split())


@dataclass
class Question:
    title: str
    level: str | None
    topic: str | None
    seed: str | None
    body: str
    refs: list[str]


@dataclass
class SeedQuestion:
    id: str
    level: str
    text: str


def parse_bank(text: str) -> list[Question]:
    """Every ``:::{dropdown}`` of the bank, with the level (``##``) and topic (``###``) it sits under."""
    questions, level, topic = [], None, None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            level, topic = line[3:].strip(), None
        elif line.startswith("### "):
            topic = line[4:].strip()
        elif line.startswith(":::{dropdown}"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j] == ":::"), None)
            if end is None:
                raise ValueError(f"line {i + 1}: dropdown {line!r} is never closed")
            body = lines[i + 1:end]
            seeds = [m.group(1) for b in body if (m := re.fullmatch(r"% seed: (\d{3}#\d+)", b.strip()))]
            body_text = "\n".join(b for b in body if not b.startswith("% seed:"))
            questions.append(Question(title=line[len(":::{dropdown}"):].strip(), level=level, topic=topic,
                                      seed=seeds[0] if len(seeds) == 1 else None, body=body_text,
                                      refs=re.findall(r"\{ref\}`[^`<]*<([^>`]+)>`|\{ref\}`([^`<]+)`", body_text)))
            questions[-1].refs = [a or b for a, b in questions[-1].refs]
            i = end
        i += 1
    return questions


def read_seed_list(path: Path = SEED_LIST) -> list[SeedQuestion]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            seed_id, level, text = (part.strip() for part in line.split(" | ", 2))
            entries.append(SeedQuestion(seed_id, level, text))
    return entries


def extract_seed_questions(text: str) -> list[tuple[str, str]]:
    """(level, wording) of every interview question in one seed file, in order of appearance.

    The rules, one per format the notes use: the front matter's ``questions:`` lists; ``**Q**:`` lines
    under Mid-/Senior-/Principal-Level headings; ``Interview question:`` / ``Interview check:`` tips and
    ``Be ready to discuss`` lines; quoted lines after ``**Socratic Questions:**``; ``### Task N:``
    headings under "Common Interview Coding Tasks"; a quiz's ``**Constraint**:``.
    """
    found: list[tuple[str, str]] = []
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        end = lines.index("---", 1)
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
        for level, listed in (meta.get("questions") or {}).items():
            found += [(level, q) for q in listed]
        lines = lines[end + 1:]
    level, in_tasks = "-", False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("#"):
            m = re.match(r"#+\s*(Mid|Senior|Principal)-Level", s)
            level = m.group(1).lower() if m else ("-" if s.startswith("## ") else level)
            if s.startswith("## "):
                in_tasks = "Interview Coding Tasks" in s
        patterns = [
            (r"\*\s+\*\*Q\*\*:\s*(.+)", level),
            (r".*Interview (?:question|check)\**:\s*“(.+)”", "-"),
            (r"- (Be ready to discuss .+)", "-"),
            (r"\*\*Constraint\*\*:\s*(.+)", "-"),
        ]
        for pattern, lv in patterns:
            if m := re.fullmatch(pattern, s):
                found.append((lv, m.group(1)))
        socratic = any(prev.strip() == "**Socratic Questions:**" for prev in lines[max(0, i - 5):i])
        if socratic and (m := re.fullmatch(r'-\s+"(.+)"', s)):
            found.append(("-", m.group(1)))
        if in_tasks and (m := re.fullmatch(r"###\s+(Task \d+:.+)", s)):
            found.append(("-", m.group(1)))
    return found


def labels_in_book(book: Path = ROOT / "book") -> set[str]:
    """MyST targets ``(label)=`` and the ``:label:``/``:name:`` options of directives (exercises, figures)."""
    labels: set[str] = set()
    for path in book.rglob("*.md"):
        if "_build" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        labels |= set(re.findall(r"^\(([\w.:-]+)\)=\s*$", text, re.M))
        labels |= set(re.findall(r"^:(?:label|name):\s*(\S+)\s*$", text, re.M))
    return labels


def heading_anchor(heading: str) -> str:
    """The anchor MyST derives from a heading (``myst_heading_anchors``): GitHub's slug."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def words(text: str) -> set[str]:
    tokens = re.findall(r"[a-z0-9]+", text.lower().replace("’", "'"))
    return {t[:-1] if len(t) > 3 and t.endswith("s") else t for t in tokens
            if len(t) > 2 and t not in STOPWORDS}


# --- the checks: each returns a list of problems --------------------------------------------------

def coverage_problems(questions: list[Question], seeds: list[SeedQuestion]) -> list[str]:
    problems = []
    tagged = [q.seed for q in questions if q.seed]
    known = {s.id for s in seeds}
    for s in seeds:
        if tagged.count(s.id) != 1:
            problems.append(f"seed question {s.id} ({s.text!r}) is answered {tagged.count(s.id)} times")
    problems += [f"the bank tags {sid}, which is not a seed question" for sid in set(tagged) - known]
    problems += [f"{q.title!r} has no single `% seed:` tag" for q in questions if q.seed is None]
    by_id = {s.id: s for s in seeds}
    for q in questions:
        if q.seed in by_id:
            wanted = words(by_id[q.seed].text)
            shared = wanted & words(q.title)
            if len(shared) < 0.5 * len(wanted):
                problems.append(f"{q.seed}: the title {q.title!r} has drifted from the notes' wording "
                                f"{by_id[q.seed].text!r} (shares {sorted(shared)})")
        if q.seed in by_id and by_id[q.seed].level in LEVEL_OF_NOTES:
            if q.level != LEVEL_OF_NOTES[by_id[q.seed].level]:
                problems.append(f"{q.seed} is {by_id[q.seed].level}-level in the notes but sits under {q.level!r}")
    return problems


def answer_problems(questions: list[Question]) -> list[str]:
    problems = []
    for q in questions:
        if q.level not in LEVELS or not q.topic:
            problems.append(f"{q.title!r} is not under a level ({', '.join(LEVELS)}) and a topic")
        paragraphs = [p.strip() for p in q.body.strip().split("\n\n") if p.strip()]
        if not paragraphs or not paragraphs[-1].startswith("Demonstrated in:"):
            problems.append(f"{q.title!r} does not end with a 'Demonstrated in:' line")
            continue
        answer = " ".join(paragraphs[:-1])
        prose = re.sub(r"```.*?```", "", answer, flags=re.S)  # a code listing is not the answer's sentences
        if len(re.findall(r"[.?!:](?:\s|$)", prose)) < 2 or not 25 <= len(prose.split()) <= 200:
            problems.append(f"{q.title!r}: the answer should be 2-6 sentences ({len(prose.split())} words)")
        if not re.findall(r"\{ref\}`", paragraphs[-1]):
            problems.append(f"{q.title!r}: 'Demonstrated in:' has no {{ref}} link")
    return problems


def link_problems(questions: list[Question], bank_text: str, labels: set[str]) -> list[str]:
    problems = []
    for q in questions:
        for ref in q.refs:
            if ref not in labels:
                problems.append(f"{q.title!r} links to {ref!r}, which no page under book/ defines")
        # A label placed before a paragraph has no title of its own, so every link carries its text.
        if re.search(r"\{ref\}`[^`<]+`", q.body):
            problems.append(f"{q.title!r}: use the explicit-text form {{ref}}`text <label>`")
    for target, anchor in re.findall(r"\]\((\.\./[^)#]+\.md)#([^)]+)\)", bank_text):
        page = (BANK.parent / target).resolve()
        headings = re.findall(r"^#{1,6}\s+(.+)$", page.read_text(encoding="utf-8"), re.M) if page.exists() else []
        if anchor not in {heading_anchor(h) for h in headings}:
            problems.append(f"the link to {target}#{anchor} has no such page or heading")
    return problems


# --- the tests ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bank_text() -> str:
    return BANK.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def questions(bank_text) -> list[Question]:
    return parse_bank(bank_text)


def test_the_seed_list_is_well_formed():
    seeds = read_seed_list()
    ids = [s.id for s in seeds]
    assert len(ids) == len(set(ids)) == 64
    assert all(re.fullmatch(r"\d{3}#\d+", i) for i in ids)
    assert {s.level for s in seeds} <= {"-", *LEVEL_OF_NOTES}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed notes are not beside this checkout")
def test_the_seed_list_is_every_interview_question_in_the_notes():
    extracted = [SeedQuestion(f"{path.name[:3]}#{n}", level, text)
                 for path in sorted(SEEDS.glob("*.txt"))
                 for n, (level, text) in enumerate(extract_seed_questions(path.read_text(encoding="utf-8")), 1)]
    assert extracted == read_seed_list()


def test_every_seed_question_is_in_the_bank_once(questions):
    assert coverage_problems(questions, read_seed_list()) == []


def test_every_question_has_an_answer_and_a_link(questions):
    assert len(questions) == 64
    assert answer_problems(questions) == []


def test_every_link_resolves(questions, bank_text):
    assert link_problems(questions, bank_text, labels_in_book()) == []


def test_the_bank_is_a_chapter_with_its_label(bank_text):
    assert "\n(ch-interview-questions)=\n# Interview question bank\n" in bank_text
    assert "```{code-cell} ipython3" in bank_text  # the figure counts the questions from this file


# --- the checks can fail --------------------------------------------------------------------------

def drop_question(text: str, seed_id: str) -> str:
    """The bank with the dropdown tagged ``seed_id`` removed."""
    pattern = rf":::\{{dropdown\}}[^\n]*\n% seed: {re.escape(seed_id)}\n.*?\n:::\n"
    damaged, count = re.subn(pattern, "", text, flags=re.S)
    assert count == 1, f"{seed_id} not found once"
    return damaged


def test_removing_a_question_fails_the_coverage_check(bank_text):
    seeds = read_seed_list()
    damaged = parse_bank(drop_question(bank_text, "004#24"))
    assert len(damaged) == 63
    assert coverage_problems(damaged, seeds) == [
        "seed question 004#24 ('What happens if batch size is 1? Why is this a problem?') is answered 0 times"]


def test_a_retagged_or_reworded_question_fails_the_coverage_check(bank_text):
    seeds = read_seed_list()
    retagged = parse_bank(bank_text.replace("% seed: 000#7\n", "% seed: 000#8\n"))
    problems = coverage_problems(retagged, seeds)
    assert any("000#7" in p and "0 times" in p for p in problems)
    assert any("000#8" in p and "2 times" in p for p in problems)
    assert any("drifted" in p for p in problems)  # the shape question's title does not match 000#8


def test_a_misplaced_level_fails_the_coverage_check(bank_text):
    moved = bank_text.replace("## Senior and systems\n", "## Practitioner (continued)\n")
    problems = coverage_problems(parse_bank(moved), read_seed_list())
    assert any("000#2 is senior-level" in p for p in problems)


def test_a_missing_answer_or_link_fails_the_answer_check():
    bank = """## Foundations\n\n### Topic\n\n:::{dropdown} An unanswered question?\n% seed: 000#1\n:::\n
:::{dropdown} An answered question without a link?
% seed: 000#2
It has an answer. The answer has two sentences and enough words to count as one, which is the point of
this example, so that only the missing link is reported.

Demonstrated in: the chapter, somewhere.
:::
"""
    problems = answer_problems(parse_bank(bank))
    assert problems == ["'An unanswered question?' does not end with a 'Demonstrated in:' line",
                        "'An answered question without a link?': 'Demonstrated in:' has no {ref} link"]


def test_a_dangling_label_fails_the_link_check(questions, bank_text):
    labels = labels_in_book() - {"iq-shape-quiz"}
    problems = link_problems(questions, bank_text, labels)
    assert problems and all("iq-shape-quiz" in p for p in problems)
    broken = bank_text.replace("../tensors/arrays.md#interview-questions", "../tensors/arrays.md#no-such-heading")
    assert link_problems(questions, broken, labels_in_book()) == [
        "the link to ../tensors/arrays.md#no-such-heading has no such page or heading"]
