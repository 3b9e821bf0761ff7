"""How well one sentence answers a question: the calibrated evidence score.

Five signals, each readable on its own:

- meaning: cosine between the question and the sentence read in its passage;
- words: the share of the question's content words (weighted by rarity) that the
  sentence has, with words only in the sentences beside it counting half;
- stance: a question about weaknesses ("weak", "not ... enough", "too long") wants
  sentences that report a weakness of the very thing it asks about ("supervision is not
  reflective" for "supervision not reflective enough"), and a question about strengths the
  reverse; a sentence with the opposite stance counts against, as does one saying an amount
  went the other way ("reduced caseloads" for "high caseloads"). A recommendation ("Ensure
  that plans are specific") reports a weakness, and a hedged strength ("potentially a
  strength") is none;
- answer type: "when" wants a date, "how long" a duration or figure, "how many" a number,
  "who" a name; "which <thing>" is answered by the words that name the thing, and the
  engine quotes each place that names it so;
- the passage: how close the whole passage around the sentence is to the question.

Words that only frame the question ("which authorities", "inspectors found") and words
that carry its stance are left out of the word signal: the stance signal has them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .metadata import DATE_RE, MONTH
from .textsearch import stem_words, tokenize

# A sentence's stance is read word by word (set look-ups are far quicker than one large
# pattern per sentence): single words, and short phrases as tuples of words.
_DEFICIT_WORDS = frozenset("""
not no nor never cannot lack lacks lacking insufficient insufficiently inadequate inadequately weak weakness
weaknesses weaker weakly poor poorly poorer fail fails failed failing failure failures too delay delays delayed
missed limited variable inconsistent inconsistently inconsistency minority concern concerns concerning
deteriorate deteriorates deteriorated deteriorating deterioration unclear unsafe drift slow little absent absence
unmet gap gaps hamper hampers unrealistic ineffective worse shortfall shortfalls backlog backlogs
""".split())
_DEFICIT_PHRASE_LIST = (("requires", "improvement"), ("require", "improvement"), ("need", "to", "improve"),
                        ("needs", "to", "improve"), ("more", "needs", "to", "be", "done"), ("waiting", "list"),
                        ("waiting", "lists"))
_STRENGTH_WORDS = frozenset("""
good strong strongly stronger strength strengths strengthened effective effectively improved improving improvement
improvements positive positively well robust timely impressive value valued helpful excellent outstanding
successful successfully appropriate appropriately thorough better
""".split())
_STRENGTH_PHRASE_LIST = (("high", "quality"),)
#: A recommendation ("Ensure that all plans are specific", "Develop a robust training
#: strategy") says what is missing: its first word counts as a weakness word, and its strength
#: words ("robust", "effective") say what should be, so they do not count.
_REMEDIES = frozenset("""
ensure develop strengthen improve increase reduce establish embed address prioritise prioritize tighten
raise enhance
""".split())
_HEDGES = frozenset("potentially possibly could should would may might".split())
HEDGE_REACH = 2


def _by_first_word(phrases: tuple) -> dict:
    out: dict = {}
    for phrase in phrases:
        out.setdefault(phrase[0], []).append(phrase)
    return out


_DEFICIT_PHRASES = _by_first_word(_DEFICIT_PHRASE_LIST)
_STRENGTH_PHRASES = _by_first_word(_STRENGTH_PHRASE_LIST)
_SENTENCE_WORD = re.compile(r"\w+(?:['’]t\b)?")


_STANCE_FIRST = _DEFICIT_WORDS | _STRENGTH_WORDS | set(_DEFICIT_PHRASES) | set(_STRENGTH_PHRASES)


def _positions(words: list[str]) -> tuple[list[int], list[int]]:
    """Positions of the weakness words and of the strength words (a phrase at its first word),
    in one pass: most words are neither, and one set look-up tells."""
    deficits, strengths = [], []
    for i, w in enumerate(words):
        negation = w.endswith(("n't", "n’t"))
        if w not in _STANCE_FIRST and not negation:
            continue
        for found, singles, phrases, negations in ((deficits, _DEFICIT_WORDS, _DEFICIT_PHRASES, True),
                                                   (strengths, _STRENGTH_WORDS, _STRENGTH_PHRASES, False)):
            if w in singles or (negations and negation):
                found.append(i)
            for phrase in phrases.get(w, ()):
                if tuple(words[i:i + len(phrase)]) == phrase:
                    found.append(i)
    return deficits, strengths


_QUESTION_NEGATIVE = re.compile(
    r"\b(?:weak\w*|poor\w*|fail\w*|lack\w*|insufficient\w*|inadequate\w*|concerns?|problems?|criticis\w*|"
    r"shortcomings?|deficien\w*|too long|too slow|delays?|not|n['’]t|worse|deteriorat\w*|gaps?|missed)\b",
    re.IGNORECASE,
)
_QUESTION_POSITIVE = re.compile(
    r"\b(?:strengths?|strong|good|praised?|effective(?:ly)?|improv\w*|positive\w*|well|impressive|outstanding)\b",
    re.IGNORECASE,
)
_STANCE_WORDS = set(tokenize(
    "weak weakness weaknesses poor failing fail failed lack lacking insufficient inadequate concern concerns "
    "problem problems criticised shortcomings deficient delay delays worse deteriorated gaps missed enough "
    "strength strengths strong good praised effective improving improved improvement positive impressive "
    "outstanding sufficiently well"
))
_FRAME_WORDS = set(tokenize(
    "authority authorities council councils area areas letter letters inspector inspectors inspection ofsted "
    "find found say said says report reported mention mentioned describe described tell"
))

_NUMBER = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|half|several|few)\b",
    re.IGNORECASE,
)
_DURATION = re.compile(r"\b(?:days?|weeks?|months?|years?|hours?)\b|\d+-(?:day|week|month|year)", re.IGNORECASE)
#: A run of capitalised words ("Susan Myers", "Ian G Young", "Wirral Metropolitan Borough
#: Council"); see ``_names_person``.
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z]+(?:['’]s)?(?:\s+(?:[A-Z]\.?|[A-Z][a-z]+(?:['’]s)?)\b)+")
_NOT_A_PERSON = frozenset("""
council borough metropolitan city county district services service department board team teams hub house
street road square centre center court office education local authority authorities safeguarding ofsted
children's children family families young people care social health school schools partnership trust
group forum panel unit academy executive cabinet committee plan framework inspection report act
national england west east north south midlands yorkshire london kingdom majesty's her his the this
monday tuesday wednesday thursday friday saturday sunday january february march april may june july
august september october november december
""".split())
_ANSWER_TYPES = (
    (re.compile(r"^\s*(?:when|on what dates?|what dates?)\b", re.I), "date"),
    (re.compile(r"\bhow (?:long|soon|often|quickly)\b", re.I), "quantity"),
    (re.compile(r"\bhow (?:many|much)\b|\bwhat (?:number|proportion|percentage)\b", re.I), "count"),
    (re.compile(r"^\s*(?:who|whom)\b", re.I), "person"),
)

DENSE_WEIGHT = 0.4  # the sentence, read in its passage
PASSAGE_WEIGHT = 0.1  # the whole passage around it
WORDS_WEIGHT = 0.35
STANCE_WEIGHT = 0.12
ANSWER_TYPE_WEIGHT = 0.08
#: Credit for a question word found only in a neighbouring sentence, and the power that
#: makes the word signal a soft AND (a sentence with half the words gets a quarter).
NEAR_CREDIT = 0.5
WORD_POWER = 2.0
#: The score a sentence must reach to be quoted at all, and to make an authority count in a
#: "which authorities" answer (a claim about the authority, so the bar is higher).
#: Both calibrated on the development questions (eval/questions.jsonl).
THRESHOLD = 0.33
AGGREGATE_THRESHOLD = 0.45


def search_terms(topic: str) -> list[str]:
    """The question's words for keyword search: everything but the words that frame it."""
    terms = [t for t in tokenize(topic) if t not in _FRAME_WORDS]
    return terms or tokenize(topic)


_EVALUATIVE = re.compile(r"\b(?:too|not|nor|insufficiently|sufficiently)\s+(?:\w+ly\s+)?(?:long|slow|late|quick|few|many|much|often|good|strong|clear)\b", re.I)
#: "not properly identified": the manner word after a negation says how badly, not what about.
_NEGATED_MANNER = re.compile(r"\b(not|never|nor|n['’]t)\s+\w{3,}ly\b", re.I)
#: "Who were the inspectors?": the role asked about is the topic, even when it is a frame word.
_ROLE_ASKED = re.compile(r"^\s*who\s+(?:is|was|were|are)\s+(?:the\s+)?(\w+)", re.I)


def content_terms(topic: str) -> list[str]:
    """The question's words that say what it is about (stems, no frame or stance words).

    Evaluative phrases ("too long", "not good", "not properly") carry stance, not topic, and
    are left out too.
    """
    role = _ROLE_ASKED.match(topic)
    keep = set(tokenize(role.group(1))) if role else set()
    topic = _NEGATED_MANNER.sub(r"\1", _EVALUATIVE.sub(" ", topic))
    terms = [t for t in tokenize(topic) if t in keep or (t not in _FRAME_WORDS and t not in _STANCE_WORDS)]
    return terms or search_terms(topic)


def question_stance(topic: str) -> int:
    """-1 when the question asks about weaknesses, +1 about strengths, 0 otherwise.

    A weakness word wins over a strength word: "failing to improve" asks about weaknesses.
    """
    if _QUESTION_NEGATIVE.search(topic):
        return -1
    return 1 if _QUESTION_POSITIVE.search(topic) else 0


def sentence_stance(text: str) -> int:
    """-1 when the sentence reports a weakness, +1 a strength only, 0 neither."""
    return stance_of(sentence_markers(text))


def stance_of(markers: tuple[list[str], list[int], list[int]]) -> int:
    """The stance that ``sentence_markers`` found: a weakness word wins over a strength word."""
    _, deficits, strengths = markers
    return -1 if deficits else (1 if strengths else 0)


_WORDS = re.compile(r"\w+")
#: How close (in words) a stance word must be to what it is about: in the question, to pick
#: the words it qualifies ("not reflective enough" -> reflective); in a sentence, to count as
#: a finding about that very thing ("supervision is not sufficiently detailed or reflective").
QUESTION_REACH = 4
SENTENCE_REACH = 8


def _word_stems(text: str) -> tuple[list[str], list[int]]:
    words = list(_WORDS.finditer(text.lower()))
    return stem_words([w.group(0) for w in words]), [w.start() for w in words]


def _marker_positions(text: str, pattern: re.Pattern[str], starts: list[int]) -> list[int]:
    import bisect

    return [max(0, bisect.bisect_right(starts, m.start()) - 1) for m in pattern.finditer(text)]


def stance_targets(topic: str, idf=None, want: int | None = None) -> set[str]:
    """Stems of the words a question's stance words qualify: "weak contingency planning" ->
    contingency, "supervision not reflective enough" -> reflective, "audits failing" -> audits.

    A stance word qualifies the distinctive content words after it (within QUESTION_REACH
    words), or, when there are none, those before it ("wait too long"). With ``idf`` given,
    common words (under half the rarest word's weight) are not distinctive. ``want``: the
    polarity the question asks about, when it has been read already.
    """
    want = question_stance(topic) if want is None else want
    if not want:
        return set()
    stems, starts = _word_stems(topic)
    marks = _marker_positions(topic, _QUESTION_NEGATIVE if want < 0 else _QUESTION_POSITIVE, starts)
    content = set(content_terms(topic))
    if idf is not None and content:
        top = max(idf(t) for t in content)
        content = {t for t in content if idf(t) >= 0.5 * top}
    targets = set()
    for m in marks:
        after = [stems[i] for i in range(m + 1, min(len(stems), m + QUESTION_REACH + 1)) if stems[i] in content]
        before = [stems[i] for i in range(max(0, m - QUESTION_REACH), m) if stems[i] in content]
        targets.update(after or before)
    return targets


def sentence_markers(sentence: str) -> tuple[list[str], list[int], list[int]]:
    """A sentence's word stems and the word positions of its weakness and strength words."""
    words = [w.lower() for w in _SENTENCE_WORD.findall(sentence)]
    stems = stem_words([w.replace("’", "'") for w in words])
    deficits, strengths = _positions(words)
    if words and words[0] in _REMEDIES and sentence.lstrip()[:1].isupper():
        return stems, sorted({0, *deficits}), []
    # "potentially a strength", "should enable": what may be, not what is
    strengths = [i for i in strengths if not _HEDGES.intersection(words[max(0, i - HEDGE_REACH):i])]
    return stems, deficits, strengths


def targeted(markers: tuple[list[str], list[int], list[int]], targets: set[str], want: int) -> bool:
    """True when the sentence's own stance word stands next to what the question is about.

    ``markers`` is what ``sentence_markers`` gives for the sentence; its stems and ``targets``
    may also both be word numbers (as the index stores them).
    """
    if not targets or not want:
        return False
    stems, deficits, strengths = markers
    marks = deficits if want < 0 else strengths
    if not marks:
        return False
    hits = [i for i, s in enumerate(stems) if s in targets]
    return any(abs(m - h) <= SENTENCE_REACH for m in marks for h in hits)


#: Answer types a sentence can hold, as bits of its stored flags (see ``sentence_facts``).
ANSWER_TYPE_BITS = {"date": 1, "quantity": 2, "person": 4, "count": 8}


def sentence_facts(sentence: str) -> tuple[list[str], list[str], list[int], int]:
    """What scoring needs of a sentence, none of it depending on the question: its keyword
    tokens, its word stems, its stance words (position * 2, + 1 for a strength word) and
    the answer types it holds (ANSWER_TYPE_BITS). Worked out once, when letters are indexed."""
    stems, deficits, strengths = sentence_markers(sentence)
    marks = sorted([2 * i for i in deficits] + [2 * i + 1 for i in strengths])
    flags = sum(bit for kind, bit in ANSWER_TYPE_BITS.items() if has_answer_type(sentence, kind))
    return tokenize(sentence), stems, marks, flags


@functools.cache
def facts_signature() -> str:
    """A short hash of everything ``sentence_facts`` depends on (word lists, patterns, the
    tokenizer's stop words; change the hashed parts if ``sentence_facts`` ever changes what
    it gives for the same lists). An index whose stored facts carry another signature has them
    worked out again by `assistant index` (no letter is embedded again)."""
    import hashlib

    from .textsearch import STOPWORDS

    parts = [sorted(_DEFICIT_WORDS), _DEFICIT_PHRASE_LIST, sorted(_STRENGTH_WORDS), _STRENGTH_PHRASE_LIST,
             sorted(_REMEDIES), sorted(_HEDGES), HEDGE_REACH, "recommendations are weaknesses",
             _SENTENCE_WORD.pattern, _NUMBER.pattern, _DURATION.pattern, _CAPITALISED_RUN.pattern,
             sorted(_NOT_A_PERSON), sorted(STOPWORDS), sorted(ANSWER_TYPE_BITS.items())]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


#: Word stems that say which way an amount goes ("high caseloads", "reduced caseloads").
_UP = frozenset("high higher increas rise rose grow grew larg larger long longer".split())
_DOWN = frozenset("low lower reduc decreas fall fell small smaller short shorter fewer".split())
_DIRECTION = _UP | _DOWN
#: How near (in words) such a word must be to the thing it qualifies.
DIRECTION_REACH = 3


def directions(topic: str, terms: list[str] | None = None) -> list[tuple[str, frozenset, frozenset]]:
    """What the question says goes up or down: for "high caseloads", ("caseload", words that
    say the same way, words that say the other way). ``terms``: its content_terms, if known."""
    stems, _ = _word_stems(topic)
    content = set(content_terms(topic) if terms is None else terms)
    out = []
    for i, w in enumerate(stems):
        same, other = (_UP, _DOWN) if w in _UP else (_DOWN, _UP) if w in _DOWN else (None, None)
        if same is None:
            continue
        for j in range(max(0, i - 2), min(len(stems), i + 3)):
            if j != i and stems[j] in content and stems[j] not in _DIRECTION:
                out.append((stems[j], same, other))
    return out


def contradicts(stems: list, opposed: list[tuple]) -> bool:
    """True when the sentence (its word stems, or their numbers) says the thing the question
    asks about goes the other way ("Reduced caseloads ..." for "high caseloads") and nowhere
    the same way. ``opposed`` is what ``directions`` gives (with numbers for words, if stems are)."""
    for thing, same, other in opposed:
        near = [stems[k] for j, w in enumerate(stems) if w == thing
                for k in range(max(0, j - DIRECTION_REACH), min(len(stems), j + DIRECTION_REACH + 1))]
        if any(w in other for w in near) and not any(w in same for w in near):
            return True
    return False


#: "Which screening tool has ...", "What practice approach ...": the kind of thing a factoid
#: question asks for. The letters name one by the words before it ("a gangs screening tool",
#: "the restorative practice approach"); see ``name_words``.
_ASKED_THING = re.compile(r"^\s*(?:what|which)\s+((?:[\w'’-]+\s*){1,4})", re.I)
_AUXILIARIES = frozenset("has have had did does do is are was were will would can could should might must".split())
_PREPOSITIONS = frozenset("in for of at on from by with to about across within into after before during among".split())
_THING_ENDS = _AUXILIARIES | _PREPOSITIONS
#: How many words before the thing can name it ("child and adolescent response team").
NAME_REACH = 3


def asked_thing(topic: str) -> str | None:
    """The stem of the thing a "what/which <thing> ..." question asks for ("team" in "Which
    team provides intensive help?", "approach" in "What practice approach has ... implemented?"),
    or None ("What did inspectors say ...", "What is ...").

    The thing runs from the question word to an auxiliary ("What practice approach has");
    otherwise ("Which team deals with", "What tools for neglect") it is the first word.
    """
    m = _ASKED_THING.match(topic)
    if not m:
        return None
    words = m.group(1).lower().split()
    end = next((i for i, w in enumerate(words) if w in _THING_ENDS), None)
    thing = words[:end] if end is not None and words[end] in _AUXILIARIES else words[:1]
    if not thing or thing[-1] in _AUXILIARIES:
        return None
    head = tokenize(thing[-1])
    return head[0] if head and head[0] not in _FRAME_WORDS else None


def name_words(stems: list, thing, ignore) -> set:
    """The words before ``thing`` in a sentence (its word stems, or their numbers) that name it,
    leaving out ``ignore`` (the question's own words and stop words): {"restor", "strength",
    "base"} in "the restorative strength-based approach"."""
    return {stems[k] for j, w in enumerate(stems) if w == thing
            for k in range(max(0, j - NAME_REACH), j) if stems[k] not in ignore}


@dataclass(frozen=True)
class Probe:
    """The question's side of sentence scoring, worked out once per question."""

    terms: list[str]  # content words, in order
    weights: dict[str, float]  # each distinct content word's weight (rarer weighs more)
    want: int  # question_stance
    targets: frozenset[str]  # stance_targets
    kind: str | None  # answer_type
    opposed: tuple = ()  # directions
    thing: str | None = None  # asked_thing


def probe(topic: str, want: int, kind: str | None, idf) -> Probe:
    """The scoring side of a question about ``topic`` asking for the polarity ``want`` and an
    answer of type ``kind`` (as the question reader found them); ``idf(word)`` gives a word's
    rarity in the collection."""
    terms = content_terms(topic)
    return Probe(terms, {t: idf(t) ** 2 for t in dict.fromkeys(terms)}, want,
                 frozenset(stance_targets(topic, idf, want)), kind, tuple(directions(topic, terms)), asked_thing(topic))


def answer_type(question: str) -> str | None:
    """What kind of thing the question wants: a date, a quantity (how long), a count (how
    many), a person, or None."""
    return next((kind for rx, kind in _ANSWER_TYPES if rx.search(question)), None)


_DIGIT = re.compile(r"\d")


def _names_person(words: list[str]) -> bool:
    """True when a run of capitalised words, cut at the words of places, bodies and services,
    leaves two to four words together ("Councillor Val Gibson" in "Councillor Val Gibson
    Children and Young People")."""
    length = 0
    for w in words + ["the"]:
        if w.lower() in _NOT_A_PERSON:
            if 2 <= length <= 4:
                return True
            length = 0
        else:
            length += 1
    return False


#: Any mention of a time a "when" question could be answered with: a date, a month and year,
#: or a year ("in September 2016", "in 2017").
_WHEN = re.compile(rf"\b{MONTH}\s+\d{{4}}\b|\b(?:19|20)\d\d\b")


def names_a_time(text: str) -> bool:
    """True when ``text`` says when (a date, a month and year, or a year)."""
    return bool(_DIGIT.search(text) and (_WHEN.search(text) or DATE_RE.search(text)))


def has_answer_type(text: str, kind: str | None) -> bool:
    if kind == "date":  # every date has digits: most sentences are ruled out by the quick test
        return bool(_DIGIT.search(text) and DATE_RE.search(text))
    if kind == "quantity":  # a duration or a figure: "eight months", "within 12 weeks"
        return bool(_NUMBER.search(text) and (_DURATION.search(text) or _DIGIT.search(text)))
    if kind == "count":  # any number, in figures or words: "one of eight locality team hubs"
        return bool(_NUMBER.search(text))
    if kind == "person":
        return any(_names_person(m.group(0).split()) for m in _CAPITALISED_RUN.finditer(text))
    return False


def word_match(terms: list[str], weights: dict[str, float], sentence: list[str], near: set[str]) -> float:
    """Share of the question's weighted words in the sentence (half for a neighbour's words),
    with a share for the question's word pairs the sentence has side by side."""
    total = sum(weights.values()) or 1.0
    present = set(sentence)
    cover = sum(w if t in present else (w * NEAR_CREDIT if t in near else 0.0) for t, w in weights.items()) / total
    pairs = list(zip(terms, terms[1:]))
    if pairs:
        adjacent = set(zip(sentence, sentence[1:]))
        cover = 0.8 * cover + 0.2 * sum(p in adjacent for p in pairs) / len(pairs)
    return cover ** WORD_POWER


def score(dense: float, passage: float, words: float, stance_match: int, typed: bool = False) -> float:
    """The evidence score: a weighted sum of the signals above (weights at the top of this module)."""
    return (DENSE_WEIGHT * dense + PASSAGE_WEIGHT * passage + WORDS_WEIGHT * words
            + STANCE_WEIGHT * stance_match + ANSWER_TYPE_WEIGHT * typed)
