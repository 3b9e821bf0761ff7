"""Keyword side of retrieval: one tokenizer (lower case, stop words out, Snowball stems)
shared by the BM25 index, the questions and the sentence scorer."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Sequence

import numpy as np

_WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


#: English stop words (the NLTK list) plus the words questions are made of.
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can couldn't did didn't do does doesn't doing don't down during each few for from
further had hadn't has hasn't have haven't having he her here hers herself him himself his how i if in into
is isn't it it's its itself just me more most mustn't my myself no nor not now of off on once only or other
our ours ourselves out over own same shan't she she's should shouldn't so some such than that that'll the
their theirs them themselves then there these they this those through to too under until up very was wasn't
we were weren't what when where which while who whom why will with won't would wouldn't you you'd you'll
you're you've your yours yourself yourselves also could may might must shall s t d ll m o re ve y
""".split())


def stopwords() -> frozenset[str]:
    return STOPWORDS


def tokenize(text: str) -> list[str]:
    """Stems of the words of ``text`` that carry meaning."""
    stop = stopwords()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    return _stemmer().stemWords(words) if words else []


def stem_words(words: list[str]) -> list[str]:
    """Snowball stems of lower-case words, stop words included (for word distances)."""
    return _stemmer().stemWords(words) if words else []


def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import and logs every build
    return bm25s


class KeywordIndex:
    """BM25 (bm25s) over passages, plus document frequencies for weighting query words."""

    def __init__(self, retriever, n_docs: int):
        self.retriever = retriever
        self.n_docs = n_docs
        indptr = np.asarray(retriever.scores["indptr"])
        self._df = np.diff(indptr)
        self._vocab = retriever.vocab_dict
        self._sorted: list[str] | None = None  # the vocabulary in order, made when first needed

    @classmethod
    def build(cls, tokens: Sequence[list[str]], groups: Sequence | None = None,
              width: int = 0) -> "KeywordIndex":
        """BM25 over token lists; with ``groups``, each passage also holds the words of up to
        ``width`` neighbours on each side in its group (see WINDOW)."""
        vocab: dict[str, int] = {}
        flat = np.fromiter((vocab.setdefault(t, len(vocab)) for doc in tokens for t in doc), dtype=np.int32)
        ptr = np.concatenate([[0], np.cumsum([len(doc) for doc in tokens])]).astype(np.int64)
        words = [None] * len(vocab)
        for t, i in vocab.items():
            words[i] = t
        return cls.build_ids(flat, ptr, words, groups, width)

    @classmethod
    def build_ids(cls, flat: np.ndarray, ptr: np.ndarray, vocab: list[str], groups: Sequence | None = None,
                  width: int = 0, k1: float = 1.2, b: float = 0.75) -> "KeywordIndex":
        """BM25 (Lucene variant, as bm25s computes it) built with sparse matrix arithmetic.

        ``flat``/``ptr`` hold each passage's token ids into ``vocab``. The scores are stored in
        a bm25s retriever, so searching, saving and loading are bm25s's own; only the build
        is vectorised, which keeps re-indexing a large collection quick.
        """
        import scipy.sparse as sp

        n = len(ptr) - 1
        n_vocab = len(vocab) + 1  # bm25s keeps an empty token at the end
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
        tf = sp.csr_matrix((np.ones(len(flat), np.float32), (rows, np.asarray(flat, np.int64))),
                           shape=(max(n, 1), n_vocab))
        if groups is not None and width > 0 and n > 1:
            codes: dict = {}
            keys = np.asarray([codes.setdefault(g, len(codes)) for g in groups], dtype=np.int64)
            adjacency = sp.identity(n, dtype=np.float32, format="csr")
            for d in range(1, width + 1):
                same = np.flatnonzero(keys[d:] == keys[:-d])
                ones = np.ones(len(same), np.float32)
                adjacency = adjacency + sp.csr_matrix((ones, (same, same + d)), shape=(n, n)) \
                    + sp.csr_matrix((ones, (same + d, same)), shape=(n, n))
            tf = adjacency @ tf
        tf = tf.tocsc()
        tf.sum_duplicates()
        dl = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = float(dl.mean()) if len(dl) and dl.mean() > 0 else 1.0
        df = np.diff(tf.indptr)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        cols = np.repeat(np.arange(n_vocab), df)
        freq = tf.data
        data = idf[cols] * freq / (k1 * ((1 - b) + b * dl[tf.indices] / avgdl) + freq)
        retriever = _bm25s().BM25(k1=k1, b=b, method="lucene")
        retriever.scores = {"data": data.astype(np.float32), "indices": tf.indices.astype(np.int32),
                            "indptr": tf.indptr.astype(np.int64), "num_docs": n}
        retriever.vocab_dict = {t: i for i, t in enumerate(vocab)} | {"": n_vocab - 1}
        retriever.nonoccurrence_array = None
        return cls(retriever, n)

    def save(self, folder) -> None:
        self.retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder, n_docs: int, mmap: bool = False) -> "KeywordIndex":
        retriever = _bm25s().BM25.load(str(folder), mmap=mmap, show_progress=False, verbosity=0)
        return cls(retriever, n_docs)

    @property
    def size(self) -> int:
        return int(self.retriever.scores["num_docs"])

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query (zeros where no word matches)."""
        ids = [i for t in query_tokens for i in self.word_ids(t)]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def word_id(self, token: str) -> int | None:
        """The token's number in the index's vocabulary (None if the index never saw it)."""
        return self._vocab.get(token)

    def expand(self, token: str) -> list[str]:
        """The index's words for a question's word: the word itself when the index has it;
        otherwise the words it begins, when it is long enough to mean something ("break" ->
        "breakdown", a question's word that the letters only use in a compound); else none."""
        if token in self._vocab:
            return [token]
        if len(token) < MIN_PREFIX:
            return []
        if self._sorted is None:
            self._sorted = sorted(t for t in self._vocab if t)
        import bisect

        at = bisect.bisect_left(self._sorted, token)
        found = []
        while at < len(self._sorted) and self._sorted[at].startswith(token) and len(found) < MAX_EXPANSIONS:
            found.append(self._sorted[at])
            at += 1
        return found

    def word_ids(self, token: str) -> list[int]:
        """Numbers of ``expand(token)``."""
        return [self._vocab[t] for t in self.expand(token)]

    def idf(self, token: str) -> float:
        """Inverse document frequency (of the words it stands for, see ``expand``); a word the
        index never saw gets the highest weight."""
        return self._idf(int(sum(self._df[i] for i in self.word_ids(token))))

    def idf_of(self, word_id: int) -> float:
        """``idf`` of the word numbered ``word_id`` (the highest for a word no passage holds)."""
        return self._idf(int(self._df[word_id]) if word_id < len(self._df) else 0)

    def _idf(self, df: int) -> float:
        df = min(self.n_docs, df)
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))



#: A question's word the index never saw stands for the index's words it begins (see
#: ``KeywordIndex.expand``) when it has at least MIN_PREFIX letters; at most MAX_EXPANSIONS.
MIN_PREFIX = 4
MAX_EXPANSIONS = 20

#: Each passage's keyword entry also holds its neighbours' words (same letter and section):
#: a passage is found by the words around it, as a reader would. Chosen on SciFact, where it
#: lifts BM25 from 0.651 to 0.688 nDCG@10 by giving split abstracts back their context.
WINDOW = 1
