"""Which letters answer a "which authorities" question, and with which sentences.

The engine reads the question (``question.QuestionReader``), works out its side of sentence
scoring (``Snapshot.probe``) and scores every passage (``Snapshot.passage_scores``); a scorer
takes it from there, behind one interface, ``select``: it reads the letters' sentences,
decides which letters answer, and picks each one's quotes, with the thresholds it needs. The
engine then composes and verifies the quotes.

- ``JudgedScorer``: the learned judge (``judge``) decides each letter with its letter model,
  every allowed letter read; the rules' bars stand beside it.
- ``RuledScorer``: the rules of ``evidence`` over the letters whose passages score best; a
  judge without a letter model vetoes sentences it reads as the opposite polarity.

``scorer_for(judge)`` gives the one a judge calls for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from .evidence import AGGREGATE_THRESHOLD, THRESHOLD, Probe
from .judge import STANCES, Judge, agreement, letter_features
from .retrieval import Scored, Snapshot, word_stances

UNRECOGNISED = "Authority not recognised"
#: Passages read per letter when looking for a letter's best evidence: more in the most
#: promising letters (the first CLOSE_READING of the shortlist), fewer in the rest.
PASSAGES_PER_LETTER = 5
PASSAGES_FURTHER = 2
CLOSE_READING = 10
#: Every letter's passages are scored; sentences are read in the letters whose best passage
#: ranks among this many (more than any answer lists), so a large collection stays quick.
SHORTLIST = 40
#: With the judge's letter model, a "which authorities" answer reads every allowed letter, up to
#: this many (beyond it, the letters whose best passage scores highest); checked letters are
#: still counted in full.
READ_LETTERS = 1000
#: The most letters a "which authorities" answer quotes (the judge may find more: the answer
#: says how many more, to be seen with a filter); each quoted letter is read from disk.
LISTED_LETTERS = 100
#: Once a letter counts, its other sentences are quoted too when they reach this share of
#: its best sentence (and the plain threshold).
LETTER_RELATIVE = 0.75
#: Another letter about an authority that counts is quoted when its best evidence reaches
#: this share of the authority's strongest (a visit letter beside a cabinet report whose
#: recommendation repeats the question; at 0.5 report headings start to come in).
SAME_AUTHORITY_SHARE = 0.6
#: Quotes per letter in a "which authorities" answer.
QUOTES_PER_LETTER = 3
#: Closest passages offered with an abstention (one per letter), marked as not clearly about it.
NEARBY = 3


@dataclass(frozen=True)
class Selection:
    """What a scorer chose: each answering letter's quotes (best first), every sentence scored
    that the answer may show beside them (neighbours joined to a quote, the closest few when
    nothing answers), and how many more letters answer than are quoted."""

    quotes: dict[int, list[Scored]]
    scored: list[Scored]
    more: int = 0


class Scorer(Protocol):
    def select(self, snap: Snapshot, scores: np.ndarray, qvec: np.ndarray, allowed: np.ndarray,
               probe: Probe) -> Selection:
        """The letters among ``allowed`` (a mask) that answer, given every passage's ``scores``,
        the question's vector and its ``probe``."""


def scorer_for(judge: Judge | None) -> Scorer:
    """The scorer for ``judge``: its letter model when it has one, else the rules (with its veto)."""
    return JudgedScorer(judge) if judge is not None and judge.reads_letters else RuledScorer(judge)


def stance_signs(snap: Snapshot, judge: Judge | None, rows) -> np.ndarray:
    """-1 (the sentence reports a weakness), +1 (a strength) or 0 (neither, or both) for each
    sentence row: the judge's likeliest stance (from the sentence's tokens when the index holds
    it, see ``Judge.stance_of``); without a judge (another embedding model), the stance words the
    index stores for each sentence (``evidence.sentence_markers``)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return np.zeros(0, np.int64)
    if judge is not None:
        likeliest = judge.stance_of(snap, rows).argmax(axis=1)
        return np.select([likeliest == STANCES.index("w"), likeliest == STANCES.index("s")], [-1, 1], 0)
    return word_stances(*snap.facts["sentence_marks"].gather(rows), len(rows))


def authority_of(snap: Snapshot, letter: int) -> str:
    """The authority ``letter`` is about, or UNRECOGNISED when its text does not say."""
    return snap.letters[letter]["meta"].get("authority") or UNRECOGNISED


@dataclass(frozen=True)
class RuledScorer:
    """The letters that answer by the rules of ``evidence``, read in the SHORTLIST letters whose
    passages score best; ``veto``, a judge without a letter model, drops sentences it reads as
    more likely than not the opposite polarity."""

    veto: Judge | None = None

    def select(self, snap: Snapshot, scores: np.ndarray, qvec: np.ndarray, allowed: np.ndarray,
               probe: Probe) -> Selection:
        read: list[int] = []
        for rank, letter in enumerate(snap.shortlist(scores, allowed, SHORTLIST)):
            lo, hi = int(snap.letter_first[letter]), int(snap.letter_first[letter + 1])
            depth = PASSAGES_PER_LETTER if rank < CLOSE_READING else PASSAGES_FURTHER
            read.extend((lo + np.argsort(-scores[lo:hi])[:depth]).tolist())
        best_by_letter: dict[int, list[Scored]] = {}
        table = snap.sentence_table(read, scores, qvec, probe)
        scored = snap.scored_list(table)
        if self.veto is not None and probe.want and scored:
            # the learned judge vetoes what it reads as more likely than not the opposite polarity
            _, opposite = agreement(self.veto.stance(table["vectors"]), probe.want)
            scored = [s for s, o in zip(scored, opposite.tolist()) if o <= 0.5]
        for s in sorted(scored, key=lambda s: -s.score):
            # "Which authorities were praised for X": letters praise in so many words ("good",
            # "effective", "improved"), so only sentences that do count; a sentence that merely
            # mentions X ("reviewing case records") does not. Criticism is often put less
            # plainly ("plans should be specific"), so weakness questions keep every sentence.
            if s.reports or probe.want <= 0:
                best_by_letter.setdefault(s.letter, []).append(s)
        if not best_by_letter:
            return Selection({}, scored, 0)
        # an authority counts when its best letter clears the bar; then each of its letters
        # with evidence near that strength is quoted too (a cabinet report and a visit letter)
        strongest: dict[str, float] = {}
        for letter, sents in best_by_letter.items():
            name = authority_of(snap, letter)
            strongest[name] = max(strongest.get(name, 0.0), sents[0].score)
        kept = {}
        for letter, sents in best_by_letter.items():
            top = strongest[authority_of(snap, letter)]
            if top < AGGREGATE_THRESHOLD or sents[0].score < max(THRESHOLD, SAME_AUTHORITY_SHARE * top):
                continue
            bar = max(THRESHOLD, LETTER_RELATIVE * sents[0].score)
            kept[letter] = [s for s in sents if s.score >= bar][:QUOTES_PER_LETTER]
        return Selection(kept, scored, 0)


@dataclass(frozen=True)
class JudgedScorer:
    """The letters that answer by the judge's letter model, every allowed letter read (up to
    READ_LETTERS). A letter counts when the letter model says so and the rules would count it
    too (its evidence, less what the judge reads as the opposite polarity, clears their bars).
    The LISTED_LETTERS likeliest are quoted; the sentences scored are those of the letters
    quoted and the closest few elsewhere. Without ``bars``, the letter model decides alone (for
    measuring it, and for pooling sentences to label: ``tools/judge_pool.py``)."""

    judge: Judge
    bars: bool = True

    def select(self, snap: Snapshot, scores: np.ndarray, qvec: np.ndarray, allowed: np.ndarray,
               probe: Probe) -> Selection:
        letters = np.flatnonzero(allowed)
        if len(letters) > READ_LETTERS:  # a very large collection: the letters most about it
            letters = np.sort(np.array(snap.shortlist(scores, allowed, READ_LETTERS), dtype=np.int64))
        table, features, opposite = self.read(snap, scores, qvec, letters, probe, int(allowed.sum()))
        if not len(table["row"]):
            return Selection({}, [], 0)
        probability = np.zeros(len(snap.letters))
        probability[letters] = self.judge.letter_probability(features, probe.want)
        # the evidence the rules would count (a strength only in so many words), less what the
        # judge reads as the opposite polarity; a letter must pass the rules' bars on it too
        counts = (opposite <= 0.5) & (table["reports"] | (probe.want <= 0))
        strength = np.where(counts, np.clip(table["score"], 0, None), 0.0)
        best = np.zeros(len(snap.letters))
        np.maximum.at(best, table["letter"], strength)
        authority = snap.authority_numbers()
        strongest = np.zeros(authority.max() + 1)
        np.maximum.at(strongest, authority, best)
        authority_best = strongest[authority]
        ruled = (authority_best >= AGGREGATE_THRESHOLD) & \
            (best >= np.maximum(THRESHOLD, SAME_AUTHORITY_SHARE * authority_best)) if self.bars else True
        answering = np.flatnonzero((probability >= self.judge.threshold) & ruled)
        answering = answering[np.lexsort((-best[answering], -probability[answering]))]  # likeliest, strongest
        quoted = answering[:LISTED_LETTERS]
        # the closest sentences, for an answer that finds nothing: enough for NEARBY letters
        near = np.argsort(-table["score"], kind="stable")[:3 * NEARBY]
        pick = np.isin(table["letter"], quoted)
        pick[near] = True
        idx = np.flatnonzero(pick)
        scored = snap.scored_list(table, idx)
        # each quoted letter's quotes: its strongest sentences, near its best, best first
        mine = idx[np.isin(table["letter"][idx], quoted)]
        order = mine[np.lexsort((-strength[mine], table["letter"][mine]))]
        owner = table["letter"][order]
        first = np.searchsorted(owner, owner)
        lead = strength[order][first]
        keep = (np.arange(len(order)) - first < QUOTES_PER_LETTER) & (strength[order] >= LETTER_RELATIVE * lead)
        rows = order[keep]
        values = probability[table["letter"][rows]] * strength[rows] / np.where(lead > 0, lead, 1.0)[keep]
        kept: dict[int, list[Scored]] = {int(letter): [] for letter in quoted}  # likeliest first
        for at, value in zip(np.searchsorted(idx, rows).tolist(), values.tolist()):  # rows are among idx
            kept[scored[at].letter].append(replace(scored[at], score=value))
        kept = {letter: quotes for letter, quotes in kept.items() if quotes}
        return Selection(kept, scored, len(answering) - len(kept))

    def read(self, snap: Snapshot, scores: np.ndarray, qvec: np.ndarray, letters: np.ndarray,
             probe: Probe, collection: int) -> tuple[dict, np.ndarray, np.ndarray]:
        """Each of ``letters`` read in its PASSAGES_PER_LETTER best passages, sentence by
        sentence, ``scores`` fused over a collection of ``collection`` letters: (the sentences
        scored, as ``Snapshot.sentence_table`` columns; the letter model's features per letter;
        each sentence's probability of the opposite polarity).
        Training reads the labelled reports through this too."""
        mine = np.zeros(len(snap.letters), bool)
        mine[letters] = True
        passages = np.flatnonzero(mine[snap.passage_letter])
        owner = snap.passage_letter[passages]
        order = np.lexsort((-scores[passages], owner))  # by letter, best passage first
        rank = np.arange(len(order)) - np.searchsorted(owner[order], owner[order])
        read = np.sort(passages[order[rank < PASSAGES_PER_LETTER]])
        table = snap.sentence_table(read, scores, qvec, probe)
        size = self.judge.collection(collection)
        if not len(table["row"]):
            return table, letter_features(*([np.zeros(0)] * 8), letters, size), np.zeros(0)
        agree, opposite = agreement(self.judge.stance(table["vectors"]), probe.want)
        features = letter_features(table["letter"], table["score"], table["dense"], table["reports"].astype(np.float64),
                                   agree, opposite, table["passage_score"], table["coverage"], letters, size)
        return table, features, opposite
