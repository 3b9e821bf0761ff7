"""The learned evidence judge: does a sentence answer the question, with the polarity asked?

Trained by ``assistant train judge`` on the labelled sentences in ``data/judge`` (see
docs/judge.md). It reads what the index already holds: a sentence's vector read in its passage,
and the question's vector. Two small models over them:

- relevance: P(the sentence is about what is asked), from the question-sentence cosine;
- stance: P(weakness, strength, mixed, neither), from the sentence vector.

A sentence answers a weakness question with P(relevant) x P(weakness or mixed), a strength
question with P(relevant) x P(strength or mixed), any other question with P(relevant).

A third, the letter model, decides whether a letter answers a "which authorities" question:
a logistic regression (one per polarity asked) over what reading the letter's best passages
gave (``letter_features``): the best evidence score, cosine and passage score, whether the best
sentences use the question's stance words, and the stance model's agreement and opposition,
and the size of the collection the letter was read in (passage scores rank passages among the
letters asked about, so the same passage scores higher among 5 letters than among 1,000).
It is trained per (question, report) on the labelled reports (``assistant train judge
--index``); a judge without it only vetoes sentences of the opposite polarity.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import ModelLoadError

#: The judge shipped with the package (``assistant train judge --index DIR --out`` writes one).
PACKAGED = Path(__file__).resolve().parent / "models" / "judge.npz"
CHOICES = {"default": PACKAGED}
STANCES = ("w", "s", "m", "n")
#: The judge files this version reads (``assistant train judge`` writes this version).
VERSION = 3
#: The polarities a question asks about, in the order of the letter model's weights.
WANTS = (-1, 1, 0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def relevance_features(similarity: np.ndarray) -> np.ndarray:
    """What the relevance model reads of a question-sentence cosine."""
    s = np.asarray(similarity, dtype=np.float64)
    return np.stack([s, s * s], axis=-1)


def yes_probability(relevant: np.ndarray, stance: np.ndarray, want: int) -> np.ndarray:
    """P(the sentence answers with the polarity asked) from P(relevant) and stance probabilities
    over STANCES; ``want`` -1 for a weakness question, +1 for a strength question, 0 otherwise."""
    if want == 0:
        return relevant
    w, s, m = stance[:, 0], stance[:, 1], stance[:, 2]
    return relevant * ((w + m) if want < 0 else (s + m))


def agreement(stance: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
    """(P a sentence judges with the polarity asked, P it judges the opposite), from stance
    probabilities over STANCES; for a question without polarity, (P it is a judgement or a
    plain statement on the topic, 0)."""
    w, s, m, n = stance[:, 0], stance[:, 1], stance[:, 2], stance[:, 3]
    if want < 0:
        return w + m, s
    if want > 0:
        return s + m, w
    return w + s + m + n, np.zeros(len(stance))


@dataclass(frozen=True)
class StanceHead:
    """A sentence's stance read from its token vectors in context (what MiniLM's last layer gives
    for each of the sentence's tokens, read in its passage), worked out when a letter is indexed:
    phrases three tokens wide ("not yet timely") found by a convolution and kept at their
    strongest, beside the tokens weighed by a learned attention; a linear layer over both gives
    P(weakness, strength, mixed, neither). A mean of the tokens (the sentence vector) blurs
    "timely" and "not timely"; this keeps the phrase."""

    conv_w: np.ndarray  # (filters, dim, 3)
    conv_b: np.ndarray  # (filters,)
    att_w: np.ndarray  # (dim,)
    att_b: np.ndarray  # ()
    out_w: np.ndarray  # (4, filters + dim)
    out_b: np.ndarray  # (4,)

    FIELDS = ("conv_w", "conv_b", "att_w", "att_b", "out_w", "out_b")

    @cached_property
    def name(self) -> str:
        """Names these weights: the index records it beside the stances it worked out with them
        (worked out once: it is asked for at every compare cell and every letter indexed)."""
        import hashlib

        digest = hashlib.sha256()
        for field in self.FIELDS:
            digest.update(np.ascontiguousarray(getattr(self, field), dtype=np.float32).tobytes())
        return f"stance-tokens-{digest.hexdigest()[:12]}"

    def __call__(self, sentences: list[np.ndarray]) -> np.ndarray:
        """P(weakness, strength, mixed, neither) for each sentence's token vectors (n_i, dim)."""
        if not sentences:
            return np.zeros((0, len(STANCES)), np.float32)
        sizes = np.array([len(t) for t in sentences])
        starts = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]]) + 1  # one zero row before each
        flat = np.zeros((int(sizes.sum() + len(sizes) + 1), self.conv_w.shape[1]), np.float32)
        real = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, sizes)])
        flat[real] = np.concatenate(sentences).astype(np.float32)
        w = self.conv_w.astype(np.float32)
        conv = flat[real - 1] @ w[:, :, 0].T + flat[real] @ w[:, :, 1].T + flat[real + 1] @ w[:, :, 2].T + self.conv_b
        bounds = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        phrases = np.maximum.reduceat(np.maximum(conv, 0.0), bounds, axis=0)
        logits = flat[real] @ self.att_w + self.att_b
        owner = np.repeat(np.arange(len(sizes)), sizes)
        top = np.maximum.reduceat(logits, bounds)
        weight = np.exp(logits - top[owner])
        weight /= np.add.reduceat(weight, bounds)[owner]
        attended = np.add.reduceat(weight[:, None] * flat[real], bounds, axis=0)
        return _softmax(np.concatenate([phrases, attended], axis=1) @ self.out_w.T + self.out_b).astype(np.float32)


#: Sentences among a letter's best (by evidence score) whose stance the letter model reads.
LETTER_TOP = 3
LETTER_FEATURES = 12
#: The columns whose meaning shifts with the collection's size (the best evidence score,
#: cosine and passage score, the top agreement, the best share of the question's words): the
#: letter model also reads each times log(collection size).
SIZED = (0, 1, 2, 4, 8)
#: Everything the letter model reads: the features, their squares, log(collection size) and
#: the SIZED columns times it.
LETTER_WIDTH = 2 * LETTER_FEATURES + 1 + len(SIZED)


def letter_features(letter_of: np.ndarray, score: np.ndarray, dense: np.ndarray, reports: np.ndarray,
                    agree: np.ndarray, opposite: np.ndarray, passage: np.ndarray, coverage: np.ndarray,
                    letters: np.ndarray, collection: float) -> np.ndarray:
    """What the letter model reads of each of ``letters`` (rows), read in a collection of
    ``collection`` letters (``Judge.collection``), given its read sentences
    (``letter_of`` the letter of each sentence, the rest per sentence): the best evidence score,
    cosine and passage score; among its LETTER_TOP best sentences, whether one uses the asked
    stance's words, the highest agreement and opposition; the best sentence's agreement and
    opposition; the best score x agreement and (clipped) score x agreement; the best share of
    the question's words a sentence holds, and the best sentence's share. Squares follow, then
    log(collection) and the SIZED columns times it. A letter with no sentence read has zeros
    but for log(collection)."""
    out = np.zeros((len(letters), LETTER_FEATURES))
    if len(letter_of):
        at = {int(l): i for i, l in enumerate(letters)}
        order = np.lexsort((-score, letter_of))
        lo = order[np.r_[True, letter_of[order][1:] != letter_of[order][:-1]]]  # each letter's best sentence
        rank = np.arange(len(order)) - np.searchsorted(letter_of[order], letter_of[order])
        top = order[rank < LETTER_TOP]
        pos = np.array([at[int(l)] for l in letter_of])
        columns = [(score, None), (dense, None), (passage, None), (reports, top), (agree, top), (opposite, top),
                   (score * agree, None), (np.clip(score, 0, None) * agree, None), (coverage, None)]
        for j, (values, among) in enumerate(columns):
            col = np.full(len(letters), -np.inf)
            idx = slice(None) if among is None else among
            np.maximum.at(col, pos[idx], np.asarray(values, dtype=np.float64)[idx])
            out[:, j] = np.where(np.isfinite(col), col, 0.0)
        out[pos[lo], 9] = agree[lo]
        out[pos[lo], 10] = opposite[lo]
        out[pos[lo], 11] = coverage[lo]
    size = np.full((len(letters), 1), np.log(collection))
    return np.concatenate([out, out * out, size, out[:, SIZED] * size], axis=1)


@dataclass(frozen=True)
class Judge:
    """Weights of the two models and the threshold a sentence must reach to count."""

    stance_w: np.ndarray
    stance_b: np.ndarray
    relevance_w: np.ndarray
    relevance_b: np.ndarray
    threshold: float = 0.5
    version: str = f"judge-{VERSION}"
    model: str | None = None  # the embedding model whose vectors it reads
    #: the letter model: feature means and scales, weights and biases per polarity asked
    #: (WANTS order); None when the judge was trained without an index of the labelled reports
    letter_mu: np.ndarray | None = None
    letter_sd: np.ndarray | None = None
    letter_w: np.ndarray | None = None
    letter_b: np.ndarray | None = None
    #: the smallest and largest collection (in letters) the letter model was trained on
    letter_sizes: np.ndarray | None = None
    #: the stance read from a sentence's tokens when its letter is indexed (the index keeps what
    #: it gives under its name); None: the stance model over the sentence vector alone
    head: StanceHead | None = None

    @classmethod
    def for_model(cls, model: str, choice: str | None = None) -> "Judge | None":
        """The judge to use with ``model``'s vectors, or None (answers are then scored by the
        rules in ``evidence`` alone). ``choice`` (default: $ASSISTANT_JUDGE, else "default"):
        "default" (the packaged judge), "none", or the path of a judge written by ``assistant
        train judge --out``. A judge trained on another model's vectors is not used."""
        choice = choice or os.environ.get("ASSISTANT_JUDGE") or "default"
        if choice == "none":
            return None
        path = Path(CHOICES.get(choice, choice))
        if not path.exists():
            if choice in CHOICES:
                return None
            raise ModelLoadError(f"no judge at {path}: ASSISTANT_JUDGE takes {', '.join(CHOICES)}, none, or the path "
                             "of a judge written by `assistant train judge --out`")
        if _meta(path).get("model") != model:  # trained on another model's vectors (whatever its version)
            return None
        return cls.load(path)

    @classmethod
    def load(cls, path: Path | str = PACKAGED) -> "Judge":
        path = Path(path)
        meta = _meta(path)
        if int(meta.get("version", 1)) != VERSION:
            raise ModelLoadError(f"the judge at {path} is of version {meta.get('version', 1)}; this version reads "
                                 f"judges of version {VERSION}: train it again with `assistant train judge --index "
                                 f"DIR --out {path}`" + (", or reinstall the package" if path == PACKAGED else
                                 ", or set ASSISTANT_JUDGE=default"))
        z = np.load(path, allow_pickle=False)
        letter = [z[k] if k in z.files else None for k in ("letter_mu", "letter_sd", "letter_w", "letter_b",
                                                            "letter_sizes")]
        head = StanceHead(*(z[f"head_{k}"] for k in StanceHead.FIELDS)) if "head_conv_w" in z.files else None
        return cls(z["stance_w"], z["stance_b"], z["relevance_w"], z["relevance_b"],
                   float(meta.get("threshold", 0.5)), f"judge-{meta.get('version', 1)}", meta.get("model"), *letter,
                   head=head)

    def save(self, path: Path | str, meta: dict) -> None:
        """The weights to ``path`` (.npz) and ``meta`` beside it (.json), as ``load`` reads them."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        names = ("stance_w", "stance_b", "relevance_w", "relevance_b", "letter_mu", "letter_sd", "letter_w", "letter_b",
                 "letter_sizes")
        arrays = {k: getattr(self, k) for k in names if getattr(self, k) is not None}
        if self.head is not None:
            arrays.update({f"head_{k}": getattr(self.head, k) for k in StanceHead.FIELDS})
            meta = {**meta, "head": self.head.name}
        np.savez(path, **arrays)
        meta = {**meta, "version": int(self.version.split("-")[-1]), "model": self.model, "threshold": self.threshold}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    @property
    def reads_letters(self) -> bool:
        return self.letter_w is not None

    def collection(self, letters: int) -> float:
        """The collection size the letter model reads for ``letters`` letters asked about: held
        to the sizes it was trained on (a larger folder reads as the largest it saw)."""
        if self.letter_sizes is None:
            return float(max(letters, 1))
        return float(np.clip(letters, *self.letter_sizes))

    def letter_probability(self, features: np.ndarray, want: int) -> np.ndarray:
        """P(each letter answers the question, with the polarity asked), from ``letter_features``."""
        k = WANTS.index(int(np.sign(want)))
        x = (features - self.letter_mu) / self.letter_sd
        return _softmax(x @ self.letter_w[k] + self.letter_b[k])[:, 1]

    def stance(self, vectors: np.ndarray) -> np.ndarray:
        """P(weakness, strength, mixed, neither) from sentence vectors alone (what the letter
        model reads: see docs/judge.md for why not the head's)."""
        return _softmax(np.asarray(vectors, dtype=np.float32) @ self.stance_w + self.stance_b)

    def stance_of(self, snap, rows: np.ndarray, vectors: np.ndarray | None = None) -> np.ndarray:
        """P(weakness, strength, mixed, neither) for sentence ``rows`` of ``snap``: what the head
        worked out from their tokens when the index holds it, else from their vectors (given,
        or read from the index)."""
        rows = np.asarray(rows, dtype=np.int64)
        held = snap.stances_by(self.head.name) if self.head is not None else None
        if held is not None:
            return np.asarray(held[rows], dtype=np.float32)
        if vectors is None:
            vectors = np.asarray(snap.sentence_vectors[rows], dtype=np.float32)
        return self.stance(vectors)

    def relevant(self, similarity: np.ndarray) -> np.ndarray:
        return _softmax(relevance_features(similarity) @ self.relevance_w + self.relevance_b)[:, 1]


def _meta(path: Path) -> dict:
    """What is written beside a judge's weights (``.json``: its version, model, threshold, figures)."""
    meta_path = path.with_suffix(".json")
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except OSError:
        raise ModelLoadError(f"no {meta_path.name} beside the judge at {path}: `assistant train judge --out FILE` "
                             "writes both; copy them together") from None
    except ValueError:
        raise ModelLoadError(f"{meta_path} is damaged: write the judge again with `assistant train judge --out "
                             f"{path}`") from None
