"""Questions about the letters' facts, answered from them: who led an inspection, when it
took place, which grade a judgement area was given, which authorities were judged so before.

The facts were read when the letter was indexed (``metadata.parse_metadata``), each with the
span of text that prints it. An answer quotes those spans (the "Lead inspector:" line, the
judgement table's row, the "Inspection dates:" line), cited like any other quote and
checked against the letter's text before it is shown. When no letter the question may use
holds the fact at all, this step gives way to the passage search (None).
"""

from __future__ import annotations

import logging
import re

import numpy as np

from .answer import Answer, Citation, checked_line, compose_grouped, compose_quotes, escape_md
from .chunking import clean
from .facts import AREA_LABELS, GRADE_RE, normal_grade
from .question import Query

log = logging.getLogger(__name__)

#: Overall effectiveness stands for "the" judgement when a question names no area.
DEFAULT_AREAS = ("overall_effectiveness",)


def answer_from_facts(snap, query: Query, allowed: np.ndarray, checked: dict) -> Answer | None:
    """Answer ``query`` (whose ``fact`` is set) from the facts of the ``allowed`` letters, or
    None when none of them holds the fact asked about (the passage search then answers)."""
    letters = [int(i) for i in np.flatnonzero(allowed)]
    letters = _prefer_kind(snap, letters, query.question)
    holding: list[int] = []  # letters holding the fact
    matching: dict[int, list[str]] = {}  # letter -> span keys to quote, where the fact matches the question
    for i in letters:
        keys, has = _fact_spans(snap.letters[i]["meta"], query)
        if has:
            holding.append(i)
        if keys:
            matching[i] = keys
    if query.fact == "previous":  # a judgement of an earlier inspection, where a later one is indexed
        for i, keys in _superseded(snap, letters, query):
            holding.append(i)
            matching[i] = list(dict.fromkeys(matching.get(i, []) + keys))
    if not holding:
        return None
    if not matching:
        return _none_match(query, holding, checked)
    order = sorted(matching, key=lambda i: _when(snap.letters[i]["meta"]), reverse=True)  # newest first
    if query.aggregate:
        order.sort(key=lambda i: snap.letters[i]["meta"].get("authority") or "~")
    citations = []
    for i in order:
        for key in matching[i]:
            c = _citation(snap, i, key, len(citations) + 1)
            if c is not None:
                citations.append(c)
    if not citations:
        return None
    authorities = []
    for c in citations:
        if c.authority and c.authority not in authorities:
            authorities.append(c.authority)
    if query.aggregate:
        groups = [(a, [c for c in citations if c.authority == a]) for a in authorities]
        unnamed = [c for c in citations if not c.authority]
        if unnamed:
            groups.append(("Authority not recognised", unnamed))
        text = compose_grouped(groups, len({c.letter for c in citations}), checked)
    else:
        text = compose_quotes(citations, checked)
    return Answer(query.question, True, text, authorities, checked, citations, query.to_dict())


def _fact_spans(meta: dict, query: Query) -> tuple[list[str], bool]:
    """(the span keys to quote for this letter, whether it holds the fact at all)."""
    spans = meta.get("spans") or {}
    if query.fact == "lead":
        return (["inspectors"] if "inspectors" in spans else []), "inspectors" in spans
    if query.fact == "when":
        return (["visit_dates"] if "visit_dates" in spans else []), "visit_dates" in spans
    if query.fact == "previous":
        prev = meta.get("previous_judgement")
        ok = prev is not None and "previous_judgement" in spans and query.grade in (None, prev.get("grade"))
        return (["previous_judgement"] if ok else []), prev is not None
    judgements = meta.get("judgements") or {}
    areas = query.areas or (tuple(judgements) if query.authorities and not query.grade else DEFAULT_AREAS)
    held = [a for a in areas if a in judgements and f"judgements.{a}" in spans]
    hits = [f"judgements.{a}" for a in held if query.grade in (None, judgements[a])]
    if hits and "visit_dates" in spans:
        hits.append("visit_dates")  # which inspection the grade belongs to
    return hits, bool(held)


def _superseded(snap, letters: list[int], query: Query) -> list[tuple[int, list[str]]]:
    """Inspections followed by a later inspection of the same authority, whose judgement
    (the areas asked, else overall effectiveness) has the grade asked."""
    latest: dict[str, str] = {}
    for i in letters:
        meta = snap.letters[i]["meta"]
        if meta.get("authority") and meta.get("judgements"):
            latest[meta["authority"]] = max(latest.get(meta["authority"], ""), _when(meta))
    out = []
    for i in letters:
        meta = snap.letters[i]["meta"]
        if not meta.get("judgements") or _when(meta) >= latest.get(meta.get("authority") or "", ""):
            continue
        spans = meta.get("spans") or {}
        keys = [f"judgements.{a}" for a in (query.areas or DEFAULT_AREAS)
                if meta["judgements"].get(a) and query.grade in (None, meta["judgements"][a]) and f"judgements.{a}" in spans]
        if keys:
            out.append((i, keys + (["visit_dates"] if "visit_dates" in spans else [])))
    return out


def _prefer_kind(snap, letters: list[int], question: str) -> list[int]:
    """The letters of the kind the question names: "the 2023 inspection of Dudley" asks about
    an inspection (none indexed: no letter, and the passages answer), "the monitoring visit"
    about visits; "inspected" prefers inspections but a visit will do."""
    def of_kind(word: str) -> list[int]:
        return [i for i in letters if word in (snap.letters[i]["meta"].get("kind") or "")]

    if re.search(r"\bvisits?\b", question, re.I):
        return of_kind("visit")
    if re.search(r"\binspections?\b", question, re.I):
        return of_kind("inspection")
    if re.search(r"\binspected\b", question, re.I):
        return of_kind("inspection") or letters
    return letters


def _when(meta: dict) -> str:
    return (meta.get("visit_dates") or [meta.get("date") or ""])[0] or meta.get("date") or ""


def _quotable(text: str, start: int, end: int, key: str) -> tuple[int, int]:
    """The span to quote for a fact: a judgement row or a previous judgement's sentence as
    found; a labelled line ("Lead inspector: ...") whole; a fact inside prose with its sentence."""
    if key.startswith("judgements.") or key in ("previous_judgement", "date"):
        return start, end
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    prefix = text[line_start:start]
    if not prefix.strip() or re.search(r"(?i)(?::|inspectors?|dates?)\s*$", prefix):
        s, e = line_start, line_end  # "Lead inspector: ..." / "Inspection dates: ..."
    else:
        s = max(text.rfind(". ", 0, start) + 2, text.rfind("\n\n", 0, start) + 2, start - 400, 0)
        e = text.find(".", end, end + 400)
        e = end if e < 0 else e + 1
    while s < start and text[s].isspace():
        s += 1
    while e > end and text[e - 1].isspace():
        e -= 1
    return s, e


def _citation(snap, i: int, key: str, n: int) -> Citation | None:
    entry = snap.letters[i]
    meta = entry["meta"]
    rec = snap.record(i)
    span = (meta.get("spans") or {}).get(key)
    if not span:
        return None
    start, end = _quotable(rec.text, int(span[0]), int(span[1]), key)
    quote = clean(rec.text[start:end]) if 0 <= start < end <= len(rec.text) else ""
    if not _supports(quote, key, meta):
        log.warning("dropped a fact quote that does not print its fact: %s %s at %d-%d", entry["path"], key, start, end)
        return None
    page = None
    if rec.page_starts:
        from .letters import page_at

        page = page_at(rec.page_starts, start)
    section = next((c.section for c in rec.chunks if c.start <= start < c.end), None)
    return Citation(n=n, letter=entry["path"], authority=meta.get("authority"), date=meta.get("date"),
                    kind=meta.get("kind"), section=section, page=page, quote=quote, start=start, end=end,
                    score=1.0)


def _supports(quote: str, key: str, meta: dict) -> bool:
    """The quote prints the fact it is cited for (the grade, the lead's name, the year)."""
    if not quote:
        return False
    if key.startswith("judgements."):
        m = GRADE_RE.search(quote)
        return bool(m) and normal_grade(m.group("grade")) == (meta.get("judgements") or {}).get(key[len("judgements."):])
    if key == "inspectors":
        lead = (meta.get("inspectors") or [""])[0]
        return bool(lead) and lead.split()[-1].replace("-", "").lower() in quote.replace(" ", "").replace("-", "").lower()
    if key == "visit_dates":
        return bool(meta.get("visit_dates")) and meta["visit_dates"][-1][:4] in quote
    if key == "previous_judgement":  # the sentence may hold other grade words too
        want = (meta.get("previous_judgement") or {}).get("grade")
        return any(normal_grade(m.group("grade")) == want for m in GRADE_RE.finditer(quote))
    return True


def _none_match(query: Query, holding: list[int], checked: dict) -> Answer:
    if query.fact == "previous":
        what = "an earlier judgement"
    else:
        what = "a " + " or ".join(AREA_LABELS.get(a, a) for a in (query.areas or DEFAULT_AREAS)) + " judgement"
    n = len(holding)
    text = (f"None of the {n} letter{'s' * (n != 1)} that print{'s' * (n == 1)} {escape_md(what)} gives "
            f"“{escape_md(query.grade or '')}”. {checked_line(checked['letters'], checked['authorities'])}")
    return Answer(query.question, False, text, [], checked, [], query.to_dict())
