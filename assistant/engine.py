"""The assistant: open an index, ask questions, get cited answers; keep the index in sync."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .answer import (Answer, Citation, abstention, checked_line, compose_grouped, compose_quotes, escape_md,
                     renumber, verify)
from .chunking import clean
from .config import default_index_dir
from .embedding import Embedder, load_embedder, one_blas_thread, start_importing
from .errors import IndexMissingError
from .indexing import SyncReport, check_model, sync
from .question import Query, QuestionReader, check_question
from .evidence import THRESHOLD, names_a_time, search_terms
from .factanswer import answer_from_facts
from .judge import Judge
from .retrieval import Scored, Snapshot
from .scoring import NEARBY, UNRECOGNISED, JudgedScorer, Scorer, authority_of, scorer_for
from .timeline import timeline_answer

log = logging.getLogger(__name__)

NO_DATE = "The letters give no date for this."
#: A focused answer quotes the sentences within this share of its best, at most FOCUSED_QUOTES,
#: read in its FOCUSED_PASSAGES best passages.
FOCUSED_RELATIVE = 0.80
FOCUSED_QUOTES = 5
FOCUSED_PASSAGES = 12
#: How often a question looks whether another writer committed a newer state (seconds).
REFRESH_SECONDS = 0.5


class Assistant:
    """Answers questions from one index folder. Safe to share between threads."""

    def __init__(self, index_dir: Path | str, embedder: Embedder, snapshot: Snapshot | None,
                 judge: str | None = None):
        one_blas_thread()
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self._snapshot = snapshot
        self._reader = self._make_reader(snapshot)
        self._sync_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._manifest_stamp: tuple | None = None
        self._refreshed_at = 0.0
        #: judges "which authorities" evidence when one is shipped for this model (``judge``: see
        #: ``Judge.for_model``)
        self.judge: Judge | None = Judge.for_model(embedder.name, judge)
        #: the scorer of "which authorities" answers when set (measurements); else the judge's
        self.scorer: Scorer | None = None

    @classmethod
    def open(cls, index_dir: Path | str | None = None, *, model: str | None = None, backend: str | None = None,
             embedder: Embedder | None = None, allow_empty: bool = False, judge: str | None = None) -> "Assistant":
        """Open the index in ``index_dir`` (default ``index/`` or $ASSISTANT_INDEX), with the
        evidence judge ``judge`` names (default $ASSISTANT_JUDGE, else the packaged one; see
        ``Judge.for_model``).

        Raises IndexMissingError when there is none (unless ``allow_empty``), and
        IndexMismatchError when it was built with another model or format.
        """
        index_dir = Path(index_dir) if index_dir else default_index_dir()
        if embedder is None:
            start_importing(backend)
        snapshot = None
        try:
            snapshot = Snapshot(index_dir)
        except IndexMissingError:
            if not allow_empty:
                raise
        if embedder is None:
            name = model or (snapshot.manifest["model"]["name"] if snapshot else None)
            if name and name.endswith("@onnx-int8"):  # the index says how its vectors were made
                name, backend = name[: -len("@onnx-int8")], "onnx-int8"
            embedder = load_embedder(name, backend)
        if snapshot is not None:
            check_model(snapshot.manifest, embedder, index_dir)
        return cls(index_dir, embedder, snapshot, judge)

    # ---------------------------------------------------------------- state
    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def letters(self) -> list[dict]:
        """Manifest entries of the indexed letters (path, metadata, counts)."""
        return list(self._snapshot.letters) if self._snapshot else []

    def failed(self) -> list[dict]:
        return list(self._snapshot.manifest.get("failed", [])) if self._snapshot else []

    def authorities(self) -> list[str]:
        return self._snapshot.authorities() if self._snapshot else []

    def sync(self, corpus: Path | str, **kwargs) -> SyncReport:
        """Bring the index up to date with ``corpus`` and switch to the new state when committed."""
        with self._sync_lock:
            report = sync(corpus, self.index_dir, self.embedder, on_commit=self.reload, **kwargs)
            self.reload()
            return report

    def refresh(self) -> None:
        """Switch to a state committed by another writer (another process, or a sync of this
        one still running), looking at most every REFRESH_SECONDS. Never raises: a state that
        cannot be opened is logged and the current one kept."""
        now = time.monotonic()
        if now - self._refreshed_at < REFRESH_SECONDS or not self._refresh_lock.acquire(blocking=False):
            return
        try:
            self._refreshed_at = now
            st = os.stat(self.index_dir / "manifest.json")
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp != self._manifest_stamp:
                self.reload()
                self._manifest_stamp = stamp
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - keep answering from the state already open
            log.warning("could not switch to the index's newer state: %s", exc)
        finally:
            self._refresh_lock.release()

    def reload(self) -> bool:
        """Switch to the committed state on disk if it is newer; returns True if it switched."""
        try:
            current = self._snapshot.folder.read_manifest()["generation"] if self._snapshot else None
        except Exception:  # noqa: BLE001 - the new state is checked by Snapshot below
            current = None
        snap = self._snapshot
        if snap is not None and current == snap.generation and \
                snap.folder.read_manifest().get("letters") == snap.letters:
            return False
        fresh = Snapshot(self.index_dir)
        self._reader = self._make_reader(fresh)
        self._snapshot = fresh  # one assignment: running questions keep the old snapshot
        return True

    @staticmethod
    def _make_reader(snapshot: Snapshot | None) -> QuestionReader:
        known = {}
        for e in snapshot.letters if snapshot else []:
            m = e["meta"]
            if m.get("authority"):
                known[m["authority"]] = m["authority"]
                if m.get("authority_as_written"):
                    known[m["authority_as_written"]] = m["authority"]
        return QuestionReader(known)

    # ---------------------------------------------------------------- asking
    def read(self, question: str) -> Query:
        """How the question is understood (authorities, dates, kind, per-authority or not)."""
        return self._reader.read(question)

    def ask(self, question: str, authority=None, since: str | None = None, until: str | None = None,
            kind: str | None = None, query: Query | None = None, timings: dict | None = None,
            undated: bool | None = None, *, judgement=None, framework: str | None = None) -> Answer:
        """Answer ``question`` from the letters. Filters given here override the question's own.

        Dates filter by the letter's date, else its visit's first day; ``undated`` also checks
        letters with neither. ``judgement`` keeps letters with that judgement ("inadequate for
        help and protection" or (area keys, grade)); ``framework`` those inspected under it (a
        key of ``facts.FRAMEWORKS``). Raises FilterError when a filter cannot be read (a date
        that is not YYYY-MM-DD). ``timings``, when given, receives the seconds spent embedding
        the question, searching, and composing.
        """
        clock = time.perf_counter()
        check_question(question)
        self.refresh()
        snap = self._snapshot
        query = (query or self._reader.read(question)).with_filters(authority, since, until, kind, undated)
        query = query.with_filters(judgement=judgement, framework=framework)
        if snap is None or not snap.letters:
            return self._nothing(query, "No letters are indexed yet: add letters to the corpus folder "
                                        "and run `assistant index`.", 0, 0)
        if authority:  # names given as filters are checked against the letters too
            covered = {a.lower(): a for a in snap.authorities()}
            query = replace(query, authorities=tuple(covered[a.lower()] for a in query.authorities
                                                     if a.lower() in covered),
                            unknown_authorities=tuple(a for a in query.authorities if a.lower() not in covered))
        if query.mode == "compare":  # authorities side by side on the topic, as a cited table
            return self.compare_answer(query)
        if query.unknown_authorities and not query.authorities:
            covered = snap.authorities()
            names = escape_md(" or ".join(query.unknown_authorities))
            hints = [h for h in (_closest(n, covered) for n in query.unknown_authorities) if h]
            hint = f"; did you mean {' or '.join(hints)}?" if hints else "."
            return self._nothing(query, f"There are no letters about {names}{hint} The letters cover "
                                        f"{_join(covered)}.", len(snap.letters), len(covered))
        allowed = snap.letter_mask(query.authorities, query.since, query.until, query.kind, query.undated)
        allowed &= snap.fact_mask(query.framework, query.judgement)
        n_letters = int(allowed.sum())
        n_auth = snap.authority_count(allowed)
        if n_letters == 0:
            return self._nothing(query, "No indexed letter matches these filters ("
                                        f"{escape_md(query.describe())}).", 0, 0)
        if query.fact:  # who led, when, which grade: answered from the facts, quoting where printed
            answer = answer_from_facts(snap, query, allowed, {"letters": n_letters, "authorities": n_auth})
            if answer is not None:
                return answer
        if query.mode == "timeline" and len(query.authorities) == 1:  # "How has Dudley changed since 2019?"
            return timeline_answer(self, query)
        qtokens = search_terms(query.topic)
        if not qtokens:
            return self._nothing(query, "What would you like to know? Ask about a topic, for example "
                                        "“what did inspectors say about assessments?”.", n_letters, n_auth)
        t0 = time.perf_counter()
        qvec = self.embedder.embed([query.topic])[0]
        t1 = time.perf_counter()
        scores = snap.passage_scores(qvec, qtokens, allowed)
        t2 = time.perf_counter()
        checked = {"letters": n_letters, "authorities": n_auth}
        if query.undated and (query.since or query.until):  # undated letters let in are counted
            checked["undated"] = snap.undated_count(allowed)
        if query.aggregate:
            answer = self._grouped(snap, query, scores, qvec, allowed, checked)
        else:
            answer = self._focused(snap, query, scores, qvec, checked, allowed)
        if timings is not None:
            end = time.perf_counter()
            timings.update(embed=t1 - t0, search=t2 - t1, compose=(end - t2) + (t0 - clock))
        return answer

    def _grouped(self, snap, query, scores, qvec, allowed, checked) -> Answer:
        probe = snap.probe(query)
        chosen = (self.scorer or scorer_for(self.judge)).select(snap, scores, qvec, allowed, probe)
        kept, scored, more = chosen.quotes, chosen.scored, chosen.more
        scored_rows = {x.row: x for x in scored}
        if not kept:
            return self._abstain(snap, query, checked, allowed, scored, scored_rows)
        # group letters by authority, strongest authority first
        by_auth: dict[str, list[Scored]] = {}
        for letter, sents in sorted(kept.items(), key=lambda kv: -kv[1][0].score):
            by_auth.setdefault(authority_of(snap, letter), []).extend(sents)
        citations = []
        order = []
        for name, sents in by_auth.items():
            for span in _quote_spans(snap, sents, scored_rows):
                citations.append(self._citation(snap, span, len(citations) + 1))
            order.append(name)
        citations = self._checked(snap, citations)
        groups = [(name, [c for c in citations if (c.authority or UNRECOGNISED) == name])
                  for name in order]
        groups = [(n, cs) for n, cs in groups if cs]
        if not groups:
            return self._abstain(snap, query, checked, allowed, scored, scored_rows)
        letters_with = len({c.letter for c in citations})
        text = compose_grouped(groups, letters_with, checked)
        if more:
            text += (f"\n\n_{more} more letter{'s' * (more != 1)} may answer this but are not quoted here: "
                     "narrow the question, or filter by authority, kind or date to see them._")
        return Answer(query.question, True, text, [n for n, _ in groups if n != UNRECOGNISED],
                      checked, citations, query.to_dict())

    def _focused(self, snap, query, scores, qvec, checked, allowed) -> Answer:
        finite = np.flatnonzero(np.isfinite(scores))
        if len(finite) > FOCUSED_PASSAGES:  # the best few without sorting them all
            finite = finite[np.argpartition(-scores[finite], FOCUSED_PASSAGES - 1)[:FOCUSED_PASSAGES]]
        top = finite[np.argsort(-scores[finite], kind="stable")].tolist()
        probe = snap.probe(query)
        sents = sorted(snap.score_sentences(top, scores, qvec, probe), key=lambda s: -s.score)
        if not sents or sents[0].score < THRESHOLD:
            return self._abstain(snap, query, checked, allowed, sents, {x.row: x for x in sents})
        bar = max(THRESHOLD, FOCUSED_RELATIVE * sents[0].score)
        chosen = [s for s in sents if s.score >= bar]
        # a question after a date, a figure or a name gets the best sentence that holds one
        typed = next((s for s in sents if s.typed), None)
        if typed is not None and THRESHOLD <= typed.score < bar:  # not chosen already
            chosen.append(typed)
        # "which approach ...": the other places that name the answer the best quote gives
        same = set(snap.naming_same([s.row for s in sents], chosen[0].row, probe))
        chosen += [s for s in sents if s.row in same and s not in chosen]
        spans = _quote_spans(snap, chosen, {x.row: x for x in sents})[:FOCUSED_QUOTES]
        citations = self._checked(snap, [self._citation(snap, sp, i + 1) for i, sp in enumerate(spans)])
        if not citations:
            return self._abstain(snap, query, checked, allowed, sents, {x.row: x for x in sents})
        if probe.kind == "date" and not any(names_a_time(c.quote) for c in citations):
            # "When will Ofsted next inspect ...?" answered with no date at all is no answer
            return self._nothing(query, NO_DATE, checked["letters"], checked["authorities"])
        authorities = []
        for c in citations:
            if c.authority and c.authority not in authorities:
                authorities.append(c.authority)
        return Answer(query.question, True, compose_quotes(citations, checked), authorities, checked,
                      citations, query.to_dict())

    # ---------------------------------------------------------------- helpers
    def _citation(self, snap: Snapshot, span: "QuoteSpan", n: int) -> Citation:
        s = span.best
        entry = snap.letters[s.letter]
        rec = snap.record(s.letter)
        start, end = int(snap.sentence_spans[span.first][0]), int(snap.sentence_spans[span.last][1])
        _, chunk = snap.chunk_of(s.passage)
        page = None
        if rec.page_starts:
            from .letters import page_at

            page = page_at(rec.page_starts, start)
        meta = entry["meta"]
        return Citation(n=n, letter=entry["path"], authority=meta.get("authority"), date=meta.get("date"),
                        kind=meta.get("kind"), section=chunk.section, page=page,
                        quote=clean(rec.text[start:end]), start=start, end=end, score=round(span.score, 4))

    def _checked(self, snap: Snapshot, citations: list[Citation]) -> list[Citation]:
        texts = {c.letter: snap.record(snap.path_index[c.letter]).text for c in citations}
        good = verify(citations, texts)
        return renumber(good)[0] if len(good) != len(citations) else good

    def _abstain(self, snap: Snapshot, query: Query, checked: dict, allowed: np.ndarray, near: list[Scored],
                 rows: dict[int, Scored]) -> Answer:
        """No clear evidence: say so, naming the topic and the letters checked, and offer the
        closest passages (one per letter), which the answer marks as not clearly about it."""
        best: dict[int, Scored] = {}
        for s in sorted(near, key=lambda s: -s.score):
            best.setdefault(s.letter, s)
        spans = _quote_spans(snap, list(best.values())[:NEARBY], rows)
        nearby = self._checked(snap, [self._citation(snap, sp, i + 1) for i, sp in enumerate(spans)])
        metas = [snap.letters[i]["meta"] for i in np.flatnonzero(allowed)]
        return Answer(query.question, False, abstention(query.topic, query.authorities, metas, checked), [],
                      checked, [], query.to_dict(), nearby=nearby)

    @staticmethod
    def _nothing(query: Query, message: str, letters: int, authorities: int) -> Answer:
        checked = {"letters": letters, "authorities": authorities}
        text = message if letters == 0 or "Checked" in message else f"{message} {checked_line(letters, authorities)}"
        return Answer(query.question, False, text, [], checked, [], query.to_dict())

    def letter_evidence(self, question: str, judge: Judge, letters: np.ndarray,
                        among: list[np.ndarray] | None = None) -> tuple[np.ndarray, int]:
        """What the judge's letter model reads of each of ``letters`` for ``question`` (read as a
        "which authorities" answer reads them, passages scored against every letter), and the
        polarity the question asks about: for training the letter model. With ``among`` (a mask
        of letters for each of ``letters``), each is read as in a folder of those letters only."""
        snap = self.snapshot
        query = self._reader.read(question)
        qvec = self.embedder.embed([query.topic])[0]
        terms = search_terms(query.topic)
        probe = snap.probe(query)
        scorer = JudgedScorer(judge)
        letters = np.asarray(letters)
        if among is None:
            scores = snap.passage_scores(qvec, terms, np.ones(len(snap.letters), bool))
            return scorer.read(snap, scores, qvec, letters, probe, len(snap.letters))[1], probe.want
        rows = []
        raw = snap.raw_scores(qvec, terms)  # the same in every folder; only their fusion differs
        for letter, mask in zip(letters.tolist(), among):
            scores = snap.passage_scores(qvec, terms, mask, raw)
            rows.append(scorer.read(snap, scores, qvec, np.array([letter]), probe, int(mask.sum()))[1][0])
        return np.array(rows).reshape(len(rows), -1), probe.want

    # ---------------------------------------------------------------- compare
    def compare(self, authorities: list[str], theme: str, since=None, until=None) -> dict:
        """Authorities side by side on ``theme``: ``{"theme", "rows": [...]}``, one row per
        authority's latest letter (or per letter dated ``since``..``until``); see ``compare.compare``
        for the row keys and the errors raised."""
        from .compare import compare

        return compare(self, authorities, theme, since, until)

    def compare_answer(self, query: Query) -> Answer:
        """A compare question answered in the chat: the table, every quote a citation."""
        from .compare import compare_answer

        return compare_answer(self, query)

    # ---------------------------------------------------------------- timeline
    def timeline(self, authority: str, theme: str | None = None, *, since: str | None = None,
                 until: str | None = None) -> dict:
        """Every letter about ``authority`` in date order, its facts, what it says needs to
        improve and whether a later letter says each improved, cited (see ``timeline.py``).
        Raises UnknownAuthorityError (naming close matches) when no letter is about it."""
        from .timeline import build_timeline

        return build_timeline(self, authority, theme, since, until).to_dict()


@dataclass(frozen=True)
class QuoteSpan:
    """Consecutive sentence rows quoted together, and the sentence that earned the quote."""

    first: int
    last: int
    best: Scored
    score: float


#: A sentence beside a quoted one joins the quote when it scores this share of it: a short
#: sentence ("However, most plans are not good enough.") often carries the point.
NEIGHBOUR_SHARE = 0.8


def _quote_spans(snap: Snapshot, chosen: list[Scored], scored: dict[int, Scored]) -> list[QuoteSpan]:
    """Turn chosen sentences into quotes: join a strong neighbour, drop overlaps and near-repeats."""
    spans: list[QuoteSpan] = []
    taken: set[int] = set()
    seen: list[set[str]] = []
    for s in chosen:
        if s.row in taken:
            continue
        lo_row, hi_row = int(snap.sentence_ptr[s.passage]), int(snap.sentence_ptr[s.passage + 1])
        first = last = s.row
        options = [r for r in (s.row - 1, s.row + 1) if lo_row <= r < hi_row and r in scored and r not in taken]
        if options:
            r = max(options, key=lambda r: scored[r].score)
            if scored[r].score >= max(THRESHOLD, NEIGHBOUR_SHARE * s.score):
                first, last = min(first, r), max(last, r)
        text = snap.record(s.letter).text
        words = set(re.findall(r"\w+", text[int(snap.sentence_spans[first][0]):int(snap.sentence_spans[last][1])].lower()))
        if any(len(words & w) >= 0.9 * len(words | w) for w in seen):
            continue  # the same finding quoted twice (a report repeating its recommendations)
        seen.append(words)
        taken.update(range(first, last + 1))
        spans.append(QuoteSpan(first, last, s, s.score))
    return spans


def _closest(name: str, covered: list[str]) -> str | None:
    """The authority a mistyped name most likely means: one with letters first, else any English one."""
    import difflib

    from .authorities import ENGLISH_AUTHORITIES

    for pool, cutoff in ((covered, 0.6), (ENGLISH_AUTHORITIES, 0.75)):
        lower = {p.lower(): p for p in pool}
        hit = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=cutoff)
        if hit:
            return lower[hit[0]]
    return None


def _join(names: list[str]) -> str:
    if not names:
        return "no authority yet"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
