"""One authority's letters over time: each letter's facts, the items it says need to improve,
and whether the next letter says each improved, every finding a checked quote.

The "what needs to improve" items are read from each letter's own layout: the sections whose
heading asks what needs to improve (``IMPROVE_HEADINGS`` in ``timeline.json``), one item per
paragraph or bullet there (the text keeps a blank line between the blocks the PDF reader or
the text reader found). Whether a later letter says an item improved is the engine's sentence
scoring with the item as the question, restricted to that letter, and each sentence's stance
as the evidence judge reads it; ``judge_followup`` is the one place that decides.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import evidence, facts
from .answer import Citation, escape_md, letter_name, short_date, source_name, verify
from .chunking import clean
from .errors import AssistantError
from .retrieval import Scored, Snapshot, letter_date
from .scoring import stance_signs

_DATA = json.loads(Path(__file__).with_name("timeline.json").read_text(encoding="utf-8"))
#: Headings that ask what a letter says needs to improve (see timeline.json and docs/timeline.md).
IMPROVE_HEADINGS = re.compile("|".join(_DATA["improve_headings"]), re.IGNORECASE)

IMPROVED, NOT_YET, NOT_FOLLOWED = "improved", "not yet", "not followed up"
#: Passages of a later letter whose sentences are read for one item (its best few).
FOLLOW_PASSAGES = 6
#: A later sentence counts as being about an item when it reaches the evidence threshold and
#: this share of the best sentence found for it in that letter.
FOLLOW_SHARE = 0.85
#: Quotes shown for an item's later status, and per letter for a theme.
FOLLOW_QUOTES = 2
THEME_QUOTES = 3
#: Grades as heights on the grade chart (best at the top).
GRADE_RANK = {"outstanding": 4, "good": 3, "requires improvement": 2, "inadequate": 1}

_PARAGRAPH_GAP = re.compile(r"\n[ \t\f]*\n")
#: A list mark before an item's text: "9. ", "(ii) ", "- ", "• ".
_LIST_MARK = re.compile(r"\s*(?:\(?(?:\d{1,3}|[a-z]|[ivx]{1,5})[.)]|[-•▪◦·*])\s+")
#: A short line with no full stop that leads a numbered item ("Care leavers" above "9. ...").
_LEADING_LABEL = re.compile(r"[^\n.!?]{1,80}\n(?=\s*\(?\d{1,3}[.)]\s)")


class UnknownAuthorityError(AssistantError):
    """No indexed letter is about the authority asked for; the message names close matches."""


@dataclass(frozen=True)
class Item:
    """One thing a letter says needs to improve, where it prints it, and what a later letter says."""

    text: str
    source: Citation
    later: str = NOT_FOLLOWED
    citations: tuple[Citation, ...] = ()

    def to_dict(self) -> dict:
        return {"item": self.text, "later": self.later, "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class Entry:
    """One letter of the timeline."""

    letter: str
    kind: str | None
    date: str | None
    visit_dates: tuple[str, ...] | None
    judgements: dict
    improve: tuple[Item, ...] = ()
    evidence: tuple[Citation, ...] = ()  # on the theme, when one was given

    @property
    def when(self) -> str | None:
        """The date the timeline orders by: the letter's date, else its visit's first day."""
        return letter_date({"date": self.date, "visit_dates": self.visit_dates})

    def name(self, authority: str) -> str:
        return letter_name({"authority": authority, "kind": self.kind, "date": self.when})


@dataclass(frozen=True)
class Timeline:
    """An authority's letters in date order (undated letters last)."""

    authority: str
    letters: tuple[Entry, ...]
    theme: str | None = None

    def to_dict(self) -> dict:
        """The JSON contract; "theme" and each letter's "evidence" only when a theme was given."""
        out = {"authority": self.authority, "letters": []}
        if self.theme:
            out["theme"] = self.theme
        for e in self.letters:
            d = {"letter": e.letter, "kind": e.kind, "date": e.date,
                 "visit_dates": list(e.visit_dates) if e.visit_dates else None,
                 "judgements": dict(e.judgements), "improve": [i.to_dict() for i in e.improve]}
            if self.theme:
                d["evidence"] = [c.to_dict() for c in e.evidence]
            out["letters"].append(d)
        return out

    def citations(self) -> list[Citation]:
        """Every citation in reading order: each letter's theme evidence, then each item's own
        place and the later quotes about it (numbered 1..n in this order)."""
        out = []
        for e in self.letters:
            out += e.evidence
            for i in e.improve:
                out += [i.source, *i.citations]
        return out

    def to_markdown(self, heading: bool = True) -> str:
        """Each letter a short block: facts, grades, theme quotes, items with their later status."""
        lines = [f"# {escape_md(self.authority)}: inspection history", ""] if heading else []
        if self.theme:
            lines += [f"Theme: “{escape_md(self.theme)}”", ""]
        if not self.letters:
            lines.append("No letters.")
        names = {e.letter: e.name(self.authority) for e in self.letters}
        for e in self.letters:
            facts_line = [visit_text(e.visit_dates)] if e.visit_dates else []
            facts_line += [f"{facts.AREA_LABELS.get(a, a)}: {g}" for a, g in e.judgements.items()]
            if not e.when:
                facts_line.append("undated")
            lines.append(f"**{escape_md(names[e.letter])}**" + ("  " if facts_line else ""))
            if facts_line:
                lines.append(escape_md(" · ".join(facts_line)))
            for c in e.evidence:
                lines.append(f"- “{escape_md(c.quote)}” [{c.n}]")
            if e.improve:
                lines.append("")
                lines.append("What needs to improve:")
                for i in e.improve:
                    last = " (no later letter yet)" if e is self.letters[-1] else ""
                    lines.append(f"- “{escape_md(i.text)}” [{i.source.n}] — **{i.later}**{last}")
                    for c in i.citations:
                        where = names.get(c.letter, source_name(c)) + (f" · p. {c.page}" if c.page else "")
                        lines.append(f"    - “{escape_md(c.quote)}” [{c.n}] — {escape_md(where)}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def to_csv(self) -> str:
        """One row per item (a letter with none has one row): the letter's facts, the item, its
        later status and the quotes that show it."""
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["authority", "letter", "kind", "date", "visit_dates", "judgements", "item", "later", "quotes",
                    "quoted_from"])
        for e in self.letters:
            base = [self.authority, e.letter, e.kind or "", e.date or "", " to ".join(e.visit_dates or ()),
                    "; ".join(f"{facts.AREA_LABELS.get(a, a)}: {g}" for a, g in e.judgements.items())]
            for i in e.improve or [None]:
                if i is None:
                    w.writerow(base + ["", "", "", ""])
                else:
                    w.writerow(base + [i.text, i.later, " | ".join(c.quote for c in i.citations),
                                       " | ".join(dict.fromkeys(c.letter for c in i.citations))])
        return out.getvalue()


def visit_text(visits) -> str:
    days = list(dict.fromkeys(visits or ()))
    return "visit " + " to ".join(short_date(d) for d in days) if days else ""


# ------------------------------------------------------------------ building
def build_timeline(assistant, authority: str, theme: str | None = None, since: str | None = None,
                   until: str | None = None) -> Timeline:
    """The timeline of ``authority`` from the assistant's current index (see ``Assistant.timeline``)."""
    from .engine import _closest, _join  # the engine's own suggestions for a mistyped name

    assistant.refresh()
    snap: Snapshot | None = assistant.snapshot
    covered = snap.authorities() if snap else []
    name = _authority_named(authority, assistant, covered)
    if name is None:
        hint = _closest(str(authority), covered)
        raise UnknownAuthorityError(f"no letters about {authority!r}" + (f"; did you mean {hint}?" if hint else "")
                                    + f" The letters cover {_join(covered)}.")
    mask = snap.letter_mask((name,), since, until, undated=True)
    order = sorted(np.flatnonzero(mask).tolist(),
                   key=lambda i: (letter_date(snap.letters[i]["meta"]) is None,
                                  letter_date(snap.letters[i]["meta"]) or "", snap.letters[i]["path"]))
    items = {i: improve_items(snap, i) for i in order}
    # each item is the question put to the later letters (the latest letter's items have none)
    asked = [t for k, i in enumerate(order[:-1]) for t, _ in items[i]]
    vectors = iter(assistant.embedder.embed(asked) if asked else [])
    entries = []
    for k, letter in enumerate(order):
        later = order[k + 1:]
        found = []
        for text, cite in items[letter]:
            status, quotes = follow_up(assistant, snap, text, next(vectors), later) if later else (NOT_FOLLOWED, [])
            found.append(Item(text, cite, status, tuple(quotes)))
        meta = snap.letters[letter]["meta"]
        entries.append(Entry(snap.letters[letter]["path"], meta.get("kind"), meta.get("date"),
                             tuple(meta["visit_dates"]) if meta.get("visit_dates") else None,
                             dict(meta.get("judgements") or {}), tuple(found)))
    if theme:
        qvec, keyword = assistant.embedder.embed([theme])[0], snap.keyword.scores(evidence.search_terms(theme))
        entries = [replace(e, evidence=tuple(theme_evidence(assistant, snap, theme, qvec, keyword, letter)))
                   for e, letter in zip(entries, order)]
    return _numbered(Timeline(name, tuple(entries), theme or None))


def _authority_named(authority, assistant, covered: list[str]) -> str | None:
    if not isinstance(authority, str) or not authority.strip():
        return None
    lower = {a.lower(): a for a in covered}
    wanted = " ".join(authority.split()).lower()
    if wanted in lower:
        return lower[wanted]
    query = assistant.read(authority)  # "City of Wolverhampton council" -> Wolverhampton
    return query.authorities[0] if len(query.authorities) == 1 else None


def _numbered(t: Timeline) -> Timeline:
    """Number every citation 1..n in reading order (``Timeline.citations``)."""
    n = iter(range(1, 10 ** 9))

    def num(c: Citation) -> Citation:
        return replace(c, n=next(n))

    letters = []
    for e in t.letters:
        ev = tuple(num(c) for c in e.evidence)
        items = []
        for i in e.improve:
            src = num(i.source)
            items.append(replace(i, source=src, citations=tuple(num(c) for c in i.citations)))
        letters.append(replace(e, evidence=ev, improve=tuple(items)))
    return replace(t, letters=tuple(letters))


# ------------------------------------------------------------------ the items a letter lists
def improve_sections(snap: Snapshot, letter: int) -> list[int]:
    """The letter's passages (snapshot numbers) under a "what needs to improve" heading."""
    lo = int(snap.letter_first[letter])
    rec = snap.record(letter)
    return [lo + k for k, c in enumerate(rec.chunks) if c.section and IMPROVE_HEADINGS.search(c.section)]


def improve_items(snap: Snapshot, letter: int) -> list[tuple[str, Citation]]:
    """What the letter says needs to improve: (item text, where it is printed), in order.

    One item per paragraph or list item under an improve heading (blocks are separated by a
    blank line in the stored text; a text letter's "- " lines each start one). A short line
    with no full stop on its own (a sub-heading such as "Adoption") is no item; a list
    introduced by a colon ("... where: (i) ...; (ii) ...") stays one item with its parts.
    """
    rec = snap.record(letter)
    text = rec.text
    lo = int(snap.letter_first[letter])
    spans: list[list] = []  # [start, end, section] of each block, in order
    for p in improve_sections(snap, letter):
        chunk = rec.chunks[p - lo]
        for s, e in chunk.sentences:
            if (not spans or spans[-1][2] != chunk.section or _PARAGRAPH_GAP.search(text, spans[-1][1], s)
                    or _starts_list_line(text, spans[-1][1], s, e)):
                spans.append([s, e, chunk.section])
            else:
                spans[-1][1] = e
    items: list[list] = []
    ended = None  # a section whose list has ended (at a judgement line the PDF reader took for a paragraph)
    for s0, e, section in spans:
        s = _strip_marks(text, s0, e)
        piece = text[s:e].strip()
        if not piece or section == ended:
            continue
        if _prints_judgement(piece):
            ended = section
            continue
        marked = _LIST_MARK.match(text[s0:e].lstrip()) is not None
        if items and items[-1][2] == section and (
                (marked and not text[items[-1][0]:items[-1][1]].rstrip().endswith((".", "!", "?")))
                or (piece[:1].islower() and items[-1][3])):
            items[-1][1] = e  # a part of the list the previous item introduced ("... by:", "where (i)")
            continue
        if _is_label(piece):
            continue
        items.append([s, e, section, piece.endswith(":")])  # the last: it opens a list
    # a line that introduces a list of items of their own ("Implement the following:") is none
    items = [it for it in items if not text[it[0]:it[1]].rstrip().endswith(":")]
    out = []
    meta = snap.letters[letter]["meta"]
    for s, e, section, _ in items:
        s, e = _trim_label_tail(text, s, e)
        source = _source(snap, letter, rec, s, e, section, meta)
        if verify([source], {source.letter: text}):  # as every quote shown: exactly the letter's text
            out.append((source.quote, source))
    return out


def _starts_list_line(text: str, prev_end: int, s: int, e: int) -> bool:
    """True when the sentence at ``s`` starts a line with a list mark ("- ", "9. ", "(ii)")."""
    line = text.rfind("\n", prev_end, s)
    if line < 0:
        return False
    lead = text[line + 1:s]
    return bool(_LIST_MARK.fullmatch(lead) or (not lead.strip() and _LIST_MARK.match(text, s, e)))


def _strip_marks(text: str, s: int, e: int) -> int:
    """Where the item's own words start: past a leading label line and its list mark."""
    m = _LEADING_LABEL.match(text, s, e)
    if m:
        s = m.end()
    while s < e and text[s].isspace():
        s += 1
    m = _LIST_MARK.match(text, s, e)
    return m.end() if m else s


def _is_label(piece: str) -> bool:
    """A sub-heading printed as a paragraph: short, one line's worth, capitalised, no closing
    punctuation ("Adoption"; a list item such as "ensure all children have a plan" is none)."""
    flat = clean(piece)
    return len(flat.split()) <= 12 and flat[:1].isupper() and not flat.endswith((".", "!", "?", ":", ";", ")"))


def _prints_judgement(piece: str) -> bool:
    """A judgement line ("The experiences and progress of children in care: good"), by the
    judgement areas and grades the facts reader knows (facts.json): the next section's heading."""
    return len(piece.split()) <= 30 and bool(facts.read_judgements(piece, None))


def _trim_label_tail(text: str, s: int, e: int) -> tuple[int, int]:
    """Drop a sub-heading glued under the item's last line ("...maintained.\nLeadership")."""
    last_nl = text.rfind("\n", s, e)
    if last_nl > s:
        tail = text[last_nl + 1:e].strip()
        before = text[s:last_nl].rstrip()
        if tail and before.endswith((".", "!", "?")) and _is_label(tail):
            return s, s + len(before)
    return s, e


def _source(snap: Snapshot, letter: int, rec, s: int, e: int, section: str | None, meta: dict) -> Citation:
    """Where the letter prints an item, as a citation."""
    from .letters import page_at

    return Citation(n=0, letter=snap.letters[letter]["path"], authority=meta.get("authority"), date=meta.get("date"),
                    kind=meta.get("kind"), section=section, page=page_at(rec.page_starts, s) if rec.page_starts else None,
                    quote=clean(rec.text[s:e]), start=s, end=e, score=1.0)


# ------------------------------------------------------------------ what later letters say
def _letter_sentences(snap: Snapshot, letter: int, qvec: np.ndarray, keyword: np.ndarray, probe: evidence.Probe,
                      passages_read: int) -> list[Scored]:
    """The engine's sentence scoring restricted to one letter: its passages scored (meaning, and
    ``keyword``: the BM25 scores of every passage for the words asked, fused as for a question),
    the best few read sentence by sentence."""
    from .fusion import fuse

    lo, hi = int(snap.letter_first[letter]), int(snap.letter_first[letter + 1])
    if hi <= lo:
        return []
    dense = snap.passage_vectors(np.arange(lo, hi)) @ qvec
    local = fuse(dense, keyword[lo:hi])
    scores = np.full(snap.size, -np.inf, dtype=np.float32)
    scores[lo:hi] = local
    top = (lo + np.argsort(-local, kind="stable")[:passages_read]).tolist()
    return sorted(snap.score_sentences(top, scores, qvec, probe), key=lambda s: -s.score)


@dataclass(frozen=True)
class Said:
    """A later letter's sentence about an item: its score, its stance, and whether the later
    letter lists it under its own "what needs to improve" heading."""

    sentence: Scored
    stance: int
    listed_again: bool = False


def judge_followup(said: list[Said]) -> tuple[str, list[Said]]:
    """Whether a later letter says an item improved, from its sentences about the item
    (best first): "improved", "not yet" or "not followed up", and the sentences that show it.

    This is the one place the decision is made, and where the learned evidence judge plugs
    in (docs/judge.md): a sentence's stance is the judge's (``scoring.stance_signs``: read from
    the sentence's tokens; without a judge, its weakness and strength words), and a sentence the later letter lists
    again under its own improve heading counts as "not yet" whatever its words. Sentences
    about the item weigh by their evidence score; strengths outweighing weaknesses say
    "improved", the reverse (or a tie) "not yet"; no sentence about the item with either
    stance says "not followed up".
    """
    if not said:
        return NOT_FOLLOWED, []
    best = said[0].sentence.score
    about = [s for s in said if s.sentence.score >= max(evidence.THRESHOLD, FOLLOW_SHARE * best)]
    stanced = [replace(s, stance=-1) if s.listed_again else s for s in about]
    stanced = [s for s in stanced if s.stance]
    if not stanced:
        return NOT_FOLLOWED, []
    balance = sum(s.stance * s.sentence.score for s in stanced)
    verdict = IMPROVED if balance > 0 else NOT_YET
    want = 1 if verdict == IMPROVED else -1
    shown = [s for s in stanced if s.stance == want] + [s for s in stanced if s.stance != want]
    return verdict, shown[:FOLLOW_QUOTES]


def follow_up(assistant, snap: Snapshot, item: str, qvec: np.ndarray, later: list[int]) -> tuple[str, list[Citation]]:
    """What the first later letter that speaks of ``item`` says about it (see ``judge_followup``)."""
    from .engine import _quote_spans

    probe = replace(snap.probe(item), want=0, targets=frozenset(), kind=None, thing=None)
    keyword = snap.keyword.scores(evidence.search_terms(item))
    for letter in later:
        sents = _letter_sentences(snap, letter, qvec, keyword, probe, FOLLOW_PASSAGES)
        if not sents or sents[0].score < evidence.THRESHOLD:
            continue
        again = set(improve_sections(snap, letter))
        stances = stance_signs(snap, assistant.judge, [s.row for s in sents]).tolist()
        said = [Said(s, st, s.passage in again) for s, st in zip(sents, stances)]
        verdict, shown = judge_followup(said)
        if verdict == NOT_FOLLOWED:
            continue
        rows = {s.row: s for s in sents}
        spans = _quote_spans(snap, [s.sentence for s in shown], rows)
        cites = assistant._checked(snap, [assistant._citation(snap, sp, i + 1) for i, sp in enumerate(spans)])
        if cites:
            return verdict, cites
    return NOT_FOLLOWED, []


def theme_evidence(assistant, snap: Snapshot, theme: str, qvec: np.ndarray, keyword: np.ndarray,
                   letter: int) -> list[Citation]:
    """The letter's best quotes on ``theme`` (the engine's sentence scoring in that letter alone)."""
    from .engine import _quote_spans

    probe = snap.probe(theme)
    sents = _letter_sentences(snap, letter, qvec, keyword, probe, FOLLOW_PASSAGES)
    if not sents or sents[0].score < evidence.THRESHOLD:
        return []
    bar = max(evidence.THRESHOLD, 0.75 * sents[0].score)
    chosen = [s for s in sents if s.score >= bar and (s.reports or probe.want <= 0)]
    spans = _quote_spans(snap, chosen, {s.row: s for s in sents})[:THEME_QUOTES]
    return assistant._checked(snap, [assistant._citation(snap, sp, i + 1) for i, sp in enumerate(spans)])


# ------------------------------------------------------------------ the grade chart
def grade_chart_svg(t: Timeline, width: int = 560, height: int = 170) -> str:
    """A small line chart of each judgement area's grade over time, as inline SVG ("" when no
    letter has grades). Letters without a date are left off the chart."""
    points = [(e.when, e.judgements) for e in t.letters if e.when and e.judgements]
    if not points:
        return ""
    import datetime as dt

    days = [dt.date.fromisoformat(w).toordinal() for w, _ in points]
    lo, hi = min(days), max(days)
    left, right, top, bottom = 130, 20, 14, 30
    def x(d):
        return left + (width - left - right) * ((d - lo) / (hi - lo) if hi > lo else 0.5)

    def y(rank):
        return top + (height - top - bottom) * (4 - rank) / 3

    areas = list(dict.fromkeys(a for _, j in points for a in j))
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
               "#7f7f7f", "#393b79", "#ad494a"]
    parts = [f'<svg class="grade-chart" role="img" aria-label="Grades over time" viewBox="0 0 {width} {height}" '
             f'width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg" font-size="11">']
    for grade, rank in GRADE_RANK.items():
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(rank):.1f}" y2="{y(rank):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(rank) + 4:.1f}" text-anchor="end" fill="currentColor">{grade}</text>')
    for d, (w, _) in zip(days, points):
        parts.append(f'<text x="{x(d):.1f}" y="{height - 10}" text-anchor="middle" fill="currentColor">{w[:4]}</text>')
    for k, area in enumerate(areas):
        colour = colours[k % len(colours)]
        pts = [(x(d), y(GRADE_RANK[j[area]])) for d, (_, j) in zip(days, points) if j.get(area) in GRADE_RANK]
        label = escape_html(facts.AREA_LABELS.get(area, area))
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"><title>{label}</title></polyline>')
        for a, b in pts:
            parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{colour}"><title>{label}</title></circle>')
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{colours[k % len(colours)]}">■</span> '
                      f'{escape_html(facts.AREA_LABELS.get(a, a))}' for k, a in enumerate(areas))
    return "".join(parts) + f'<div class="grade-legend" style="font-size:12px">{legend}</div>'


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# ------------------------------------------------------------------ in the chat
def timeline_answer(assistant, query) -> "Answer":
    """The chat's answer to a question about one authority's change over time ("How has Dudley
    changed since 2019?"): the timeline as Markdown, every quote a citation of the answer."""
    from .answer import Answer

    from .textsearch import tokenize

    # what is left of the question once the authority, dates and "how has ... changed" are out
    theme = query.topic if [w for w in tokenize(query.topic) if w not in evidence._FRAME_WORDS] else None
    t = build_timeline(assistant, query.authorities[0], theme, query.since, query.until)
    checked = {"letters": len(t.letters), "authorities": 1}
    if not t.letters:
        return Answer(query.question, False, f"No letter about {escape_md(t.authority)} matches these dates "
                      f"({escape_md(query.describe())}).", [], checked, [], query.to_dict())
    items = [i for e in t.letters for i in e.improve]
    counts = {s: sum(i.later == s for i in items) for s in (IMPROVED, NOT_YET, NOT_FOLLOWED)}
    dated = [e.when for e in t.letters if e.when]
    span = f", {dated[0][:4]} to {dated[-1][:4]}" if len(dated) > 1 else ""
    head = (f"**{escape_md(t.authority)}: {len(t.letters)} letter{'s' * (len(t.letters) != 1)}{span}**, "
            f"{len(items)} item{'s' * (len(items) != 1)} to improve: {counts[IMPROVED]} improved, "
            f"{counts[NOT_YET]} not yet, {counts[NOT_FOLLOWED]} not followed up in a later letter"
            + (f" ({len(t.letters[-1].improve)} of them in the latest letter)." if t.letters[-1].improve else "."))
    return Answer(query.question, True, head + "\n\n" + t.to_markdown(heading=False), [t.authority], checked,
                  t.citations(), query.to_dict())
