"""Sentence scoring from stored facts, and the dense search structure (exact or HNSW)."""

import json
import shutil

import numpy as np
import pytest

from assistant import evidence
from assistant.engine import Assistant
from assistant.indexing import sync
from assistant.search import APPROX_ENV, RECALL_TARGET, dense_scores, tune_depth, write_dense
from assistant.textsearch import STOPWORDS, stem_words, tokenize
from conftest import LETTERS, FakeEmbedder

QUESTIONS = [
    "Which authorities had weak contingency planning?",
    "Where was supervision not reflective enough?",
    "How long was the CAMHS waiting list in Wirral?",
    "When did inspectors visit Dudley?",
    "Who were the inspectors?",
    "What strengths were found in services for care leavers?",
    "Which authorities had plans that are not good enough?",
    "Which authorities had high caseloads for social workers?",
    "How many locality team hubs are there?",
    "Where did placements break down?",
    "Which team provides intensive help and support?",
    "What model is Wirral rolling out?",
]


def reference_scores(snap, passages, passage_scores, qvec, topic, question):
    """Each sentence scored one by one from its text, with the functions of ``evidence``."""
    terms = evidence.content_terms(topic)
    weights = {t: snap.keyword.idf(t) ** 2 for t in set(terms)}
    want, kind = evidence.question_stance(topic), evidence.answer_type(question)
    targets = evidence.stance_targets(topic, snap.keyword.idf)
    opposed = evidence.directions(topic)
    # a question's word the index never saw stands for the words it begins ("break" -> "breakdown")
    alias = {w: t for t in terms for w in snap.keyword.expand(t) if w != t}
    # "which <thing>": a sentence naming such a thing holds the answer type
    thing, ignore = evidence.asked_thing(topic), set(stem_words(sorted(STOPWORDS))) | set(terms)
    out = {}
    for p in passages:
        lo, hi = int(snap.sentence_ptr[p]), int(snap.sentence_ptr[p + 1])
        text = snap.record(int(snap.passage_letter[p])).text
        pieces = [text[s:e] for s, e in snap.sentence_spans[lo:hi]]
        words = [[alias.get(w, w) for w in tokenize(x)] for x in pieces]
        markers = [evidence.sentence_markers(x) for x in pieces]
        stances = [-1 if evidence.contradicts(m[0], opposed) else want * evidence.stance_of(m) if want else 0
                   for m in markers]
        aimed = [st > 0 and evidence.targeted(m, targets, want) for st, m in zip(stances, markers)]
        whole = float(snap.passage_vectors(np.array([p]))[0] @ qvec)
        for j in range(hi - lo):
            near = set(words[j - 1] if j else ()) | set(words[j + 1] if j + 1 < len(words) else ())
            stance = stances[j]
            if stance > 0 and targets and not any(aimed[max(0, j - 1):j + 2]):
                stance = 0
            dense = float(np.asarray(snap.sentence_vectors[lo + j], np.float32) @ qvec)
            typed = (evidence.has_answer_type(pieces[j], kind) if kind
                     else bool(thing and evidence.name_words(markers[j][0], thing, ignore)))
            out[lo + j] = evidence.score(dense, whole, evidence.word_match(terms, weights, words[j], near), stance,
                                         typed)
    return out


@pytest.mark.parametrize("question", QUESTIONS)
def test_stored_sentence_facts_score_as_the_text_does(fake_index, question):
    _, index = fake_index
    assistant = Assistant.open(index, embedder=FakeEmbedder())
    snap = assistant.snapshot
    query = assistant.read(question)
    qvec = assistant.embedder.embed([query.topic])[0]
    allowed = np.ones(len(snap.letters), bool)
    scores = snap.passage_scores(qvec, evidence.search_terms(query.topic), allowed)
    passages = np.argsort(-scores)[:40].tolist()
    got = {s.row: s.score for s in snap.score_sentences(passages, scores, qvec, snap.probe(query))}
    want = reference_scores(snap, passages, scores, qvec, query.topic, question)
    assert got.keys() == want.keys() and len(got) > 40
    assert max(abs(got[r] - want[r]) for r in got) < 1e-5


def clustered(n, dim=64, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 50), dim))
    x = centres[rng.integers(len(centres), size=n)] + 0.5 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_hnsw_reaches_the_recall_target_and_grows_in_place(tmp_path, monkeypatch):
    import faiss

    monkeypatch.setenv(APPROX_ENV, "1000")
    vectors, queries = clustered(6000), clustered(400, seed=1)
    files = write_dense(tmp_path / "a.faiss", vectors, queries)
    assert files["search"] == "hnsw" and files["hnsw"]["recall_at_10"] >= RECALL_TARGET
    index = faiss.read_index(str(tmp_path / "a.faiss"))
    ef, recall = tune_depth(index, vectors, queries)
    assert recall >= RECALL_TARGET and ef == files["hnsw"]["ef_search"]
    # the nearest passages get their exact scores, the rest the lowest of those
    q = queries[0]
    got = dense_scores(index, None, q, ef)
    exact = vectors @ q
    top = np.argsort(-exact)[:10]
    assert np.allclose(got[top], exact[top], atol=1e-5)
    assert got.min() <= np.sort(exact)[-10]
    # more rows after the old ones: the old graph is extended, not rebuilt
    more = np.concatenate([vectors, clustered(500, seed=2)])
    files = write_dense(tmp_path / "b.faiss", more, queries, previous=index)
    assert files["search"] == "hnsw" and faiss.read_index(str(tmp_path / "b.faiss")).ntotal == 6500
    assert index.ntotal == 6000  # the previous generation's index is left as it was
    # small collections stay exact
    monkeypatch.setenv(APPROX_ENV, "100000")
    assert write_dense(tmp_path / "c.faiss", more, queries) == {"search": "flat"}


def test_an_approximate_index_is_chosen_by_size_and_answers_the_same(fake_index, tmp_path, monkeypatch):
    corpus, exact_index = fake_index
    monkeypatch.setenv(APPROX_ENV, "50")
    corpus_copy = tmp_path / "corpus"
    shutil.copytree(corpus, corpus_copy)
    index = tmp_path / "index"
    sync(corpus_copy, index, FakeEmbedder(), progress=False)
    files = json.loads((index / "manifest.json").read_text())["files"]
    assert files["search"] == "hnsw" and files["hnsw"]["recall_at_10"] >= RECALL_TARGET
    approx = Assistant.open(index, embedder=FakeEmbedder())
    exact = Assistant.open(exact_index, embedder=FakeEmbedder())
    for q in QUESTIONS[:4]:  # fewer passages than DENSE_CANDIDATES: every dense score is exact
        assert approx.ask(q).to_dict() == exact.ask(q).to_dict()
    # removing a letter rebuilds the graph over what is left
    gone = LETTERS["dudley"]
    (corpus_copy / gone).unlink()
    report = sync(corpus_copy, index, FakeEmbedder(), progress=False)
    assert report.removed == [gone]
    approx.reload()
    assert approx.snapshot.manifest["files"]["search"] == "hnsw"
    assert "Dudley" not in approx.ask("Which authorities had weak contingency planning?").authorities


def test_repeated_passages_are_one_node_of_the_graph(tmp_path, monkeypatch):
    from assistant.search import DenseIndex

    monkeypatch.setenv(APPROX_ENV, "1000")
    distinct = clustered(2000)
    rows = np.random.default_rng(3).integers(len(distinct), size=6000)  # boilerplate, repeated
    vectors = distinct[rows]
    files = write_dense(tmp_path / "dense.faiss", vectors, clustered(300, seed=1))
    assert files["hnsw"]["distinct_vectors"] == len(np.unique(rows))
    assert files["hnsw"]["recall_at_10"] >= RECALL_TARGET
    dense = DenseIndex(tmp_path, files["hnsw"]["ef_search"])
    assert dense.size == 6000 and np.array_equal(dense.vectors, vectors)
    q = clustered(1, seed=5)[0]
    exact, got = vectors @ q, dense.scores(q)
    best = np.flatnonzero(exact >= np.sort(exact)[-10])  # every copy of the best vectors
    assert np.allclose(got[best], exact[best], atol=1e-5)
