"""A loaded, read-only view of one committed index, and scoring passages and sentences in it.

A ``Snapshot`` never changes after it is opened: a sync that commits a new state makes a
new snapshot, and questions already running finish on the one they started with.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

import numpy as np

from .errors import IndexCorruptError
from .fusion import fuse
from .store import IndexFolder, LetterRecord
from . import evidence
from .textsearch import KeywordIndex, tokenize

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


class Snapshot:
    """Everything needed to answer from one committed generation of an index."""

    def __init__(self, root: Path | str):
        import faiss

        self.folder = IndexFolder(root)
        self.manifest = self.folder.read_manifest()
        self.generation = self.manifest["generation"]
        gen = self.folder.root / self.manifest["files"]["generation_dir"]
        repair = f"run `assistant index --index {self.folder.root}` to repair it"
        try:
            self.dense = faiss.read_index(str(gen / "dense.faiss"))
            rows = np.load(gen / "passages.npy", allow_pickle=False)
            self.sentence_spans = np.load(gen / "sentences.npy", allow_pickle=False)
            self.sentence_vectors = np.load(gen / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
            self.keyword = KeywordIndex.load(gen / "keyword", n_docs=len(rows))
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexCorruptError(f"the index in {self.folder.root}/ is incomplete ({exc}); {repair}") from None
        counts = self.manifest["counts"]
        self.letters: list[dict] = self.manifest["letters"]
        n, m = len(rows), len(self.sentence_spans)
        problems = []
        if self.dense.ntotal != n or counts["passages"] != n or (n and self.keyword.size != n):
            problems.append(f"{self.dense.ntotal} vectors, {n} passages, manifest says {counts['passages']}")
        if len(self.sentence_vectors) != m or counts["sentences"] != m:
            problems.append(f"{len(self.sentence_vectors)} sentence vectors for {m} sentences")
        if n and int(rows[:, 0].max()) >= len(self.letters):
            problems.append("passages point at letters the manifest does not list")
        if problems:
            raise IndexCorruptError(f"the index in {self.folder.root}/ is inconsistent ({'; '.join(problems)}); {repair}")
        self.passage_letter = rows[:, 0].astype(np.int64) if n else np.zeros(0, np.int64)
        self.letter_first, self.sentence_ptr = passage_layout(rows, len(self.letters), m)
        self._vectors = flat_vectors(self.dense)
        self._cache: OrderedDict[int, LetterRecord] = OrderedDict()
        self._facts: dict[int, tuple] = {}
        self.path_index = {e["path"]: i for i, e in enumerate(self.letters)}
        self._lock = Lock()

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

    def passage_vector(self, passage: int) -> np.ndarray:
        if self._vectors is not None:
            return self._vectors[passage]
        return self.dense.reconstruct(int(passage))

    def letter_mask(self, authorities=(), since=None, until=None, kind=None) -> np.ndarray:
        """Which letters pass the filters. A letter matches a date range by its date or a visit date."""
        keep = np.ones(len(self.letters), dtype=bool)
        wanted = {a.lower() for a in authorities}
        for i, e in enumerate(self.letters):
            meta = e["meta"]
            if wanted and (meta.get("authority") or "").lower() not in wanted:
                keep[i] = False
            elif kind and meta.get("kind") != kind:
                keep[i] = False
            elif since or until:
                dates = [d for d in [meta.get("date"), *(meta.get("visit_dates") or [])] if d]
                keep[i] = any((not since or d >= since) and (not until or d <= until) for d in dates)
        return keep

    # -------------------------------------------------------------- scoring
    def passage_scores(self, qvec: np.ndarray, qtokens: list[str], letters: np.ndarray) -> np.ndarray:
        """Fused score of every passage of the allowed ``letters`` (-inf for the rest)."""
        mask = letters[self.passage_letter] if self.size else np.zeros(0, bool)
        if not mask.any():
            return np.full(self.size, -np.inf, dtype=np.float32)
        if self._vectors is not None:
            dense = self._vectors @ qvec
        else:
            dense = np.zeros(self.size, dtype=np.float32)
            k = min(self.size, 2000)
            scores, ids = self.dense.search(qvec[None, :], k)
            ok = ids[0] >= 0
            dense[ids[0][ok]] = scores[0][ok]
        keyword = self.keyword.scores(qtokens)
        return fuse(dense, keyword, mask=mask)

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

    def _sentence_facts(self, row: int, text: str) -> tuple:
        """A sentence's words, stance and stance-word positions: none depends on the question (cached)."""
        facts = self._facts.get(row)
        if facts is None:
            if len(self._facts) > 200_000:
                self._facts.clear()
            markers = evidence.sentence_markers(text)
            facts = self._facts[row] = (tokenize(text), evidence.stance_of(markers), markers)
        return facts

    def score_sentences(self, passages: list[int], passage_scores: np.ndarray, qvec: np.ndarray,
                        topic: str, question: str = "") -> list[Scored]:
        """Every sentence of ``passages`` with its calibrated evidence score (see ``evidence``)."""
        terms = evidence.content_terms(topic)
        weights = {t: self.keyword.idf(t) ** 2 for t in set(terms)}  # rare words decide
        want = evidence.question_stance(topic)
        kind = evidence.answer_type(question or topic)
        targets = evidence.stance_targets(topic, self.keyword.idf)
        out = []
        for p in passages:
            lo, hi = int(self.sentence_ptr[p]), int(self.sentence_ptr[p + 1])
            if hi <= lo:
                continue
            letter = int(self.passage_letter[p])
            text = self.record(letter).text
            dense = np.asarray(self.sentence_vectors[lo:hi], dtype=np.float32) @ qvec
            whole = float(self.passage_vector(p) @ qvec)
            pieces = [text[s:e] for s, e in self.sentence_spans[lo:hi]]
            facts = [self._sentence_facts(lo + j, pieces[j]) for j in range(hi - lo)]
            words = [f[0] for f in facts]
            matches = [want * f[1] if want else 0 for f in facts]
            aimed = [m > 0 and bool(targets) and evidence.targeted(facts[j][2], targets, want)
                     for j, m in enumerate(matches)]
            for j in range(hi - lo):
                near = set(words[j - 1] if j else ()) | set(words[j + 1] if j + 1 < len(words) else ())
                match = evidence.word_match(terms, weights, words[j], near)
                stance = matches[j]
                typed = evidence.has_answer_type(pieces[j], kind) if kind else False
                if stance > 0 and targets and not any(aimed[k] for k in (j - 1, j, j + 1) if 0 <= k < len(aimed)):
                    stance = 0  # a weakness, but not of the thing asked about (here or beside it)
                value = evidence.score(float(dense[j]), whole, match, stance, typed)
                out.append(Scored(p, lo + j, letter, value, float(dense[j]), match, float(passage_scores[p])))
        return out


def passage_layout(rows: np.ndarray, n_letters: int, n_sentences: int) -> tuple[np.ndarray, np.ndarray]:
    """From a generation's ``passages.npy`` rows (letter number, first sentence row): where each
    letter's passages start (``n_letters + 1`` entries) and where each passage's sentences start
    (``n_passages + 1`` entries)."""
    if len(rows) == 0:
        return np.zeros(n_letters + 1, np.int64), np.zeros(1, np.int64)
    letter_first = np.searchsorted(rows[:, 0], np.arange(n_letters + 1)).astype(np.int64)
    return letter_first, np.append(rows[:, 1], n_sentences).astype(np.int64)


def flat_vectors(index) -> np.ndarray | None:
    """The vectors of a FAISS flat index as a NumPy view (no copy; valid while ``index`` lives),
    or None for another kind of index."""
    import faiss

    if index.ntotal == 0 or not isinstance(index, faiss.IndexFlat):
        return None
    return np.asarray(faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d)).reshape(index.ntotal, index.d)
