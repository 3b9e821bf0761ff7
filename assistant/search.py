"""The dense search structure: exact while the collection is small, HNSW above a measured size.

Exact search reads every passage vector for each question; its cost grows with the
collection (measured with `assistant bench search` on 2 cores: 6 ms at 100,000 passages,
18 ms at 300,000, 32 ms at 500,000; 10,000 letters make about 270,000 passages). Above
APPROX_ABOVE passages the index is an HNSW graph instead, whose search hardly grows (3-4 ms
for a question's 2,000 nearest passages at any of those sizes). Its search depth is tuned
when it is written so that recall@10 against exact search reaches RECALL_TARGET on a
sample of the collection's own sentences, and the measured recall goes in the manifest.

With an HNSW index a question's dense scores are known for its nearest passages only
(DENSE_CANDIDATES); the others get the lowest of those, and keyword scores still cover
every passage.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Passages above which the index is approximate (HNSW). Exact search of one question over
#: 400,000 passages takes about 25 ms here, a tenth of the 250 ms a question may take.
APPROX_ABOVE = 400_000
APPROX_ENV = "ASSISTANT_APPROX_ABOVE"
HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH_STEPS = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
RECALL_TARGET = 0.98
RECALL_QUERIES = 300
#: Nearest passages whose dense score an HNSW search returns for one question.
DENSE_CANDIDATES = 2000


def approx_above() -> int:
    """The size above which an index is approximate ($ASSISTANT_APPROX_ABOVE overrides it)."""
    value = os.environ.get(APPROX_ENV)
    return int(value) if value else APPROX_ABOVE


def stored_vectors(index) -> np.ndarray:
    """The vectors held by a flat or HNSW FAISS index, as a NumPy view (no copy; valid while
    ``index`` lives and is not added to); none for an empty index or another kind."""
    import faiss

    if index.ntotal and isinstance(index, faiss.IndexHNSW):
        index = faiss.downcast_index(index.storage)
    if index.ntotal == 0 or not isinstance(index, faiss.IndexFlat):
        return np.zeros((0, index.d), np.float32)
    return np.asarray(faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d)).reshape(index.ntotal, index.d)


def new_hnsw(vectors: np.ndarray):
    """An HNSW graph over ``vectors`` (inner product), built with this module's settings."""
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    index.add(vectors)
    return index


def is_approximate(index) -> bool:
    import faiss

    return isinstance(index, faiss.IndexHNSW)


def write_dense(path: Path, vectors: np.ndarray, queries: np.ndarray, previous=None) -> dict:
    """Write the dense index of ``vectors`` to ``path``; return the manifest's "files" block.

    ``queries`` (some of the collection's sentence vectors) measure an HNSW index's recall.
    ``previous``, an earlier generation's FAISS index, is extended rather than rebuilt when
    ``vectors`` only add rows after its own.
    """
    import faiss

    n, dim = vectors.shape
    if n <= approx_above():
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        faiss.write_index(index, str(path))
        return {"search": "flat"}
    # Letters repeat sentences and passages word for word, and an HNSW graph over many equal
    # vectors loses its way (recall fell to 0.67 on synthetic letters): the graph holds each
    # distinct vector once, ``dense_ids.npy`` says which one each passage has, and the
    # passages' own vectors are kept in order in ``vectors.npy``.
    keep, ids = _distinct_rows(vectors)
    distinct = np.ascontiguousarray(vectors[keep])
    index = None
    if previous is not None and is_approximate(previous) and previous.ntotal <= len(distinct):
        old = stored_vectors(previous)
        if np.array_equal(old, distinct[:len(old)]):
            index = faiss.clone_index(previous)  # the old generation stays as it was
            index.add(distinct[len(old):])
    if index is None:
        index = new_hnsw(distinct)
    ef, recall = tune_depth(index, distinct, queries)
    faiss.write_index(index, str(path))
    np.save(path.parent / "dense_ids.npy", ids, allow_pickle=False)
    np.save(path.parent / "vectors.npy", vectors, allow_pickle=False)
    return {"search": "hnsw", "hnsw": {"m": HNSW_M, "ef_construction": EF_CONSTRUCTION, "ef_search": ef,
                                       "recall_at_10": recall, "recall_queries": min(len(queries), RECALL_QUERIES),
                                       "distinct_vectors": len(distinct)}}


def _distinct_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the distinct vectors (in order of first appearance), and for every row the
    number of its distinct vector."""
    rows = np.ascontiguousarray(vectors)
    view = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()].astype(np.int64)


class DenseIndex:
    """A generation's dense search structure, with every passage's vector and, for HNSW, the
    distinct vector each passage has."""

    def __init__(self, folder: Path, ef_search: int | None = None):
        import faiss

        self.index = faiss.read_index(str(folder / "dense.faiss"))
        self.ef_search = ef_search
        self.ids = None
        if is_approximate(self.index):
            self.ids = np.load(folder / "dense_ids.npy", allow_pickle=False)
            self.vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        else:
            self.vectors = stored_vectors(self.index)  # a view: lives as long as self.index

    @property
    def size(self) -> int:
        return len(self.ids) if self.ids is not None else self.index.ntotal

    def scores(self, qvec: np.ndarray) -> np.ndarray:
        """The question's inner product with every passage (see ``dense_scores``)."""
        return dense_scores(self.index, self.vectors, qvec, self.ef_search, self.ids)


def tune_depth(index, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> tuple[int, float]:
    """The smallest search depth (efSearch) whose recall@k against exact search reaches
    RECALL_TARGET on a sample of ``queries``, and that recall.

    Letters repeat sentences word for word, so many vectors tie: a passage found counts when
    it scores at least the exact k-th best (whichever of the tied ones the search returns).
    """
    rng = np.random.default_rng(0)
    pick = rng.choice(len(queries), size=min(len(queries), RECALL_QUERIES), replace=False) if len(queries) else []
    sample = np.ascontiguousarray(np.asarray(queries[np.sort(pick)], dtype=np.float32))
    if len(sample) == 0:
        return EF_SEARCH_STEPS[0], 1.0
    kth = np.concatenate([-np.partition(-(block @ vectors.T), k - 1, axis=1)[:, k - 1]
                          for block in np.array_split(sample, max(1, len(sample) // 25))])
    recall = 0.0
    for ef in EF_SEARCH_STEPS:
        _, found = index.search(sample, k, params=_depth(ef))
        scores = np.einsum("qd,qkd->qk", sample, vectors[np.maximum(found, 0)])
        recall = float(np.mean((scores >= kth[:, None] - 1e-5) & (found >= 0)))
        if recall >= RECALL_TARGET:
            break
    else:
        log.warning("HNSW recall@%d is %.3f at the deepest search tried (%d)", k, recall, ef)
    index.hnsw.efSearch = ef  # written with the index, and read back from the manifest
    return ef, round(recall, 4)


def _depth(ef: int):
    import faiss

    return faiss.SearchParametersHNSW(efSearch=ef)


#: Rows above which exact search is split between two threads. Reading the vectors from
#: memory is what it waits on; BLAS's own threads would do the same but keep spinning
#: afterwards, taking the cores the model needs (see embedding.one_blas_thread).
SPLIT_ABOVE = 50_000
_POOL = None


def _matvec(vectors: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    global _POOL
    n = len(vectors)
    workers = min(2, os.cpu_count() or 1)
    if n <= SPLIT_ABOVE or workers < 2:
        return vectors @ qvec
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dense")
    out = np.empty(n, dtype=np.float32)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    list(_POOL.map(lambda i: np.matmul(vectors[bounds[i]:bounds[i + 1]], qvec, out=out[bounds[i]:bounds[i + 1]]),
                   range(workers)))
    return out


def dense_scores(index, vectors: np.ndarray | None, qvec: np.ndarray, ef_search: int | None = None,
                 ids: np.ndarray | None = None) -> np.ndarray:
    """The question's inner product with every passage: exact for a flat index; for an HNSW
    index, exact for its DENSE_CANDIDATES nearest passages and their lowest score elsewhere
    (``vectors``, the flat index's own, are not needed then)."""
    if not is_approximate(index):
        return _matvec(vectors, qvec)
    k = min(index.ntotal, DENSE_CANDIDATES)
    scores, found = index.search(np.ascontiguousarray(qvec[None, :], dtype=np.float32), k,
                                 params=_depth(max(ef_search or 0, k)))
    ok = found[0] >= 0
    table = np.full(index.ntotal, scores[0][ok].min() if ok.any() else 0.0, dtype=np.float32)
    table[found[0][ok]] = scores[0][ok]
    return table[ids] if ids is not None else table
