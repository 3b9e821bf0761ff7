"""Answers made only of exact, checked quotes from the letters.

Nothing here writes prose about the letters' content: an answer is a short frame
("3 of 5 letters ...") around sentences copied from the letters, each numbered and cited.
Every quote is checked against its letter's text before the answer leaves this module.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import asdict, dataclass, field

from .chunking import clean
from .metadata import evidence_bounds

log = logging.getLogger(__name__)

NOTHING = "The letters say nothing about this."
#: How the closest passages offered with an abstention are headed, wherever they are shown.
NOT_CLEARLY = "Closest passages, not clearly about this"


@dataclass(frozen=True)
class Citation:
    """One quoted sentence and where it stands."""

    n: int
    letter: str
    authority: str | None
    date: str | None
    kind: str | None
    section: str | None
    page: int | None
    quote: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An answer: markdown with [n] markers, the authorities it rests on, and its citations."""

    question: str
    found: bool
    answer: str
    authorities: list[str]
    checked: dict
    citations: list[Citation]
    query: dict = field(default_factory=dict, compare=False)
    #: with an abstention: the closest passages, not clearly about the question (not citations)
    nearby: list[Citation] = field(default_factory=list, compare=False)

    def to_dict(self) -> dict:
        """The JSON contract: exactly these keys."""
        return {
            "question": self.question, "found": self.found, "answer": self.answer,
            "authorities": list(self.authorities), "checked": dict(self.checked),
            "citations": [c.to_dict() for c in self.citations],
        }

    def to_markdown(self) -> str:
        """The answer (each quote once, in it) and the source each [n] stands for."""
        lines = [f"# {escape_md(self.question)}", "", self.answer, ""]
        if self.citations:
            lines += ["## Sources", ""]
            for c in self.citations:
                lines.append(f"[{c.n}] {escape_md(source_name(c))}" + (f", section “{escape_md(c.section)}”"
                                                                        if c.section else "") + f", {c.letter}  ")
        if self.nearby:
            lines += [f"## {NOT_CLEARLY}", ""]
            for c in self.nearby:
                lines.append(f"- “{escape_md(c.quote)}” — {escape_md(source_name(c))}")
        return "\n".join(lines).rstrip() + "\n"

    def to_csv(self) -> str:
        """One row per citation: authority, letter, kind, date, page, quote (and n, section)."""
        import csv
        import io

        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["n", "authority", "letter", "kind", "date", "page", "section", "quote"])
        for c in self.citations:
            w.writerow([c.n, c.authority or "", c.letter, c.kind or "", c.date or "", c.page or "",
                        c.section or "", c.quote])
        return out.getvalue()


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+|~!$])")


def escape_md(text: str) -> str:
    """Letter text shown in Markdown stays text: no emphasis, links, HTML or headings."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def unescape_md(markdown: str) -> str:
    """The answer as plain text (for a terminal), undoing ``escape_md``."""
    plain = re.sub(r"\\(.)", r"\1", markdown)
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def human_date(iso: str | None, month: str = "%B") -> str | None:
    """"2019-01-21" -> "21 January 2019" (``month="%b"``: "21 Jan 2019")."""
    if not iso:
        return None
    d = dt.date.fromisoformat(iso)
    return f"{d.day} {d:{month} %Y}"


def short_date(iso: str | None) -> str | None:
    """"2019-01-21" -> "21 Jan 2019"."""
    return human_date(iso, "%b")


def letter_name(meta: dict) -> str:
    """A letter as a person names it: "Dudley · focused visit · 21 Jan 2019"."""
    return " · ".join(b for b in (meta.get("authority") or "authority unknown", meta.get("kind"),
                                  short_date(meta.get("date"))) if b)


def source_name(c: Citation) -> str:
    """Where a quote stands, by name: "Dudley · focused visit · 21 Jan 2019 · p. 3"."""
    name = letter_name({"authority": c.authority, "kind": c.kind, "date": c.date})
    return name + (f" · p. {c.page}" if c.page else "")


def abstention(topic: str, authorities, letters: list[dict], checked: dict) -> str:
    """"The letters say nothing clearly about “X” for Wirral. Checked 1 letter: Wirral · ..."."""
    about = f"“{escape_md(topic)}”" if topic else "this"
    scope = f" for {escape_md(', '.join(authorities))}" if authorities else ""
    if 0 < len(letters) <= 3:
        named = "; ".join(escape_md(letter_name(m)) for m in letters)
        checked_text = f"Checked {len(letters)} letter{'s' * (len(letters) != 1)}: {named}."
    else:
        checked_text = checked_line(checked["letters"], checked["authorities"], checked.get("undated"))
    return f"The letters say nothing clearly about {about}{scope}. {checked_text}"


def source_line(c: Citation) -> str:
    bits = [c.authority or "authority unknown", c.kind, human_date(c.date),
            c.section and f"section “{c.section}”", c.page and f"page {c.page}", c.letter]
    return ", ".join(b for b in bits if b)


def verify(citations: list[Citation], texts: dict[str, str]) -> list[Citation]:
    """Keep only citations whose quote is exactly the letter's text at its span (whitespace aside).

    A quote that fails is dropped and logged, never shown. Survivors are renumbered 1..n.
    """
    good = []
    cleaned: dict[str, str] = {}
    bounds: dict[str, tuple[int, int]] = {}
    for c in citations:
        text = texts.get(c.letter)
        ok = (
            text is not None and 0 <= c.start < c.end <= len(text)
            and clean(text[c.start:c.end]) == clean(c.quote)
        )
        if ok:
            if c.letter not in cleaned:
                cleaned[c.letter] = clean(text)
                bounds[c.letter] = evidence_bounds(text)
            lo, hi = bounds[c.letter]
            ok = clean(c.quote) in cleaned[c.letter] and lo <= c.start and c.end <= hi
        if ok:
            good.append(c)
        else:
            log.warning("dropped a quote that does not match its letter %s at %d-%d: %r",
                        c.letter, c.start, c.end, c.quote[:80])
    return good


def renumber(citations: list[Citation]) -> tuple[list[Citation], dict[int, int]]:
    mapping, out = {}, []
    for i, c in enumerate(citations, 1):
        mapping[c.n] = i
        out.append(Citation(**{**c.to_dict(), "n": i}))
    return out, mapping


def checked_line(letters: int, authorities: int, undated: int | None = None) -> str:
    """"Checked 5 letters from 4 authorities." (with how many were undated, under a date filter)."""
    extra = f", {undated} of them undated" if undated else ""
    return (f"Checked {letters} letter{'s' * (letters != 1)} from {authorities} "
            f"authorit{'ies' if authorities != 1 else 'y'}{extra}.")


def compose_grouped(groups: list[tuple[str, list[Citation]]], letters_with: int, checked: dict) -> str:
    """A "which authorities" answer: a summary line, then quotes grouped by authority."""
    n_auth = len(groups)
    head = (f"**{n_auth} authorit{'ies' if n_auth != 1 else 'y'}** "
            f"({', '.join(escape_md(a) for a, _ in groups)}) — evidence in {letters_with} of "
            f"{checked['letters']} letters. {checked_line(checked['letters'], checked['authorities'], checked.get('undated'))}")
    parts = [head, ""]
    for authority, cites in groups:
        parts.append(f"**{escape_md(authority)}**")
        for c in cites:
            when = " · ".join(b for b in (c.kind, short_date(c.date), c.page and f"p. {c.page}") if b)
            parts.append(f"- “{escape_md(c.quote)}” [{c.n}]" + (f" — {escape_md(when)}" if when else ""))
        parts.append("")
    return "\n".join(parts).rstrip()


def compose_quotes(citations: list[Citation], checked: dict) -> str:
    """A focused answer: the best quote first, then the other supporting quotes."""
    best, rest = citations[0], citations[1:]
    parts = [f"“{escape_md(best.quote)}” [{best.n}]", "", f"— {escape_md(source_name(best))}"]
    if rest:
        parts += ["", "Also in the letters:"]
        for c in rest:
            parts.append(f"- “{escape_md(c.quote)}” [{c.n}] — {escape_md(source_name(c))}")
    parts += ["", f"_{checked_line(checked['letters'], checked['authorities'], checked.get('undated'))}_"]
    return "\n".join(parts)
