"""A loaded, read-only view of one committed index, and scoring passages and sentences in it.

A ``Snapshot`` never changes after it is opened: a sync that commits a new state makes a
new snapshot, and questions already running finish on the one they started with.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np

from .errors import IndexCorruptError, IndexMismatchError
from .fusion import fuse
from . import evidence
from .search import DenseIndex
from .store import SENTENCE_FACTS, STANCE_FILE, IndexFolder, LetterRecord, Ragged, ragged_positions
from .textsearch import STOPWORDS, KeywordIndex, stem_words

if TYPE_CHECKING:
    from .question import Query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    """A sentence worth quoting, with the scores that chose it."""

    passage: int
    row: int  # sentence row in the snapshot
    letter: int  # letter number in the snapshot
    score: float  # calibrated evidence score (higher is better)
    dense: float
    coverage: float
    passage_score: float
    typed: bool = False  # holds what the question asks for (a date, a figure, a name)
    reports: bool = False  # has a word of the stance the question asks about ("improved", "weak")


#: Scored's fields, in order: the columns of ``Snapshot.sentence_table``.
SCORED_COLUMNS = ("passage", "row", "letter", "score", "dense", "coverage", "passage_score", "typed", "reports")


def word_stances(marks: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """-1 (a weakness word), +1 (a strength word only) or 0 for each of ``n`` sentences, from
    their stance marks as ``sentence_marks`` gathers them (``owner``: the sentence of each mark;
    an even mark is a weakness word, an odd one a strength word)."""
    weak = np.bincount(owner[marks % 2 == 0], minlength=n) > 0
    strong = np.bincount(owner[marks % 2 == 1], minlength=n) > 0
    return np.where(weak, -1, np.where(strong, 1, 0))


class Snapshot:
    """Everything needed to answer from one committed generation of an index."""

    def __init__(self, root: Path | str):
        self.folder = IndexFolder(root)
        self.manifest = self.folder.read_manifest()
        self.generation = self.manifest["generation"]
        gen = self.folder.root / self.manifest["files"]["generation_dir"]
        repair = f"run `assistant index --index {self.folder.root}` to repair it"
        try:
            self.dense = DenseIndex(gen, (self.manifest["files"].get("hnsw") or {}).get("ef_search"))
            rows = np.load(gen / "passages.npy", allow_pickle=False)
            self.sentence_spans = np.load(gen / "sentences.npy", allow_pickle=False)
            self.sentence_vectors = np.load(gen / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
            self.keyword = KeywordIndex.load(gen / "keyword", n_docs=len(rows), mmap=True)
            self.facts = {name: Ragged.load(gen, name, mmap=True) for name in SENTENCE_FACTS}
            self.flags = np.load(gen / "sentence_flags.npy", allow_pickle=False)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexCorruptError(f"the index in {self.folder.root}/ is incomplete ({exc}); {repair}") from None
        if self.manifest.get("sentence_facts") != evidence.facts_signature():
            raise IndexMismatchError(
                f"the index in {self.folder.root}/ holds sentence facts worked out by another version; run "
                f"`assistant index --index {self.folder.root}` to update them (letters are not embedded again)")
        counts = self.manifest["counts"]
        self.letters: list[dict] = self.manifest["letters"]
        n, m = len(rows), len(self.sentence_spans)
        problems = []
        if self.dense.size != n or len(self.dense.vectors) != n or counts["passages"] != n or \
                (n and self.keyword.size != n):
            problems.append(f"{self.dense.size} vectors, {n} passages, manifest says {counts['passages']}")
        if any(len(r) != m for r in self.facts.values()) or len(self.flags) != m:
            problems.append(f"sentence facts for {sorted({len(r) for r in self.facts.values()})} of {m} sentences")
        if len(self.sentence_vectors) != m or counts["sentences"] != m:
            problems.append(f"{len(self.sentence_vectors)} sentence vectors for {m} sentences")
        if n and int(rows[:, 0].max()) >= len(self.letters):
            problems.append("passages point at letters the manifest does not list")
        if problems:
            raise IndexCorruptError(f"the index in {self.folder.root}/ is inconsistent ({'; '.join(problems)}); {repair}")
        self.passage_letter = rows[:, 0].astype(np.int64) if n else np.zeros(0, np.int64)
        self.letter_first, self.sentence_ptr = passage_layout(rows, len(self.letters), m)
        self._cache: OrderedDict[int, LetterRecord] = OrderedDict()
        self.path_index = {e["path"]: i for i, e in enumerate(self.letters)}
        self._authority_keys = np.array([(e["meta"].get("authority") or "").lower() for e in self.letters], dtype=object)
        self._kinds = np.array([e["meta"].get("kind") or "" for e in self.letters], dtype=object)
        self._authority_numbers: np.ndarray | None = None
        self._lock = Lock()
        self._stances: np.ndarray | None = None  # the scorer's part of the index, read on first use

    def stances_by(self, name: str) -> np.ndarray | None:
        """The sentence stances (rows x P(weakness, strength, mixed, neither)) the index holds as
        worked out by the stance head ``name``, memory-mapped; None when it holds none by it
        (letters indexed before the head, or with another one: `assistant index` catches up)."""
        if self.manifest["files"].get("stances") != name:
            return None
        if self._stances is None:
            gen = self.folder.root / self.manifest["files"]["generation_dir"]
            try:
                held = np.load(gen / STANCE_FILE, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise IndexCorruptError(f"the index in {self.folder.root}/ is incomplete ({exc}); run "
                                        f"`assistant index --index {self.folder.root}` to repair it") from None
            if len(held) != len(self.sentence_spans):
                raise IndexCorruptError(f"the index in {self.folder.root}/ holds stances for {len(held)} of "
                                        f"{len(self.sentence_spans)} sentences; run `assistant index --index "
                                        f"{self.folder.root}` to repair it")
            self._stances = held
        return self._stances

    # -------------------------------------------------------------- letters
    @property
    def size(self) -> int:
        return len(self.passage_letter)

    def record(self, letter: int) -> LetterRecord:
        """The stored letter (text, passages, metadata), cached."""
        with self._lock:
            if letter in self._cache:
                self._cache.move_to_end(letter)
                return self._cache[letter]
        rec = self.folder.read_letter(self.letters[letter]["sha256"])
        with self._lock:
            self._cache[letter] = rec
            while len(self._cache) > 512:
                self._cache.popitem(last=False)
        return rec

    def chunk_of(self, passage: int):
        letter = int(self.passage_letter[passage])
        return letter, self.record(letter).chunks[passage - int(self.letter_first[letter])]

    def authorities(self) -> list[str]:
        return sorted({e["meta"]["authority"] for e in self.letters if e["meta"].get("authority")})

    def passage_vectors(self, passages: np.ndarray) -> np.ndarray:
        return np.asarray(self.dense.vectors[passages], dtype=np.float32)

    def letter_mask(self, authorities=(), since=None, until=None, kind=None, undated=False) -> np.ndarray:
        """Which letters pass the filters. A letter's date is the one it bears, else its visit's
        first day; a letter with neither passes a date filter only when ``undated``."""
        keep = np.ones(len(self.letters), dtype=bool)
        if authorities:
            keep &= np.isin(self._authority_keys, [a.lower() for a in authorities])
        if kind:
            keep &= self._kinds == kind
        if since or until:
            for i in np.flatnonzero(keep):
                d = letter_date(self.letters[i]["meta"])
                keep[i] = undated if d is None else (not since or d >= since) and (not until or d <= until)
        return keep

    def authority_numbers(self) -> np.ndarray:
        """A number per letter, the same for letters about the same authority (by name, any case;
        letters with no authority share one)."""
        if self._authority_numbers is None:
            self._authority_numbers = np.unique(self._authority_keys, return_inverse=True)[1].reshape(-1)
        return self._authority_numbers

    def undated_count(self, letters: np.ndarray) -> int:
        """How many of ``letters`` (a mask) have no date at all."""
        return sum(letter_date(self.letters[i]["meta"]) is None for i in np.flatnonzero(letters))

    def authority_count(self, letters: np.ndarray) -> int:
        """How many authorities the ``letters`` (a mask) are about (letters with none count as one)."""
        return len(np.unique(self._authority_keys[letters]))

    def fact_mask(self, framework: str | None = None, judgement=None) -> np.ndarray:
        """Which letters were inspected under ``framework`` and have ``judgement`` ((area keys, grade))."""
        keep = np.ones(len(self.letters), dtype=bool)
        if framework:
            keep &= np.array([e["meta"].get("framework") == framework for e in self.letters], dtype=bool)
        if judgement:
            areas, grade = judgement
            keep &= np.array([any((e["meta"].get("judgements") or {}).get(a) == grade for a in areas)
                              for e in self.letters], dtype=bool)
        return keep

    # -------------------------------------------------------------- scoring
    def passage_scores(self, qvec: np.ndarray, qtokens: list[str], letters: np.ndarray,
                       raw: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Fused score of every passage of the allowed ``letters`` (-inf for the rest). ``raw``:
        the query's ``raw_scores`` when already worked out (the same query among other letters)."""
        mask = letters[self.passage_letter] if self.size else np.zeros(0, bool)
        if not mask.any():
            return np.full(self.size, -np.inf, dtype=np.float32)
        dense, keyword = raw if raw is not None else self.raw_scores(qvec, qtokens)
        return fuse(dense, keyword, mask=mask)

    def raw_scores(self, qvec: np.ndarray, qtokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every passage's cosine and keyword score for a query, before they are fused."""
        return self.dense.scores(qvec), self.keyword.scores(qtokens)

    def sentence_rows(self, letter: int) -> range:
        """The sentence rows of ``letter`` (its passages' sentences, in order)."""
        first, end = self.letter_first[letter], self.letter_first[letter + 1]
        return range(int(self.sentence_ptr[first]), int(self.sentence_ptr[end]))

    def shortlist(self, scores: np.ndarray, letters: np.ndarray, size: int) -> list[int]:
        """The allowed letters whose best passage scores highest (at most ``size``), best first."""
        nonempty = self.letter_first[1:] > self.letter_first[:-1]
        allowed = np.flatnonzero(letters & nonempty)
        if len(allowed) == 0:
            return []
        per_letter = np.full(len(letters), -np.inf, dtype=np.float32)
        # letters' passages are contiguous, so each segment between starts is one letter
        per_letter[nonempty] = np.maximum.reduceat(scores, self.letter_first[:-1][nonempty])
        best = per_letter[allowed]
        order = np.argsort(-best, kind="stable")[:size]
        return [int(allowed[i]) for i in order if np.isfinite(best[i])]

    def probe(self, asked: "Query | str") -> evidence.Probe:
        """The question's side of sentence scoring (see ``score_sentences``), for a read
        question (its topic, polarity and answer type) or a theme (polarity and type read from it)."""
        if isinstance(asked, str):  # read as the question reader reads a query's own words
            from .question import Query

            asked = Query(asked, asked)
        return evidence.probe(asked.topic, asked.polarity, asked.answer_type, self.keyword.idf)

    def score_sentences(self, passages: list[int], passage_scores: np.ndarray, qvec: np.ndarray,
                        probe: evidence.Probe) -> list[Scored]:
        """Every sentence of ``passages`` with its calibrated evidence score (see ``evidence``).

        Works on the sentence facts stored in the index, for all sentences at once: no letter
        is read and nothing is worked out per sentence but the stance check of the few
        sentences whose stance matches the question's.
        """
        return self.scored_list(self.sentence_table(passages, passage_scores, qvec, probe))

    @staticmethod
    def scored_list(table: dict, pick: np.ndarray | None = None) -> list[Scored]:
        """The rows of a ``sentence_table`` (all, or those ``pick`` selects) as Scored values."""
        cols = [table[k] if pick is None else table[k][pick] for k in SCORED_COLUMNS]
        return [Scored(*values) for values in zip(*(c.tolist() for c in cols))]

    def sentence_table(self, passages, passage_scores: np.ndarray, qvec: np.ndarray,
                       probe: evidence.Probe) -> dict[str, np.ndarray]:
        """``score_sentences`` as columns (SCORED_COLUMNS, and "vectors", the sentences'
        vectors), one entry per sentence: quick for many sentences, when only a few become
        Scored values."""
        passages = np.asarray(passages, dtype=np.int64)
        rows, owner = ragged_positions(self.sentence_ptr, passages)  # owner: position in passages
        n = len(rows)
        if n == 0:
            return {k: np.zeros(0, dtype=np.int64 if k in ("passage", "row", "letter") else np.float64)
                    for k in SCORED_COLUMNS + ("vectors",)}
        vectors = np.asarray(self.sentence_vectors[rows], dtype=np.float32)
        dense = vectors @ qvec
        whole = (self.passage_vectors(passages) @ qvec)[owner]
        # neighbours: the sentences before and after, in the same passage
        prev_ok = np.r_[False, owner[1:] == owner[:-1]]
        next_ok = np.r_[owner[:-1] == owner[1:], False]

        match = self._word_match(rows, prev_ok, next_ok, probe)
        marks, mark_row = self.facts["sentence_marks"].gather(rows)
        stance = word_stances(marks, mark_row, n) * probe.want
        reports = stance > 0
        if probe.targets and probe.want and reports.any():
            # a weakness counts only when it is about what was asked (here or beside it)
            target_ids = {i for t in probe.targets for i in self.keyword.word_ids(t)}
            aimed = self._aimed(rows, np.flatnonzero(reports), marks, mark_row, target_ids, probe.want)
            near = aimed | (np.r_[aimed[1:], False] & next_ok) | (np.r_[False, aimed[:-1]] & prev_ok)
            stance = np.where((stance > 0) & ~near, 0, stance)
        if probe.opposed:  # "high caseloads": a sentence on reduced caseloads says the opposite
            stance = np.where(self._contradicted(rows, probe.opposed), -1, stance)
        bit = evidence.ANSWER_TYPE_BITS.get(probe.kind or "", 0)
        typed = (self.flags[rows] & bit) > 0 if bit else self._names_thing(rows, probe)
        values = evidence.score(dense, whole, match, stance, typed)
        return {"passage": passages[owner], "row": rows.astype(np.int64), "letter": self.passage_letter[passages][owner],
                "score": np.asarray(values, np.float64), "dense": dense.astype(np.float64),
                "coverage": np.asarray(match, np.float64), "passage_score": passage_scores[passages[owner]].astype(np.float64),
                "typed": np.asarray(typed, bool), "reports": np.asarray(reports, bool), "vectors": vectors}

    def naming_same(self, rows: list[int], top: int, probe: evidence.Probe) -> list[int]:
        """Those of ``rows`` that name the thing a "which <thing>" question asks for as sentence
        ``top`` names it ("restorative practice approach" beside "the restorative
        strength-based approach", by its rarest naming word): more places the letters give
        the same answer."""
        word = self.keyword.word_id
        thing = word(probe.thing) if probe.thing else None
        if thing is None:
            return []
        stems = self.facts["sentence_stems"]
        names = evidence.name_words(stems[top].tolist(), thing, self._not_naming(probe))
        if not names:
            return []
        rarest = max(names, key=lambda i: self.keyword.idf_of(i))
        values, row_of = stems.gather(np.asarray(rows, dtype=np.int64))
        holding = [rows[i] for i in np.unique(row_of[values == rarest]).tolist()]  # the few to look at
        return [r for r in holding if r != top and rarest in evidence.name_words(stems[r].tolist(), thing, ())]

    def _names_thing(self, rows: np.ndarray, probe: evidence.Probe) -> np.ndarray:
        """For a "which <thing>" question: which of ``rows`` name such a thing, with a word of
        their own before it ("its preferred model", "a gangs screening tool")."""
        out = np.zeros(len(rows), bool)
        thing = self.keyword.word_id(probe.thing) if probe.thing else None
        if thing is None:
            return out
        values, row_of = self.facts["sentence_stems"].gather(rows)
        at = np.flatnonzero(values == thing)
        ignore = list(self._not_naming(probe))
        for k in range(1, evidence.NAME_REACH + 1):
            before = at - k
            ok = before >= 0
            ok[ok] &= (row_of[before[ok]] == row_of[at[ok]]) & ~np.isin(values[before[ok]], ignore)
            out[row_of[at[ok]]] = True
        return out

    def _not_naming(self, probe: evidence.Probe) -> set[int]:
        """Numbers of the words that cannot name a thing: stop words and the question's own."""
        return self._stop_ids | ({self.keyword.word_id(w) for w in probe.terms} - {None})

    @cached_property
    def _stop_ids(self) -> set[int]:
        return {self.keyword.word_id(w) for w in stem_words(sorted(STOPWORDS))} - {None}

    def _aimed(self, rows: np.ndarray, which: np.ndarray, marks: np.ndarray, mark_row: np.ndarray,
               target_ids: set, want: int) -> np.ndarray:
        """For each of ``rows``: is it one of ``which`` whose own stance word of the polarity
        ``want`` stands within SENTENCE_REACH words of a word of the question's target
        (``evidence.targeted`` on the stored word ids, for all sentences at once)."""
        aimed = np.zeros(len(rows), bool)
        if not len(which) or not target_ids:
            return aimed
        stem_ids, owner = self.facts["sentence_stems"].gather(rows[which])  # owner: position in which
        counts = np.bincount(owner, minlength=len(which))
        position = np.arange(len(stem_ids)) - np.r_[0, np.cumsum(counts)[:-1]][owner]
        hit = np.isin(stem_ids, np.fromiter(target_ids, dtype=np.int64))
        at = np.full(len(rows), -1)
        at[which] = np.arange(len(which))
        own = (at[mark_row] >= 0) & (marks % 2 == (0 if want < 0 else 1))
        span = 1 << 20  # more words than any sentence has: (sentence, word) as one number
        mark_keys = at[mark_row[own]] * span + marks[own] // 2
        hit_keys = owner[hit].astype(np.int64) * span + position[hit]
        near = np.zeros(len(hit_keys), bool)
        for d in range(-evidence.SENTENCE_REACH, evidence.SENTENCE_REACH + 1):
            near |= np.isin(hit_keys + d, mark_keys)
        aimed[which[np.unique(owner[hit][near])]] = True
        return aimed

    def _contradicted(self, rows: np.ndarray, opposed: tuple) -> np.ndarray:
        """``evidence.contradicts`` for each of ``rows``, on stored word numbers."""
        word = self.keyword.word_id
        numbered = [(word(thing), {word(w) for w in same} - {None}, {word(w) for w in other} - {None})
                    for thing, same, other in opposed if word(thing) is not None]
        out = np.zeros(len(rows), bool)
        if not numbered:
            return out
        stems = self.facts["sentence_stems"]
        values, row_of = stems.gather(rows)
        for i in np.unique(row_of[np.isin(values, [t for t, _, _ in numbered])]):
            out[i] = evidence.contradicts(stems[int(rows[i])].tolist(), numbered)
        return out

    def _word_match(self, rows: np.ndarray, prev_ok: np.ndarray, next_ok: np.ndarray,
                    probe: evidence.Probe) -> np.ndarray:
        """``evidence.word_match`` for many sentences at once, from their stored token ids."""
        n = len(rows)
        if not probe.weights:
            return np.zeros(n)
        values, row_of = self.facts["sentence_tokens"].gather(rows)
        terms = list(probe.weights)
        ids = {t: self.keyword.word_ids(t) for t in terms}  # several for a word that stands for others
        present = np.zeros((n, len(terms)), bool)
        for k, t in enumerate(terms):
            if ids[t]:
                present[np.unique(row_of[np.isin(values, ids[t])]), k] = True
        near = np.zeros_like(present)
        near[1:] |= present[:-1] & prev_ok[1:, None]
        near[:-1] |= present[1:] & next_ok[:-1, None]
        weights = np.array([probe.weights[t] for t in terms])
        total = weights.sum() or 1.0
        cover = (present @ weights + evidence.NEAR_CREDIT * ((near & ~present) @ weights)) / total
        pairs = list(zip(probe.terms, probe.terms[1:]))
        if pairs:
            same = row_of[1:] == row_of[:-1]
            found = np.zeros(n)
            for a, b in pairs:
                if not ids[a] or not ids[b]:
                    continue
                hit = same & np.isin(values[:-1], ids[a]) & np.isin(values[1:], ids[b])
                found += np.bincount(row_of[:-1][hit], minlength=n) > 0
            cover = 0.8 * cover + 0.2 * found / len(pairs)
        return cover ** evidence.WORD_POWER


def letter_date(meta: dict) -> str | None:
    """The date filters go by: the letter's own date, else the first day of its visit."""
    visits = meta.get("visit_dates") or []
    return meta.get("date") or (min(visits) if visits else None)


def passage_layout(rows: np.ndarray, n_letters: int, n_sentences: int) -> tuple[np.ndarray, np.ndarray]:
    """From a generation's ``passages.npy`` rows (letter number, first sentence row): where each
    letter's passages start (``n_letters + 1`` entries) and where each passage's sentences start
    (``n_passages + 1`` entries)."""
    if len(rows) == 0:
        return np.zeros(n_letters + 1, np.int64), np.zeros(1, np.int64)
    letter_first = np.searchsorted(rows[:, 0], np.arange(n_letters + 1)).astype(np.int64)
    return letter_first, np.append(rows[:, 1], n_sentences).astype(np.int64)
