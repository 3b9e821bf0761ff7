"""The facts an inspection report prints on its first pages: its title, inspection dates,
inspectors, judgement table and framework, and a previous judgement it mentions.

Each fact is read from where the report prints it and keeps that character span, so it can
be quoted. Nothing is guessed: what is not printed stays None. The grades and the judgement
areas of each framework, as printed and as a question may name them, are data
(``facts.json``), not lists in the code.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .authorities import ENGLISH_AUTHORITIES, canonical_name
from .errors import FilterError

_DATA = json.loads((Path(__file__).with_name("facts.json")).read_text(encoding="utf-8"))
GRADES: dict[str, str] = _DATA["grades"]
FRAMEWORKS: dict[str, str] = _DATA["frameworks"]
AREAS: list[dict] = _DATA["areas"]
AREA_LABELS = {a["key"]: a["label"] for a in AREAS}
#: Bumped with the data file or the reading rules: an index re-derives its letters' facts.
FACTS_VERSION = f"facts-{_DATA['version']}.5"

#: Month names, for reading printed dates (metadata, questions and evidence use these too).
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
_APOS = "['’]"
#: Characters read for the title page and judgement table (a report's first pages).
HEAD = 6000


def _words(phrase: str) -> str:
    """A printed phrase as a regex: any spacing or line break between words, either apostrophe."""
    out = []
    for word in phrase.split():
        if word == "{name}":
            out.append(r"(?P<name>[A-Z][\w'’&.-]*(?:[ \t]+(?:[A-Z][\w'’&.-]*|and|upon|on|of|with|the)){0,5})")
        else:
            out.append(re.sub("['’]", _APOS, re.escape(word)))
    return r"\s+".join(out)


_GRADE = "(?P<grade>" + "|".join(_words(g) for g in sorted(GRADES, key=len, reverse=True)) + r")\b"
GRADE_RE = re.compile(_GRADE, re.IGNORECASE)
#: Between an area and its grade: a colon or dash, "is"/"are", or just a space or line break.
_JOIN = r"(?:\s*[:–-]\s*|\s+(?:is|are)\s+(?:judged\s+(?:to\s+be\s+)?)?|\s+)"


def normal_grade(printed: str) -> str | None:
    """"Requires improvement to be good" -> "requires improvement"; None when not a grade."""
    return GRADES.get(" ".join(printed.lower().replace("’", "'").split()))


@dataclass(frozen=True)
class Found:
    """A fact and the span of text that prints it."""

    value: object
    start: int
    end: int


# ------------------------------------------------------------------ title page
_REPORT_TITLE = re.compile(
    r"\b(?P<kind>joint\s+targeted\s+area\s+inspection|(?:re-)?inspection)\s+of\s+(?:the\s+)?"
    r"(?P<name>[A-Z][^\n\d:]{0,60}?(?:\s*\n\s*[^\n\d:]{1,40}?)?)\s+(?:local\s+authority\s+)?children" + _APOS
    + r"?s\s+(?:social\s+care\s+)?services",
    re.IGNORECASE)
#: A title line that names the service, with the authority on a line of its own nearby.
_SERVICE_TITLE = re.compile(
    r"^[ \t]*(?P<kind>(?:re-)?inspection|review)\s+of\s+(?:the\s+)?(?:(?:local\s+authority\s+)?children" + _APOS
    + r"s\s+(?:social\s+care\s+)?services|services\s+for\s+children\s+in\s+need\s+of\s+help"
    r"|looked\s+after\s+children|safeguarding\s+and\s+looked\s+after|the\s+effectiveness\s+of\s+the\s+local\s+safeguarding)",
    re.IGNORECASE | re.MULTILINE)
_AUTHORITY_WORDS = re.compile(r"\b(?:council|borough|county|city|trust|safeguarding children (?:board|partnership))\b", re.I)
_KNOWN = {a.lower() for a in ENGLISH_AUTHORITIES}
_ONLY_SUFFIX = re.compile(r"(?i)^(?:(?:metropolitan|borough|county|city|district|council)\s*)+$")


def read_title(text: str) -> tuple[str, Found] | None:
    """(kind, authority as written) from a report's title page, or None when it has no report title.

    kind is "inspection", "joint targeted area inspection" or "other" (a review of a
    safeguarding board on its own).
    """
    head = text[:HEAD]
    m = _REPORT_TITLE.search(head)
    if m and _plausible(m.group("name")):
        kind = "joint targeted area inspection" if m.group("kind").lower().startswith("joint") else "inspection"
        return kind, Found(" ".join(m.group("name").split()), m.start("name"), m.end("name"))
    m = _SERVICE_TITLE.search(head)
    if not m:
        return None
    kind = "other" if m.group("kind").lower() == "review" and not re.search(
        r"inspection\s+of\s+services", head[:m.start()], re.I) else "inspection"
    # the authority's own line: the nearest non-empty line before the title, else after it
    line = re.compile(r"[^\n]*\S[^\n]*")
    before = [x.span() for x in line.finditer(head, 0, m.start())][-4:]
    nxt = head.find("\n", m.end()) + 1 or len(head)
    after = [x.span() for x in line.finditer(head, nxt, nxt + 400)][:7]
    candidates = []
    for k in range(len(before) - 1, -1, -1):
        s, e = before[k]
        if k and _ONLY_SUFFIX.match(head[s:e].strip()):
            s = before[k - 1][0]  # "Stockport Metropolitan Borough" / "Council" on two lines
        candidates.append((s, e))
    for s, e in candidates + after:
        name = " ".join(head[s:e].split())
        if not name or re.fullmatch(r"[\d\W]*", name) or re.match(r"(?i)(inspection|review|and|board|protection)\b", name):
            continue
        if _plausible(name) and (canonical_name(name).lower() in _KNOWN or _AUTHORITY_WORDS.search(name)):
            s += len(head[s:e]) - len(head[s:e].lstrip())
            e -= len(head[s:e]) - len(head[s:e].rstrip())
            return kind, Found(name, s, e)
    return kind, Found(None, m.start(), m.start())


def _plausible(name: str) -> bool:
    short = canonical_name(" ".join(name.split()))
    return bool(short) and short.lower() not in ("local authority", "children", "the local authority") and \
        len(short) <= 60 and not re.search(r"[.;:]", short)


# ------------------------------------------------------------------ dates and people
_DATES_LINE = re.compile(r"\b(?:inspection|visit)\s+dates?\s*:?\s*(?P<dates>[^\n]*(?:\n[^\n]*)?)", re.IGNORECASE)
_PERIODS = re.compile(
    rf"(?P<a>\d{{1,2}}(?:st|nd|rd|th)?(?:\s+{MONTH})?(?:\s+\d{{4}})?)\s*(?:to|-|–|—|until)\s*"
    rf"(?P<b>\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s+\d{{4}})"
    rf"|(?P<single>\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s+\d{{4}})", re.IGNORECASE)


def day_of(day: int | str, month: str | None, year: int | str | None) -> dt.date | None:
    """The date printed as day, month name and year, or None when a part is missing or no such day."""
    try:
        return dt.date(int(year), MONTHS.index(month.lower()) + 1, int(day)) if month and year else None
    except ValueError:
        return None


def _parts(printed: str) -> tuple[str, str | None, str | None]:
    m = re.match(rf"(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+({MONTH}))?(?:\s+(\d{{4}}))?", printed.strip(), re.I)
    return m.group(1), m.group(2), m.group(3)


def read_visit_periods(text: str) -> tuple[list[tuple[dt.date, dt.date]], Found] | None:
    """The periods of an "Inspection dates: ..." line (first and last day of each), or None."""
    m = _DATES_LINE.search(text[:HEAD])
    if not m:
        return None
    line = m.group("dates")
    # the line ends where the dates end: the next label ("Lead inspector", "Report published") stops it
    stop = re.search(r"(?i)\b(?:lead|reporting|report|published|judgement|age group)\b", line)
    line = line[:stop.start()] if stop else line
    periods, last_end = [], 0
    for p in _PERIODS.finditer(line):
        if p.group("single"):
            d = day_of(*_parts(p.group("single")))
            if d:
                periods.append((d, d))
        else:
            b = day_of(*_parts(p.group("b")))
            d, mo, y = _parts(p.group("a"))
            a = day_of(d, mo or (b and MONTHS[b.month - 1]), y or (b and str(b.year)))
            if a and b and a > b and not y:  # "30 December to 10 January 2020"
                a = day_of(d, mo, str(b.year - 1))
            if a and b and a <= b and (b - a).days < 120:
                periods.append((a, b))
        last_end = p.end()
    if not periods:
        return None
    start = m.start("dates") + len(line) - len(line.lstrip())
    return periods, Found(None, start, m.start("dates") + last_end)


_LEAD = re.compile(r"(?<![Dd]eputy )(?<![Dd]eputy\n)\b(?:lead|reporting)\s+inspector\s*:?[ \t]*(?P<who>[^\n]*)", re.IGNORECASE)
#: "Team inspectors: A, B, ...": the names run on over following lines until a blank line, a
#: page break, another label or the full stop that ends the list.
_OTHERS = re.compile(r"^[ \t]*(?P<label>deputy lead inspectors?|team inspectors?|inspectors?)\s*:\s*"
                     r"(?P<who>[^\n\f.]*(?:\n(?![^\n]*:)[^\n\f.]*[^\s.][^\n\f.]*)*)",
                     re.IGNORECASE | re.MULTILINE)
_ROLE = re.compile(r",?\s*(?:(?:Her|His)\s+Majesty" + _APOS + r"?s\s+Inspectors?|HMIs?|Ofsted\s+Inspectors?|seconded\s+inspectors?|"
                   r"social\s+care\s+regulatory\s+inspectors?)\b", re.IGNORECASE)
_PERSON = re.compile(r"^[A-Z][^\W\d_]*(?:[-'’][^\W\d_]+)*\.?(?:\s+(?:[A-Z][^\W\d_]*(?:\s?-\s?[^\W\d_]+|['’][^\W\d_]+)*\.?|de|van|von|le|la)){1,4}$")


def person(name: str) -> str | None:
    """A person's name cleaned of roles and odd spacing ("Paula Thomson -Jones" -> "Paula Thomson-Jones")."""
    name = _ROLE.sub("", name)
    name = re.sub(r"\s*-\s*(?=[^\W\d_])", "-", " ".join(name.split())).strip(" ,.;")
    return name if _PERSON.match(name) and len(name) <= 60 else None


def read_inspectors(text: str) -> Found | None:
    """The lead inspector (a report's "Lead inspector:" line) then any deputy and team inspectors."""
    m = _LEAD.search(text)
    if not m:
        return None
    lead = person(m.group("who").split(",")[0] if "," in m.group("who") else m.group("who"))
    if lead is None:
        return None
    names, end = [lead], m.end("who")
    start = m.start("who") + len(m.group("who")) - len(m.group("who").lstrip())
    for o in _OTHERS.finditer(text, m.end(), m.end() + 1500):
        if "lead" not in o.group("label").lower() and "team" not in o.group("label").lower():
            continue
        for part in re.split(r",|\band\b|;", o.group("who")):
            p = person(part)
            if p and p not in names:
                names.append(p)
    return Found(tuple(names), start, start + len(m.group("who").strip()))


_PUBLISHED = re.compile(rf"\b(?:report\s+)?published\s*:?\s*(?P<date>\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s+\d{{4}})", re.I)


def read_published(text: str) -> Found | None:
    """A report's printed publication date ("Report published: 23 May 2014"), ISO."""
    m = _PUBLISHED.search(text[:HEAD])
    if not m:
        return None
    d = day_of(*_parts(m.group("date")))
    return Found(d.isoformat(), m.start(), m.end()) if d else None


# ------------------------------------------------------------------ judgements
@lru_cache(maxsize=None)
def _area_patterns() -> list[tuple[dict, re.Pattern[str]]]:
    pairs = [(a, p) for a in AREAS for p in a["printed"]]
    pairs.sort(key=lambda ap: -len(ap[1]))  # "children in care and care leavers" before "children in care"
    return [(a, re.compile(rf"(?<![\w-]){_words(p)}{_JOIN}{_GRADE}", re.IGNORECASE)) for a, p in pairs]


def read_judgements(text: str, framework_family: str | None) -> dict[str, Found]:
    """{area key: Found(grade)} from the judgement table (or summary lines) of a report's first pages.

    ``framework_family`` ("sif", "ilacs", "review") decides which areas a printed name
    stands for (an older report's "experiences and progress of care leavers" is its own area).
    """
    head = text[:HEAD]
    out: dict[str, Found] = {}
    taken: list[tuple[int, int]] = []
    for area, rx in _area_patterns():
        if framework_family and framework_family not in area["frameworks"]:
            continue
        if area["key"] in out:
            continue
        for m in rx.finditer(head):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue  # part of a longer area's row
            if "name" in rx.groupindex and m.group("name") and \
                    canonical_name(m.group("name")).lower() in ("the local authority", "local authority"):
                continue
            grade = normal_grade(m.group("grade"))
            if grade:
                out[area["key"]] = Found(grade, m.start(), m.end())
                taken.append((m.start(), m.end()))
                break
    return dict(sorted(out.items(), key=lambda kv: kv[1].start))


_ILACS_MARK = re.compile(r"impact\s+of\s+leaders\s+on\s+social\s+work\s+practice", re.I)
_SIF_MARK = re.compile(r"children\s+looked\s+after\s+and\s+achieving\s+permanence|services\s+for\s+children\s+in\s+need\s+of\s+help\s+and\s+"
                       r"protection,\s+children\s+looked\s+after\s+and\s+care\s+leavers", re.I)
#: The framework that replaced ILACS began with inspections from this day.
APRIL_2026 = dt.date(2026, 4, 1)
#: ILACS short inspections are one week on site; standard ones two.
SHORT_DAYS = 7


def framework_family(text: str, kind: str | None) -> str | None:
    """Which framework's judgement table a report prints: "ilacs", "sif", "review" or None."""
    head = text[:HEAD]
    if _ILACS_MARK.search(head):
        return "ilacs"
    if _SIF_MARK.search(head):
        return "sif"
    if kind == "other" and re.search(r"local\s+safeguarding\s+children\s+board", head, re.I):
        return "review"
    return None


def framework_of(family: str | None, periods: list[tuple[dt.date, dt.date]] | None) -> str | None:
    """The inspection framework: from the judgement table's shape and, for ILACS, the days on site."""
    if family == "sif":
        return "sif"
    if family != "ilacs" or not periods:
        return None
    first = periods[0]
    if first[0] >= APRIL_2026:
        return "april_2026"
    return "ilacs_short" if (first[1] - first[0]).days < SHORT_DAYS else "ilacs_standard"


# ------------------------------------------------------------------ previous judgement
_PREVIOUS = re.compile(
    r"\b(?P<verb>was|were|had\s+been|been|being)\s+(?:previously\s+)?judged\s+(?:as\s+|to\s+be\s+)?"
    r"['‘’\"]?" + _GRADE, re.IGNORECASE)
_BULLETS = "\uf06e\uf0b7■◼•▪"
#: A judgement of something other than the authority's services (a home, a school).
_NOT_THE_AUTHORITY = re.compile(r"(?i)^\s*(?:which|that)\b|\b(?:homes?|schools?|nurser(?:y|ies)|agenc(?:y|ies)|"
                                r"settings?|centres?|colleges?|providers?|provision)\b")
_WHEN = re.compile(rf"\b(?:in|since)\s+(?P<when>(?:{MONTH}\s+)?(?:19|20)\d\d)\b", re.I)


def read_previous(text: str, lo: int = 0, rows: list[tuple[int, int]] = ()) -> Found | None:
    """A judgement the text says was made earlier ("since the local authority was judged
    inadequate in September 2016"): Found({"grade", "when"}) over that sentence, or None.

    ``rows`` are the spans of the judgement table's rows: a sentence starts after them.
    """
    for m in _PREVIOUS.finditer(text, lo, min(len(text), lo + 12000)):
        grade = normal_grade(m.group("grade"))
        if not grade:
            continue
        s = max(text.rfind(".", 0, m.start()) + 1, text.rfind("\n\n", 0, m.start()) + 2, lo, m.start() - 400,
                *(text.rfind(b, 0, m.start()) + 1 for b in _BULLETS))
        s = max([s, *(e for _, e in rows if s < e <= m.start())])
        base = s
        for line in re.finditer(r"[^\n]*\n", text[base:m.start()]):
            if len(line.group(0).strip()) < 45:  # a page number or heading before the sentence
                s = base + line.end()
        s += len(text[s:m.start()]) - len(text[s:m.start()].lstrip())
        e = text.find(".", m.end(), m.end() + 400)
        e = m.end() if e < 0 else e + 1
        sentence = text[s:e]
        when = None
        for w in _WHEN.finditer(sentence):  # the date nearest the judgement
            if when is None or abs(s + w.start() - m.end()) < abs(s + when.start() - m.end()):
                when = w
        if not re.search(r"(?i)\b(?:since|previous|previously|last|earlier)\b", sentence):
            continue
        clause = re.split(r"[,;(]|\b(?:when|where)\b", text[s:m.start()])[-1]
        if _NOT_THE_AUTHORITY.search(clause):
            continue  # "one children's home, which was judged outstanding"
        return Found({"grade": grade, "when": " ".join(when.group("when").split()) if when else None}, s, e)
    return None


# ------------------------------------------------------------------ questions about facts
_CUES: dict[str, list[str]] = _DATA["question_cues"]


def _phrase_re(phrases) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(_words(p) for p in sorted(phrases, key=len, reverse=True))
                      + r")(?![\w-])", re.IGNORECASE)


_ASKED_AREA = _phrase_re({p for a in AREAS for p in a["asked"]})
_ASKED_FRAMEWORK = {key: _phrase_re(words) for key, words in _DATA["frameworks_asked"].items()}
_CUE = {name: _phrase_re(words) for name, words in _CUES.items() if name != "about"}
_QUESTION_GRADE = re.compile(r"(?<![\w-])(?:" + _GRADE[len("(?P<grade>"):-len(r")\b")] + r")(?![\w-])", re.I)


@dataclass(frozen=True)
class FactQuestion:
    """What a question asks of the letters' facts. ``fact`` is "lead", "when", "judgement",
    "previous" or None (a question about findings)."""

    fact: str | None = None
    areas: tuple[str, ...] = ()
    grade: str | None = None
    framework: str | None = None


def areas_named(text: str) -> tuple[str, ...]:
    """The judgement area keys a phrase names ("care leavers" -> both frameworks' care leaver areas)."""
    keys: list[str] = []
    for m in _ASKED_AREA.finditer(text):
        said = " ".join(m.group(0).lower().replace("’", "'").split())
        for a in AREAS:
            if said in a["asked"] and a["key"] not in keys:
                keys.append(a["key"])
    return tuple(keys)


def grade_named(text: str) -> str | None:
    m = _QUESTION_GRADE.search(text)
    return normal_grade(m.group(0)) if m else None


def framework_named(text: str) -> str | None:
    return next((key for key, rx in _ASKED_FRAMEWORK.items() if rx.search(text)), None)


def read_question(text: str, names_authority: bool) -> FactQuestion:
    """Read what a question asks of the facts. ``names_authority``: the question names one.

    "Who led the 2023 inspection of Dudley?" -> lead; "When was Manchester inspected?" ->
    when; "Which authorities were judged inadequate for overall effectiveness?" -> judgement
    (overall effectiveness, inadequate); "Which authorities had previously been judged
    inadequate?" -> previous (inadequate).
    """
    areas, grade, framework = areas_named(text), grade_named(text), framework_named(text)
    judged = bool(_CUE["judged"].search(text))
    if _CUE["previous"].search(text) and (judged or grade):
        return FactQuestion("previous", areas, grade, framework)
    if judged and (areas or grade or names_authority):
        return FactQuestion("judgement", areas, grade, framework)
    if areas and grade and _CUE["services"].search(text):
        return FactQuestion("judgement", areas, grade, framework)
    if names_authority and _CUE["lead"].search(text):
        return FactQuestion("lead", (), None, framework)
    if names_authority and _CUE["when"].search(text) and _CUE["when_event"].search(text):
        return FactQuestion("when", (), None, framework)
    return FactQuestion(None, (), None, framework)


def read_judgement_filter(text: str) -> tuple[tuple[str, ...], str]:
    """A judgement filter as a person types it: "inadequate for help and protection",
    "help_and_protection=inadequate", "inadequate" (overall effectiveness). Raises FilterError."""
    text = text.strip()
    if "=" in text:
        key, _, grade = text.partition("=")
        areas = (key.strip(),) if key.strip() in AREA_LABELS else areas_named(key.replace("_", " "))
        grade = normal_grade(grade) or grade_named(grade)
    else:
        areas, grade = areas_named(text), grade_named(text)
    if not grade or (areas == () and re.sub(_QUESTION_GRADE, "", text).strip(" :,-") not in ("", "overall", "for")):
        raise FilterError(
            f"cannot read the judgement {text!r}; write a grade and an area, e.g. "
            "\"inadequate for help and protection\" or \"care_leavers=good\" (areas: "
            + ", ".join(AREA_LABELS) + ")")
    return areas or ("overall_effectiveness",), grade
