"""Authorities side by side on one theme: one row per letter, what it says (weakness,
strength, mixed or silent), the grade where the theme has a judgement, the best quotes.

Every cell is made the way answers are: the engine's own sentence scoring, read inside one
letter, and quotes checked against the letter before they are shown.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import numpy as np

from . import facts
from .answer import Answer, Citation, checked_line, escape_md, short_date
from .errors import AuthorityError, FilterError, QuestionError
from .evidence import THRESHOLD, search_terms
from .question import Query, check_question, parse_day
from .retrieval import letter_date
from .scoring import stance_signs

#: Themes offered in the web chat's Compare tab (any other theme may be typed).
THEMES = (
    "caseloads", "management oversight", "supervision", "contingency planning", "care leavers", "neglect",
    "exploitation", "missing children", "child protection plans", "assessments", "early help",
    "workforce stability", "children in care", "private fostering", "domestic abuse",
)
STANCES = ("weakness", "strength", "mixed", "silent")
SILENT = "not covered in this letter"
NO_LETTER = "no letter in these dates"
#: Passages of a letter read for a theme (its best by the fused passage score).
PASSAGES_READ = 8
#: Quotes per cell; and how close to the letter's best sentence a quote must come.
QUOTES_PER_CELL = 3
CELL_RELATIVE = 0.75
#: Sentences over the bar looked at for the letter's stance (the quoted ones and the next few),
#: so a cell says "mixed" when the letter weighs both sides of the theme.
STANCE_READ = 6


def compare(assistant, authorities: list[str], theme: str, since=None, until=None) -> dict:
    """The compare table as JSON: ``{"theme", "rows": [{"authority", "letter", "kind", "date",
    "grade", "stance", "citations"}]}``, one row per authority (its latest letter), or per
    letter dated ``since``..``until`` when either is given. Citations are numbered 1..n across
    the table and shaped as in ``Answer.to_dict``.

    Raises QuestionError for an empty or unreadable theme, AuthorityError for no authorities
    or a name with no letters (naming the close matches), FilterError for a bad date.
    """
    theme = " ".join(check_question(theme if isinstance(theme, str) else str(theme or "")).split())
    if not search_terms(theme):
        raise QuestionError("give a theme to compare the authorities on, for example “care leavers” or "
                            "“management oversight”")
    since, until = parse_day(since, "From"), parse_day(until, "To")
    if since and until and since > until:
        raise FilterError(f"the dates run backwards (from {since} to {until}); swap them")
    assistant.refresh()
    snap = assistant.snapshot
    names = resolve_authorities(snap, authorities)
    letters: list[tuple[str, int | None]] = []
    for name in names:
        mine = sorted(np.flatnonzero(snap.letter_mask([name], since, until)).tolist(),
                      key=lambda i: letter_date(snap.letters[i]["meta"]) or "")
        if not mine:
            letters.append((name, None))
        elif since or until:
            letters.extend((name, i) for i in mine)
        else:
            letters.append((name, mine[-1]))
    chosen = [i for _, i in letters if i is not None]
    mask = np.zeros(len(snap.letters), dtype=bool)
    mask[chosen] = True
    qvec = assistant.embedder.embed([theme])[0]
    scores = snap.passage_scores(qvec, search_terms(theme), mask)
    probe = snap.probe(theme)
    areas = facts.areas_named(theme)
    rows, citations = [], []
    for name, i in letters:
        if i is None:
            rows.append({"authority": name, "letter": None, "kind": None, "date": None, "grade": None,
                         "stance": "silent", "citations": []})
            continue
        stance, spans = letter_stance(snap, i, scores, qvec, probe, assistant.judge)
        cites = assistant._checked(snap, [assistant._citation(snap, sp, k + 1) for k, sp in enumerate(spans)])
        if spans and not cites:  # every quote failed its check: the cell cannot say anything
            stance = "silent"
        cites = [replace(c, n=len(citations) + k + 1) for k, c in enumerate(cites)]
        citations += cites
        meta = snap.letters[i]["meta"]
        rows.append({"authority": name, "letter": snap.letters[i]["path"], "kind": meta.get("kind"),
                     "date": letter_date(meta), "grade": grade_for(meta, areas), "stance": stance,
                     "citations": [c.to_dict() for c in cites]})
    return {"theme": theme, "rows": rows}


def letter_stance(snap, letter: int, scores: np.ndarray, qvec: np.ndarray, probe, judge=None) -> tuple[str, list]:
    """What one letter says about the theme: (stance, quote spans), stance one of STANCES.

    The letter's best passages for the theme are scored sentence by sentence with the engine's
    evidence score (``Snapshot.score_sentences``); sentences over the plain answer bar
    (``evidence.THRESHOLD``) and near the letter's best are quoted. The stance is that of the
    sentences over the bar: weakness or strength as ``judge`` reads each (``scoring.stance_signs``:
    its stance from the sentence's tokens; without a judge, the stance words the index holds),
    both = mixed, none over the bar = silent (no quotes). A letter that speaks of the theme only
    without judging it is "mixed": it says something, neither clearly good nor bad.
    """
    from .engine import _quote_spans

    lo, hi = int(snap.letter_first[letter]), int(snap.letter_first[letter + 1])
    if hi <= lo:
        return "silent", []
    part = scores[lo:hi]
    read = (lo + np.argsort(-part, kind="stable")[:PASSAGES_READ]).tolist()
    read = [p for p in read if np.isfinite(scores[p])]
    scored = _score_both_ways(snap, read, scores, qvec, probe)
    over = [s for s in scored if s.score >= THRESHOLD]
    if not over:
        return "silent", []
    bar = max(THRESHOLD, CELL_RELATIVE * over[0].score)
    looked = over[:STANCE_READ]
    rows = [s.row for s in looked]
    stances = dict(zip(rows, stance_signs(snap, judge, rows).tolist()))
    quoted = [s for s in over if s.score >= bar][:QUOTES_PER_CELL]
    seen = {stances[s.row] for s in quoted}
    for s in looked:  # the cell quotes each side it reports
        if stances[s.row] and stances[s.row] not in seen and len(quoted) < QUOTES_PER_CELL + 1:
            quoted.append(s)
            seen.add(stances[s.row])
    said = {v for v in stances.values() if v}
    stance = "mixed" if len(said) != 1 else ("weakness" if -1 in said else "strength")
    return stance, _quote_spans(snap, quoted, {s.row: s for s in scored})


def _score_both_ways(snap, read: list[int], scores: np.ndarray, qvec: np.ndarray, probe) -> list:
    """Sentences scored as evidence of a weakness in the theme and as evidence of a strength
    (the better of the two kept), best first: a theme asks what the letter judged, either way.
    A theme that names its own stance ("weak supervision") is scored as it is."""
    if probe.want:
        return sorted(snap.score_sentences(read, scores, qvec, probe), key=lambda s: -s.score)
    # the judgement must be of the theme's distinctive words, as for a question's stance
    # (``evidence.stance_targets``): "contingency", not "planning", in "contingency planning"
    weights = {t: snap.keyword.idf(t) for t in probe.terms}
    top = max(weights.values(), default=0.0)
    targets = frozenset(t for t, w in weights.items() if w >= 0.5 * top)
    best: dict[int, object] = {}
    for want in (-1, 1):
        ways = replace(probe, want=want, targets=targets)
        for s in snap.score_sentences(read, scores, qvec, ways):
            if s.row not in best or s.score > best[s.row].score:
                best[s.row] = s
    return sorted(best.values(), key=lambda s: -s.score)


def grade_for(meta: dict, areas: tuple[str, ...]) -> str | None:
    """The letter's grade for the first of ``areas`` it was judged on; None when none."""
    judged = meta.get("judgements") or {}
    return next((judged[a] for a in areas if judged.get(a)), None)


def resolve_authorities(snap, authorities) -> list[str]:
    """The indexed authorities named (canonical spelling, in the order given, each once).

    Raises AuthorityError when none is given or a name has no letters, naming the close match.
    """
    from .engine import _closest, _join

    if isinstance(authorities, str):
        authorities = [authorities]
    wanted = [" ".join(str(a).split()) for a in authorities or [] if str(a or "").strip()]
    if not wanted:
        raise AuthorityError("name the authorities to compare, for example Dudley and Wirral")
    covered = snap.authorities() if snap is not None else []
    known = {a.lower(): a for a in covered}
    for e in snap.letters if snap is not None else []:
        m = e["meta"]
        if m.get("authority") and m.get("authority_as_written"):
            known.setdefault(m["authority_as_written"].lower(), m["authority"])
    names, missing = [], []
    for w in wanted:
        name = known.get(w.lower())
        if name is None:
            from .authorities import canonical_name

            name = known.get(canonical_name(w).lower())
        if name is None:
            missing.append(w)
        elif name not in names:
            names.append(name)
    if missing:
        hints = [h if len(missing) == 1 else f"{h} for {m}" for m in missing if (h := _closest(m, covered))]
        raise AuthorityError(
            f"no letters about {' or '.join(missing)}"
            + (f"; did you mean {' and '.join(hints)}?" if hints else "")
            + f". The letters cover {_join(covered)}.")
    return names


# ------------------------------------------------------------------ showing it
def _letter_cell(row: dict) -> str:
    if not row["letter"]:
        return NO_LETTER
    return " · ".join(b for b in (row["kind"], short_date(row["date"])) if b) or row["letter"]


def to_markdown(result: dict, link=None) -> str:
    """The table in Markdown, quotes numbered [n]; ``link(citation dict) -> target`` makes each
    number a link (the web chat's letter viewer)."""
    def number(c: dict) -> str:
        return f"[\\[{c['n']}\\]](#q={link(c)})" if link else f"[{c['n']}]"

    lines = ["| Authority | Letter | Grade | What the letter says | Best quotes |", "| --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        if row["citations"]:
            quotes = " ".join(f"“{escape_md(c['quote'])}” {number(c)}" for c in row["citations"])
        else:
            quotes = SILENT if row["letter"] else "—"
        lines.append(f"| {escape_md(row['authority'])} | {escape_md(_letter_cell(row))} | "
                     f"{escape_md(row['grade'] or '—')} | {row['stance']} | {quotes} |")
    return "\n".join(lines)


def to_document(result: dict) -> str:
    """The table as a Markdown file: a heading, the table, and the source of each number."""
    parts = [f"# {escape_md(compare_title(result))}", "", to_markdown(result), ""]
    cites = [c for row in result["rows"] for c in row["citations"]]
    if cites:
        parts += ["## Sources", ""]
        for c in cites:
            bits = [c["authority"] or "", c["kind"], short_date(c["date"]), c["page"] and f"p. {c['page']}",
                    c["section"] and f"section “{c['section']}”", c["letter"]]
            parts.append(f"[{c['n']}] " + escape_md(", ".join(str(b) for b in bits if b)) + "  ")
    return "\n".join(parts).rstrip() + "\n"


def compare_title(result: dict) -> str:
    names = list(dict.fromkeys(r["authority"] for r in result["rows"]))
    return f"{', '.join(names)} on {result['theme']}"


def to_text(result: dict, width: int = 100) -> str:
    """The table for a terminal: one block per row (letter, grade, stance), its quotes, then
    what each [n] stands for."""
    import textwrap

    lines = [compare_title(result), ""]
    for row in result["rows"]:
        grade = f" · graded {row['grade']}" if row["grade"] else ""
        lines.append(f"{row['authority']} · {_letter_cell(row)}{grade}: {row['stance']}")
        for c in row["citations"]:
            lines += textwrap.wrap(f"“{c['quote']}” [{c['n']}]", width, initial_indent="  - ",
                                   subsequent_indent="    ")
        if not row["citations"]:
            lines.append(f"  ({SILENT if row['letter'] else NO_LETTER})")
        lines.append("")
    cites = [c for row in result["rows"] for c in row["citations"]]
    if cites:
        lines.append("Sources")
        for c in cites:
            where = " · ".join(b for b in (c["authority"], c["kind"], short_date(c["date"]),
                                           c["page"] and f"p. {c['page']}") if b)
            lines += textwrap.wrap(f"[{c['n']}] {where} ({c['letter']})", width, subsequent_indent="    ")
    return "\n".join(lines).rstrip()


def to_csv(result: dict) -> str:
    """One line per quote (a silent cell is one line with its note): authority, letter, kind,
    date, grade, stance, n, page, section, quote, note."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["authority", "letter", "kind", "date", "grade", "stance", "n", "page", "section", "quote", "note"])
    for row in result["rows"]:
        head = [row["authority"], row["letter"] or "", row["kind"] or "", row["date"] or "", row["grade"] or "",
                row["stance"]]
        if not row["citations"]:
            w.writerow(head + ["", "", "", "", SILENT if row["letter"] else NO_LETTER])
        for c in row["citations"]:
            w.writerow(head + [c["n"], c["page"] or "", c["section"] or "", c["quote"], ""])
    return out.getvalue()


# ------------------------------------------------------------------ in the chat
def compare_answer(assistant, query: Query) -> Answer:
    """A chat answer for a compare question: the table, every quote a citation."""
    named = list(query.authorities) + list(query.unknown_authorities)
    snap = assistant.snapshot
    n_letters = len(snap.letters) if snap else 0
    checked = {"letters": n_letters, "authorities": len(snap.authorities()) if snap else 0}
    try:
        result = compare(assistant, named, query.topic, query.since, query.until)
    except (AuthorityError, QuestionError) as exc:
        text = f"Cannot compare: {escape_md(str(exc))}"
        return Answer(query.question, False, text, [], checked, [], query.to_dict())
    citations = [Citation(**c) for row in result["rows"] for c in row["citations"]]
    looked = sum(1 for r in result["rows"] if r["letter"])
    checked = {"letters": looked, "authorities": len({r["authority"] for r in result["rows"]})}
    text = "\n".join([f"**{escape_md(compare_title(result))}**", "", to_markdown(result), "",
                      f"_{checked_line(checked['letters'], checked['authorities'])}_"])
    found = any(r["citations"] for r in result["rows"])
    return Answer(query.question, found, text, list(dict.fromkeys(r["authority"] for r in result["rows"])),
                  checked, citations, query.to_dict())
