"""The learned evidence judge: does a sentence answer the question, with the polarity asked?

Trained by ``assistant train judge`` on the labelled sentences in ``data/judge`` (see
docs/judge.md). It reads what the index already holds: a sentence's vector read in its passage,
and the question's vector. Two small models over them:

- relevance: P(the sentence is about what is asked), from the question-sentence cosine;
- stance: P(weakness, strength, mixed, neither), from the sentence vector.

A sentence answers a weakness question with P(relevant) x P(weakness or mixed), a strength
question with P(relevant) x P(strength or mixed), any other question with P(relevant).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The model shipped with the package (``assistant train judge --out`` writes one).
PACKAGED = Path(__file__).resolve().parent / "models" / "judge.npz"
STANCES = ("w", "s", "m", "n")


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


@dataclass(frozen=True)
class Judge:
    """Weights of the two models and the threshold a sentence must reach to count."""

    stance_w: np.ndarray
    stance_b: np.ndarray
    relevance_w: np.ndarray
    relevance_b: np.ndarray
    threshold: float = 0.5
    version: str = "judge-1"
    model: str | None = None  # the embedding model whose vectors it reads

    @classmethod
    def for_model(cls, model: str, path: Path | str = PACKAGED) -> "Judge | None":
        """The judge trained on ``model``'s vectors, or None (no judge shipped for that model:
        answers are then scored by the rules in ``evidence``)."""
        if not Path(path).exists():
            return None
        judge = cls.load(path)
        return judge if judge.model == model else None

    @classmethod
    def load(cls, path: Path | str = PACKAGED) -> "Judge":
        path = Path(path)
        z = np.load(path, allow_pickle=False)
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return cls(z["stance_w"], z["stance_b"], z["relevance_w"], z["relevance_b"],
                   float(meta.get("threshold", 0.5)), f"judge-{meta.get('version', 1)}", meta.get("model"))

    def stance(self, vectors: np.ndarray) -> np.ndarray:
        return _softmax(np.asarray(vectors, dtype=np.float32) @ self.stance_w + self.stance_b)

    def relevant(self, similarity: np.ndarray) -> np.ndarray:
        return _softmax(relevance_features(similarity) @ self.relevance_w + self.relevance_b)[:, 1]

    def answers(self, vectors: np.ndarray, similarity: np.ndarray, want: int) -> np.ndarray:
        """P(each sentence answers the question with the polarity asked)."""
        if len(similarity) == 0:
            return np.zeros(0)
        return yes_probability(self.relevant(similarity), self.stance(vectors), want)
