"""Reading a question without a language model: which authorities, which dates, which
kind of letter, and whether it asks about every authority or wants a few quotes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, replace

from . import evidence, facts
from .authorities import ENGLISH_AUTHORITIES, canonical_name, name_pattern
from .errors import FilterError, QuestionError
from .metadata import MONTH, MONTHS

#: The longest question read (characters). Reading is linear in the length, but a question
#: is one question: this keeps every request's work small however it is sent.
MAX_QUESTION_CHARS = 2000

_YEAR = r"(20[0-3]\d|19[89]\d)"
_MONTH = f"({MONTH})"
_AGGREGATE = re.compile(
    r"\b(which|what|how many|list(?: the)?|name the|any)\s+(?:other\s+)?(?:of the\s+)?"
    r"(?:local\s+)?(authorit(?:y|ies)|councils?|areas?|las|places|letters|boroughs)\b"
    r"|^\s*(?:in\s+|at\s+)?where\b|\bwhere (?:did|do|were|was|are|is|have|has)\b"
    r"|\b(?:across|in) (?:all|every|each) (?:of the )?(?:authorit|council|letter|area)",
    re.IGNORECASE,
)
_KINDS = (
    (re.compile(r"\bfocused visits?\b", re.I), "focused visit"),
    (re.compile(r"\bmonitoring visits?\b", re.I), "monitoring visit"),
    (re.compile(r"\bcabinet (?:reports?|meetings?|papers?)\b", re.I), "cabinet report"),
    (re.compile(r"\bjoint targeted area inspections?\b|\bJTAIs?\b", re.I), "joint targeted area inspection"),
)
#: A question asking to put two or more named authorities side by side, and the words that
#: lead to its theme ("compare Leeds and Dudley on care leavers").
_COMPARE = re.compile(r"\bcompar(?:e|es|ed|ing|ison)\b|\bside[- ]by[- ]side\b|\bversus\b|\bvs\b\.?", re.I)
_COMPARE_LEAD = re.compile(r"^.*?\b(?:on|about|over|regarding|for|in terms of|when it comes to|with regard to)\s+", re.I)
_COMPARE_FRAME = re.compile(r"^\s*(?:how\s+(?:do|does|did)|please)\b|\b(?:with|against)\b", re.I)
#: A question about one authority's change over time: "How has Dudley changed since 2019?",
#: "What is Wirral's history?", "Dudley's inspections over time". Its words are taken out of
#: the topic: what is left (if anything) is the theme to follow.
_TIMELINE = re.compile(
    r"\bhow\s+(?:has|have|did)\b(?P<who>.{0,60}?)\b(?:changed|improved|progressed|developed|got\s+on|fared)\b"
    r"|\b(?:inspection\s+)?(?:history|timeline|track\s+record)\b|\bover\s+(?:time|the\s+years)\b"
    r"|\bchanged\s+since\b",
    re.IGNORECASE,
)
_TIMELINE_FRAME = re.compile(r"^\s*(?:what\s+(?:is|was|are)|show(?:\s+me)?|tell\s+me)\b|['’]s\b|\b(?:its|their)\b",
                             re.IGNORECASE)
_FILLER = re.compile(
    r"^\s*(?:and|but|so|also|what about|how about|tell me about)\b[\s,]*|\b(?:please|ofsted|inspectors? (?:say|said|found))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Query:
    """How a question was read. ``topic`` is what is searched for once names and dates are taken out."""

    question: str
    topic: str
    authorities: tuple[str, ...] = ()
    unknown_authorities: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    kind: str | None = None
    aggregate: bool = False
    undated: bool = False  # under a date filter, also check letters with no date
    #: what the question asks of the letters' facts ("lead", "when", "judgement", "previous"),
    #: with the judgement areas and grade it names (see facts.read_question)
    fact: str | None = None
    areas: tuple[str, ...] = ()
    grade: str | None = None
    #: filters: only letters of this framework; only letters with this judgement (areas, grade)
    framework: str | None = None
    judgement: tuple[tuple[str, ...], str] | None = None
    #: a question asking for a view rather than quotes: "compare" (authorities side by side on
    #: the topic) or "timeline" (one authority's letters over time)
    mode: str | None = None
    #: the polarity the topic asks about: -1 weaknesses, +1 strengths, 0 neither
    #: (``evidence.question_stance``; read from the topic when not given)
    polarity: int | None = None
    #: what kind of thing the answer names: "date", "quantity", "count", "person" or None
    #: (``evidence.answer_type``; read from the question when not given)
    answer_type: str | None = None

    def __post_init__(self):
        if self.polarity is None:
            object.__setattr__(self, "polarity", evidence.question_stance(self.topic))
        if self.answer_type is None:
            object.__setattr__(self, "answer_type", evidence.answer_type(self.question or self.topic))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["authorities"], d["unknown_authorities"] = list(self.authorities), list(self.unknown_authorities)
        return d

    def describe(self) -> str:
        """One line a person can check: what was searched, for whom, when."""
        parts = [f"topic: {self.topic or '(none)'}"]
        parts.append("authorities: " + (", ".join(self.authorities + self.unknown_authorities) or "all"))
        if self.since or self.until:
            parts.append(f"dated {self.since or '…'} to {self.until or '…'}"
                         + (", undated letters too" if self.undated else ", undated letters left out"))
        if self.kind:
            parts.append(f"kind: {self.kind}")
        if self.framework:
            parts.append(f"framework: {self.framework}")
        if self.judgement:
            areas = " or ".join(facts.AREA_LABELS.get(a, a) for a in self.judgement[0])
            parts.append(f"judged {self.judgement[1]} for {areas}")
        if self.polarity and self.mode is None:  # a compare table or a timeline reads both
            parts.append("looking for: " + ("weaknesses" if self.polarity < 0 else "strengths"))
        if self.answer_type and self.mode is None:
            parts.append(f"wants: a {self.answer_type}")
        if self.fact:
            parts.append(f"asks the letters' facts: {self.fact}")
        if self.mode == "compare":
            parts.append("answer: a compare table, each authority's latest letter (or each letter in the dates)")
        elif self.mode == "timeline":
            parts.append("answer: the authority's letters over time")
        else:
            parts.append("answer: per authority, every letter checked" if self.aggregate else "answer: best quotes")
        return " · ".join(parts)

    def with_filters(self, authority=None, since=None, until=None, kind=None, undated=None, *, judgement=None,
                     framework=None) -> "Query":
        """Explicit filters (from the CLI, API or app) override what the question said.

        ``judgement`` is (area keys, grade) or text such as "inadequate for help and
        protection"; ``framework`` a key of facts.FRAMEWORKS. Raises FilterError for either
        when it cannot be read, for a date that is not YYYY-MM-DD, or a range that ends
        before it starts.
        """
        q = self
        since, until = parse_day(since, "From"), parse_day(until, "To")
        if since and until and since > until:
            raise FilterError(f"the dates run backwards (from {since} to {until}); swap them")
        if undated is not None:
            q = replace(q, undated=bool(undated))
        if authority:
            names = (authority,) if isinstance(authority, str) else tuple(authority)
            q = replace(q, authorities=tuple(names), unknown_authorities=(),
                        aggregate=q.aggregate and len(names) > 1)
        if since:
            q = replace(q, since=since)
        if until:
            q = replace(q, until=until)
        if kind:
            q = replace(q, kind=kind)
        if judgement:
            q = replace(q, judgement=facts.read_judgement_filter(judgement) if isinstance(judgement, str)
                        else (tuple(judgement[0]), judgement[1]))
        if framework:
            if framework not in facts.FRAMEWORKS:
                framework = facts.framework_named(framework) or framework
            if framework not in facts.FRAMEWORKS:
                raise FilterError(f"unknown framework {framework!r}; write one of {', '.join(facts.FRAMEWORKS)}")
            q = replace(q, framework=framework)
        return q


def parse_day(value, label: str = "date") -> str | None:
    """A filter date as YYYY-MM-DD (a ``datetime.date``/``datetime`` is accepted too); None when empty.

    Raises FilterError saying what to type instead: nothing is silently ignored.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    text = str(value).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]) or text[10:].strip(" T0:"):
            raise ValueError
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise FilterError(f"{label}: “{text}” is not a date; use YYYY-MM-DD, for example 2019-06-01 "
                          "(or pick it from the calendar)") from None


class QuestionReader:
    """Reads questions against the authorities an index knows (and all English ones)."""

    def __init__(self, known: dict[str, str]):
        """``known`` maps each name as it may be written (lower case) to its canonical name."""
        self.known = {k.lower(): v for k, v in known.items()}
        self._pattern = name_pattern(list(self.known) + list(ENGLISH_AUTHORITIES))

    def read(self, question: str) -> Query:
        """How ``question`` is understood. Raises QuestionError for a non-text or too long question."""
        text = " ".join(check_question(question).split())
        found, unknown, spans = [], [], []
        if self._pattern:
            for m in self._pattern.finditer(text):
                raw = " ".join(m.group(1).split())
                if raw.islower() and raw.lower() in _COMMON_WORDS:
                    continue  # "reading" the verb is not Reading the council
                name = self.known.get(raw.lower()) or self.known.get(canonical_name(raw).lower())
                if name:
                    found.append(name) if name not in found else None
                else:
                    c = canonical_name(raw)
                    unknown.append(c) if c not in unknown else None
                spans.append(m.span())
        since, until, date_spans = _dates(text)
        kind = next((k for rx, k in _KINDS if rx.search(text)), None)
        names = len(found) + len(unknown)
        aggregate = (bool(_AGGREGATE.search(text)) and names != 1) or len(found) > 1
        topic = _remove(text, spans + date_spans)
        topic = _FILLER.sub(" ", topic)
        topic = " ".join(topic.split()).strip(" ,?.!")
        asked = facts.read_question(text, names > 0)
        mode = None
        if names > 1 and _COMPARE.search(text):
            mode, topic = "compare", compare_theme(topic)
        elif names == 1 and not asked.fact and _TIMELINE.search(topic):  # one authority over time
            mode, aggregate = "timeline", False
            topic = " ".join(_TIMELINE_FRAME.sub(" ", _TIMELINE.sub(" ", topic)).split()).strip(" ,?.!")
            topic = re.sub(r"^(?:(?:the|of|on|in|about|for|with|regarding|and)\b\s*)+", "", topic, flags=re.I)
        return Query(question=question, topic=topic, authorities=tuple(found),
                     unknown_authorities=tuple(unknown), since=since, until=until, kind=kind,
                     aggregate=aggregate, fact=asked.fact, areas=asked.areas, grade=asked.grade,
                     framework=asked.framework, mode=mode)


def compare_theme(topic: str) -> str:
    """The theme of a compare question once its names are out: "Compare on care leavers" ->
    "care leavers", "How do compare on management oversight" -> "management oversight"."""
    lead = _COMPARE_LEAD.match(topic)
    theme = topic[lead.end():] if lead and _COMPARE.search(topic[:lead.end()]) else _COMPARE.sub(" ", topic)
    theme = _COMPARE_FRAME.sub(" ", theme)
    return " ".join(theme.split()).strip(" ,?.!:;-")


def check_question(question) -> str:
    """``question`` if it is text no longer than MAX_QUESTION_CHARS; QuestionError otherwise."""
    if not isinstance(question, str):
        raise QuestionError(f"a question must be text, not {type(question).__name__}; send it as a string")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question):,} characters long; questions may have at most "
                            f"{MAX_QUESTION_CHARS:,}: ask about one thing at a time")
    return question


_COMMON_WORDS = {"reading", "bury", "sutton", "derby", "kent", "essex", "york", "hull", "sandwell", "halton"}


_LEAD = re.compile(r"\b(?:in|for|at|of|to|about|from|by|and|between)\s+$", re.I)
#: Enough of the text before a name to hold the little word that led to it ("between ").
_LEAD_WINDOW = 16


def _remove(text: str, spans: list[tuple[int, int]]) -> str:
    """Take names and dates out of the question, with the little word that led to them.

    One pass over the text (linear in its length, however many names it holds)."""
    out, pos = [], 0
    for s, e in sorted(spans):
        if e <= pos:
            continue
        s = max(s, pos)
        lo = max(pos, s - _LEAD_WINDOW)
        lead = _LEAD.search(text, lo, s)
        if lead:
            s = lead.start()
        out.append(text[pos:s])
        out.append(" ")
        pos = e
    out.append(text[pos:])
    text = "".join(out)
    text = re.sub(r"\s+([,?.!])", r"\1", " ".join(text.split()))
    return re.sub(r"^[,\s]+|(?<=\s),\s*", "", text)


def _dates(text: str) -> tuple[str | None, str | None, list[tuple[int, int]]]:
    """Date limits said in the question: "in 2017", "since March 2018", "between 2017 and 2019"."""
    spans = []
    m = re.search(rf"\bbetween\s+(?:{_MONTH}\s+)?{_YEAR}\s+and\s+(?:{_MONTH}\s+)?{_YEAR}\b", text, re.I)
    if m:
        spans.append(m.span())
        return _start(m.group(2), m.group(1)), _end(m.group(4), m.group(3)), spans
    since = until = None
    m = re.search(rf"\b(?:since|after|from)\s+(?:{_MONTH}\s+)?{_YEAR}\b", text, re.I)
    if m:
        spans.append(m.span())
        since = _start(m.group(2), m.group(1))
    m2 = re.search(rf"\b(?:before|until|up to|by)\s+(?:{_MONTH}\s+)?{_YEAR}\b", text, re.I)
    if m2:
        spans.append(m2.span())
        year, month = int(m2.group(2)), m2.group(1)
        first = dt.date(year, MONTHS.index(month.lower()) + 1 if month else 1, 1)
        until = (first - dt.timedelta(days=1)).isoformat()
    if since or until:
        return since, until, spans
    m = re.search(rf"\b(?:in\s+|during\s+)?(?:{_MONTH}\s+)?{_YEAR}(?:['’]s)?\b", text, re.I)
    if m:
        spans.append(m.span())
        return _start(m.group(2), m.group(1)), _end(m.group(2), m.group(1)), spans
    return None, None, spans


def _start(year: str, month: str | None) -> str:
    return dt.date(int(year), MONTHS.index(month.lower()) + 1 if month else 1, 1).isoformat()


def _end(year: str, month: str | None) -> str:
    if not month:
        return f"{year}-12-31"
    m = MONTHS.index(month.lower()) + 1
    nxt = dt.date(int(year) + (m == 12), m % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).isoformat()


_CARRY_AUTHORITY = re.compile(r"^\s*(?:and|also|what about|how about)\b|\b(?:their|they|them|its|there|that authority|the same)\b",
                              re.IGNORECASE)


def follow_up(query: Query, previous: Query | None) -> Query:
    """Read a question in the light of the one before it, as in a conversation.

    "what about Dudley?" after "which authorities had weak contingency planning?" asks the
    same thing about Dudley (the polarity asked and the kind of answer wanted go with the
    topic: "what about Leeds?" after a "when" question wants a date); "and their child
    protection plans?" keeps the authority.
    """
    if previous is None:
        return query
    from .textsearch import tokenize

    named = query.authorities or query.unknown_authorities
    if not tokenize(query.topic) and (named or query.since or query.until or query.kind):
        return replace(query, topic=previous.topic, aggregate=previous.aggregate and not named and
                       len(query.authorities) != 1, since=query.since or previous.since,
                       until=query.until or previous.until, kind=query.kind or previous.kind,
                       fact=query.fact or previous.fact, areas=query.areas or previous.areas,
                       grade=query.grade or previous.grade,
                       mode=query.mode or (previous.mode if len(named) == 1 else None),
                       polarity=previous.polarity, answer_type=query.answer_type or previous.answer_type)
    if not named and _CARRY_AUTHORITY.search(query.question) and previous.authorities:
        return replace(query, authorities=previous.authorities, unknown_authorities=(),
                       aggregate=query.aggregate and len(previous.authorities) > 1,
                       since=query.since or previous.since, until=query.until or previous.until)
    return query
