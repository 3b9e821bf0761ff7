"""What a letter is about, read from its text (never from its file name).

Every field that cannot be found is None: nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import asdict, dataclass, replace

from . import facts
from .authorities import ENGLISH_AUTHORITIES, canonical_name, name_pattern
from .facts import MONTH, MONTHS, day_of  # noqa: F401 - MONTHS: read by question.py from here

DATE_RE = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({MONTH})\s+(\d{{4}})\b", re.IGNORECASE)
_DATE_LINE = re.compile(
    rf"^\s*(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s+\d{{4}}\s*$",
    re.IGNORECASE | re.MULTILINE,
)
TITLE_RE = re.compile(
    r"^[ \t]*(?P<kind>focused visit|monitoring visit|joint targeted area inspection|short inspection|inspection)"
    r"\s+(?:to|of|at)\s+(?:the\s+)?(?P<name>[^\n]{2,120}?)(?:\s+local authority)?\s+children(?:['’]s|s)\b[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_VISIT_SENTENCE = re.compile(
    r"(?:findings|visit|inspection)[^.\n]{0,200}?\bon\s+(?P<dates>(?:\d{1,2}(?:st|nd|rd|th)?"
    rf"(?:\s+{MONTH})?(?:\s+\d{{4}})?\s*(?:,|and|to|-|–)\s*)*\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s+\d{{4}})",
    re.IGNORECASE,
)
_BY_RE = re.compile(
    r"(?:(?:conducted|carried out|undertaken|led)\s+by|[Tt]he inspectors were)\s+(?P<who>[^\n]+?)\.(?:\s|$)"
)
_TITLES = re.compile(
    r"Her Majesty['’]s Inspectors?,?|His Majesty['’]s Inspectors?,?|\bHMIs?\b|\btwo of\b|\bthree of\b|"
    r"seconded inspectors?|Ofsted Inspectors?|social care regulatory inspectors?|\binspectors?\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[A-Z][a-zA-Z'’-]+(?:\s+[A-Z]\.?)?(?:\s+[A-Z][a-zA-Z'’-]+){1,3}$")
_JTAI = re.compile(r"^[ \t]*joint targeted area inspection of [^\n]*?\bin\s+(?P<name>[A-Z][^\n]{1,60}?)[ \t.]*$",
                   re.IGNORECASE | re.MULTILINE)
_SIGN_OFF = re.compile(r"^[ \t]*Yours (?:sincerely|faithfully)\b", re.IGNORECASE | re.MULTILINE)
_SALUTATION = re.compile(r"^[ \t]*Dear [^\n]+$", re.MULTILINE)
_GAZETTEER = name_pattern(ENGLISH_AUTHORITIES)

KINDS = ("inspection", "focused visit", "monitoring visit", "joint targeted area inspection", "cabinet report", "other")


@dataclass(frozen=True)
class LetterMeta:
    """What is known about a letter or report. ``authority`` is the short canonical name.

    ``visit_dates`` is the first and last day of the visit or inspection; ``judgements``
    maps a judgement area key (see ``facts.json``) to its grade; ``spans`` maps each fact
    found ("authority", "visit_dates", "inspectors", "date", "previous_judgement",
    "judgements.<area>") to the [start, end) characters where the text prints it.
    """

    authority: str | None = None
    authority_as_written: str | None = None
    date: str | None = None
    visit_dates: tuple[str, ...] | None = None
    visit_dates_text: str | None = None
    kind: str | None = None
    inspectors: tuple[str, ...] | None = None
    title: str | None = None
    framework: str | None = None
    judgements: dict | None = None
    previous_judgement: dict | None = None
    spans: dict | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("visit_dates", "inspectors"):
            d[key] = list(d[key]) if d[key] is not None else None
        if d["spans"] is not None:
            d["spans"] = {k: list(v) for k, v in d["spans"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LetterMeta":
        d = dict(d)
        for key in ("visit_dates", "inspectors"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        if d.get("spans") is not None:
            d["spans"] = {k: tuple(v) for k, v in d["spans"].items()}
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


def iso(day: int | str, month: str, year: int | str) -> str | None:
    d = day_of(day, month, year)
    return d.isoformat() if d else None


def parse_metadata(text: str) -> LetterMeta:
    """Read a letter's or report's facts from its text: authority, kind, framework, dates,
    inspectors, judgements and a previous judgement. What is not printed is None."""
    report = _report_meta(text)
    if report is not None:
        return report
    return _with_previous(text, _letter_meta(text))


def _letter_meta(text: str) -> LetterMeta:
    """A letter: its title line ("Focused visit to ... children's services"), date line and
    opening sentences."""
    title = TITLE_RE.search(text[:6000])
    head = text[: title.start()] if title else text[:3000]
    date_line = _DATE_LINE.search(head) or (None if title else _DATE_LINE.search(text[:6000]))
    date = None
    if date_line:
        m = DATE_RE.search(date_line.group(0))
        date = iso(*m.groups()) if m else None

    kind = title.group("kind").lower() if title else None
    if kind == "short inspection":
        kind = "inspection"
    if kind is None and re.search(r"\bcabinet\b", text[:1500], re.IGNORECASE):
        kind = "cabinet report"

    written = title.group("name").strip() if title else None
    jtai = None if title else _JTAI.search(text[:4000])
    if jtai:  # "Joint targeted area inspection of the multi-agency response to ... in Sefton"
        kind, written = "joint targeted area inspection", jtai.group("name").strip()
    if written and canonical_name(written).lower() in ("local authority", "the local authority"):
        written = None  # "Inspection of local authority children's services" names no one
    authority = canonical_name(written) if written else _dominant_authority(text)
    if written is None and authority is not None:
        written = authority

    visit_text, visit_dates = None, None
    body = text[title.end():] if title else text
    visit = _VISIT_SENTENCE.search(body[:4000]) if title else None
    if visit:
        visit_text = " ".join(visit.group("dates").split())
        visit_dates = tuple(expand_dates(visit_text)) or None

    inspectors = None
    by = _BY_RE.search(body[:4000]) if title else None
    if by:
        names = _split_names(by.group("who"))
        inspectors = tuple(names) or None

    spans = {}
    if title and written and title.group("name").strip() == written:
        spans["authority"] = title.span("name")
    elif jtai:
        spans["authority"] = jtai.span("name")
    if date_line:
        spans["date"] = date_line.span()
    if visit:
        off = title.end() if title else 0
        spans["visit_dates"] = (off + visit.start("dates"), off + visit.end("dates"))
    if by and inspectors:
        off = title.end() if title else 0
        spans["inspectors"] = (off + by.start("who"), off + by.end("who"))
    if visit_dates:
        visit_dates = (visit_dates[0], visit_dates[-1])
    return LetterMeta(
        authority=authority, authority_as_written=written, date=date, visit_dates=visit_dates,
        visit_dates_text=visit_text, kind=kind, inspectors=inspectors,
        title=" ".join(title.group(0).split()) if title else None, spans=spans or None,
    )


def _with_previous(text: str, meta: LetterMeta) -> LetterMeta:
    rows = [tuple(v) for k, v in (meta.spans or {}).items() if k.startswith("judgements.")]
    found = facts.read_previous(text, rows=rows)
    if found is None:
        return meta
    return replace(meta, previous_judgement=found.value,
                   spans={**(meta.spans or {}), "previous_judgement": (found.start, found.end)})


def _report_meta(text: str) -> LetterMeta | None:
    """A report: its title page (authority, "Inspection dates:", "Lead inspector:",
    "Report published:"), its judgement table, and a previous judgement it mentions."""
    title = facts.read_title(text)
    if title is None:
        return None
    kind, name = title
    spans: dict[str, tuple[int, int]] = {}
    written = name.value
    authority = canonical_name(written) if written else _dominant_authority(text)
    if written:
        spans["authority"] = (name.start, name.end)
    elif authority:
        written = authority
    periods = facts.read_visit_periods(text)
    visit_dates = visit_text = None
    if periods:
        dates, where = periods
        visit_dates = (dates[0][0].isoformat(), dates[-1][1].isoformat())
        visit_text = " ".join(text[where.start:where.end].split())
        spans["visit_dates"] = (where.start, where.end)
    people = facts.read_inspectors(text)
    if people:
        spans["inspectors"] = (people.start, people.end)
    published = facts.read_published(text)
    if published:
        spans["date"] = (published.start, published.end)
    family = facts.framework_family(text, kind)
    framework = facts.framework_of(family, periods[0] if periods else None) if kind == "inspection" else None
    judgements = {}
    for key, found in facts.read_judgements(text, family).items():
        judgements[key] = found.value
        spans[f"judgements.{key}"] = (found.start, found.end)
    meta = LetterMeta(
        authority=authority, authority_as_written=written, date=published.value if published else None,
        visit_dates=visit_dates, visit_dates_text=visit_text, kind=kind,
        inspectors=people.value if people else None, title=None, framework=framework,
        judgements=judgements or None, spans=spans or None,
    )
    return _with_previous(text, meta)


#: The keys of one letter in ``assistant letters --json``, in order.
CATALOGUE_KEYS = ("letter", "authority", "authority_as_written", "kind", "framework", "date", "visit_dates",
                  "inspectors", "judgements", "previous_judgement", "pages", "passages")


def catalogue_row(entry: dict) -> dict:
    """One indexed letter as ``assistant letters --json`` shows it, from its manifest entry."""
    meta = entry.get("meta") or {}
    row = {key: meta.get(key) for key in CATALOGUE_KEYS}
    row.update(letter=entry["path"], pages=entry.get("pages"), passages=entry.get("passages"),
               judgements=meta.get("judgements") or {})
    return row


def expand_dates(printed: str) -> list[str]:
    """"18 and 19 December 2019" -> ["2019-12-18", "2019-12-19"]; ranges are filled in."""
    parts = [p for p in re.split(r"\s*(,|\band\b|\bto\b|-|–)\s*", printed.strip()) if p]
    items, seps = [], []
    for p in parts:
        if p in (",", "and", "to", "-", "–"):
            seps.append(p)
        else:
            items.append(p)
    parsed: list[list] = []
    for item in items:
        m = re.match(rf"(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+({MONTH}))?(?:\s+(\d{{4}}))?$", item, re.IGNORECASE)
        if not m:
            return []
        parsed.append([int(m.group(1)), m.group(2), m.group(3)])
    month, year = None, None
    for entry in reversed(parsed):  # later parts carry the month and year of earlier ones
        month = entry[1] = entry[1] or month
        year = entry[2] = entry[2] or year
    dates = [iso(d, mth, yr) for d, mth, yr in parsed if mth and yr]
    if None in dates or not dates:
        return []
    out = [dates[0]]
    for sep, nxt in zip(seps, dates[1:]):
        if sep in ("to", "-", "–"):
            day = dt.date.fromisoformat(out[-1])
            end = dt.date.fromisoformat(nxt)
            while day < end and (end - day).days < 60:
                day += dt.timedelta(days=1)
                if day < end:
                    out.append(day.isoformat())
        out.append(nxt)
    return out


def _split_names(who: str) -> list[str]:
    cleaned = _TITLES.sub(",", who)
    names = []
    for part in re.split(r",|\band\b|;", cleaned):
        part = " ".join(part.split()).strip(" .")
        if _NAME.match(part) and part not in names:
            names.append(part)
    return names


def _dominant_authority(text: str) -> str | None:
    """For a document without a letter's title line: the authority it clearly is about."""
    counts = Counter(canonical_name(m.group(1)) for m in _GAZETTEER.finditer(text))
    if not counts:
        return None
    (top, n), *rest = counts.most_common(2)
    second = rest[0][1] if rest else 0
    return top if n >= 3 and n >= 2 * second else None


def evidence_bounds(text: str) -> tuple[int, int]:
    """The span of a letter that may be quoted: after the title line (or salutation), up to the
    sign-off, or to the end when evidence (an annex, a added paragraph) follows the sign-off.

    Letterhead, addresses, the date line, salutation and signature fall outside it or, for a
    signature followed by more text, inside ``sign_off_span`` (which chunking leaves out).
    """
    title = TITLE_RE.search(text[:6000])
    if title:
        start = title.end()
    else:
        dear = _SALUTATION.search(text[:6000])
        start = dear.end() if dear else 0
    block = sign_off_span(text, start, len(text))
    if block is None:
        return start, len(text)
    return start, (len(text) if re.search(r"\S", text[block[1]:]) else block[0])


def sign_off_span(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """The sign-off block ("Yours sincerely", then a few short lines: name, title), or None."""
    end = len(text) if end is None else end
    sign = _SIGN_OFF.search(text, start, end)
    if sign is None:
        return None
    pos, taken = text.find("\n", sign.end(), end), 0
    pos = end if pos < 0 else pos
    for m in re.finditer(r"[^\n]*\n?", text[pos:end]):
        line = m.group(0).strip()
        if line:
            if taken == 4 or len(line.split()) > 8 or (line.endswith(".") and len(line.split()) > 3):
                break
            taken += 1
        pos += len(m.group(0))
        if not m.group(0):
            break
    return sign.start(), pos
