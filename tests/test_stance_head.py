"""The judge's stance head: trained on token vectors, run in numpy, its stances kept in the
index under its name and worked out again when the head changes (token-reading fake model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.indexing import sync
from assistant.judge import Judge, StanceHead
from assistant.retrieval import Snapshot
from assistant.scoring import stance_signs
from assistant.training import fit_stance_head, train_judge
from conftest import TokenFakeEmbedder

SENTENCES = [("Caseloads are not manageable for social workers.", 0), ("Caseloads are too high in the team.", 0),
             ("Plans are not specific and lack timescales.", 0), ("Supervision is not regular.", 0),
             ("Caseloads are manageable for social workers.", 1), ("Caseloads are low in the team.", 1),
             ("Plans are specific and have timescales.", 1), ("Supervision is regular and reflective.", 1),
             ("The service is led by the director.", 3), ("The inspection took place in March.", 3)]


def _tokens(texts):
    emb = TokenFakeEmbedder()
    return [emb._tokens(t)[0] for t in texts]


def _head(seed=0, epochs=60):
    texts, y = zip(*SENTENCES)
    return fit_stance_head(_tokens(texts), np.array(y), seed=seed, epochs=epochs)


def test_the_head_learns_its_labels_and_runs_in_numpy_as_in_torch():
    import torch

    head = _head()
    texts, y = zip(*SENTENCES)
    tokens = _tokens(texts)
    got = head(tokens)
    assert got.shape == (len(texts), 4) and np.allclose(got.sum(axis=1), 1, atol=1e-5)
    assert (got.argmax(axis=1) == np.array(y)).mean() >= 0.9
    # the same arithmetic as the torch modules it was trained as
    conv = torch.nn.Conv1d(head.conv_w.shape[1], head.conv_w.shape[0], 3, padding=1)
    conv.weight.data, conv.bias.data = torch.from_numpy(head.conv_w), torch.from_numpy(head.conv_b)
    for t, p in zip(tokens, got):
        h = torch.from_numpy(t)[None]
        z = torch.relu(conv(h.transpose(1, 2))).transpose(1, 2).max(1).values[0]
        a = (h[0] @ torch.from_numpy(head.att_w) + float(head.att_b)).softmax(0)
        out = torch.cat([z, (a[:, None] * h[0]).sum(0)]) @ torch.from_numpy(head.out_w).T + torch.from_numpy(head.out_b)
        assert np.allclose(out.softmax(0).detach().numpy(), p, atol=1e-5)
    assert head([]).shape == (0, 4)
    assert head.name.startswith("stance-tokens-") and head.name != _head(seed=1).name


def _judge_file(tmp_path, head, name):
    dim = TokenFakeEmbedder.dim
    judge = Judge(np.zeros((dim, 4), np.float32), np.zeros(4, np.float32), np.zeros((2, 2), np.float32),
                  np.zeros(2, np.float32), model=TokenFakeEmbedder.name, head=head)
    path = tmp_path / f"{name}.npz"
    judge.save(path, {})
    return path


def test_the_index_keeps_stances_by_its_head_and_catches_up_when_the_head_changes(tmp_path, corpus_copy, monkeypatch):
    index = tmp_path / "index"
    first, second = _head(seed=0, epochs=5), _head(seed=1, epochs=5)
    monkeypatch.setenv("ASSISTANT_JUDGE", str(_judge_file(tmp_path, first, "first")))
    sync(corpus_copy, index, TokenFakeEmbedder(), progress=False)
    snap = Snapshot(index)
    held = snap.stances_by(first.name)
    assert held is not None and held.shape == (len(snap.sentence_spans), 4)
    assert snap.stances_by(second.name) is None
    # what the head makes of the first letter's sentences, read again
    record = snap.record(0)
    from assistant.chunking import embed_text

    texts, spans = zip(*(embed_text(record.text, c) for c in record.chunks))
    again = TokenFakeEmbedder().embed_spans(list(texts), list(spans), read=first)[2]
    assert np.allclose(np.asarray(held[:len(again)], np.float32), again, atol=2e-3)
    loaded = Judge.load(tmp_path / "first.npz")
    rows = np.arange(5)
    assert np.allclose(loaded.stance_of(snap, rows), np.asarray(held[:5], np.float32))

    vectors = {p.name: p.read_bytes() for p in (index / "letters").glob("*.vec.npy")}
    monkeypatch.setenv("ASSISTANT_JUDGE", str(_judge_file(tmp_path, second, "second")))
    emb = TokenFakeEmbedder()
    sync(corpus_copy, index, emb, progress=False)
    snap = Snapshot(index)
    assert snap.stances_by(second.name) is not None and snap.stances_by(first.name) is None
    assert emb.texts_embedded > 0  # the letters' passages read again for their stances...
    assert {p.name: p.read_bytes() for p in (index / "letters").glob("*.vec.npy")} == vectors  # ...vectors kept
    # a judge whose head the index does not hold reads stances from the sentence vectors
    assert np.allclose(loaded.stance_of(snap, rows), loaded.stance(np.asarray(snap.sentence_vectors[rows], np.float32)))

    quiet = TokenFakeEmbedder()
    generation = snap.generation
    sync(corpus_copy, index, quiet, progress=False)
    assert quiet.texts_embedded == 0 and Snapshot(index).generation == generation

    (corpus_copy / "new.txt").write_text("Caseloads are not manageable. Plans are specific.\n", encoding="utf-8")
    sync(corpus_copy, index, TokenFakeEmbedder(), progress=False)
    snap = Snapshot(index)
    assert snap.stances_by(second.name).shape == (len(snap.sentence_spans), 4)
    # the old letters' stances come from the previous generation, the new one's from its file
    from assistant.store import IndexFolder

    folder = IndexFolder(index)
    files = [folder.read_letter_stances(e["sha256"], second.name) for e in snap.letters]
    assert np.array_equal(np.asarray(snap.stances_by(second.name)), np.concatenate(files))


def test_stance_signs_come_from_the_judges_head_else_from_the_stance_words(tmp_path, corpus_copy, monkeypatch):
    head = _head(epochs=5)
    path = _judge_file(tmp_path, head, "judge")
    monkeypatch.setenv("ASSISTANT_JUDGE", str(path))
    sync(corpus_copy, tmp_path / "index", TokenFakeEmbedder(), progress=False)
    snap = Snapshot(tmp_path / "index")
    rows = np.arange(len(snap.sentence_spans))
    likeliest = np.asarray(snap.stances_by(head.name), np.float32).argmax(axis=1)
    expected = np.select([likeliest == 0, likeliest == 1], [-1, 1], 0)
    assert stance_signs(snap, Judge.load(path), rows).tolist() == expected.tolist()
    words = stance_signs(snap, None, rows)  # no judge (another model): the stance words
    assert set(words.tolist()) <= {-1, 0, 1} and (words != 0).any()
    assert stance_signs(snap, Judge.load(path), []).tolist() == []


def test_training_gives_the_judge_a_head_when_the_model_reads_tokens(tmp_path):
    from test_training import _write

    figures, judge, _ = train_judge(_write(tmp_path), tmp_path / "judge.npz", TokenFakeEmbedder())
    assert judge.head is not None
    assert "from the sentence's tokens" in figures.lines()[1]
    loaded = Judge.load(tmp_path / "judge.npz")
    assert loaded.head is not None and loaded.head.name == judge.head.name
    assert json.loads((tmp_path / "judge.json").read_text())["head"] == judge.head.name


def test_with_an_index_the_head_learns_from_sentences_read_in_their_passages(tmp_path):
    """The labelled reports indexed: the labelled sentences are found there and the head learns
    from their tokens as indexing reads them; the letter model is trained on the index too."""
    from test_training import _write

    data = _write(tmp_path)
    corpus = tmp_path / "reports"
    corpus.mkdir()
    for path in sorted((data / "candidates").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for r in rows:
            r["report"] = f"{r['authority']}.txt"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        text = f"Ofsted letter about {rows[0]['authority']} council.\n\n" + " ".join(r["sentence"] for r in rows)
        (corpus / f"{rows[0]['authority']}.txt").write_text(text + "\n", encoding="utf-8")
    emb = TokenFakeEmbedder()
    sync(corpus, tmp_path / "index", emb, progress=False)
    from assistant.engine import Assistant
    from assistant.training import _rows_of, index_tokens, load_labels

    assistant = Assistant.open(tmp_path / "index", embedder=emb, judge="none")
    items = load_labels(data)
    rows = _rows_of(assistant.snapshot, items)
    assert len(rows) == len(items)  # every labelled sentence found in its report
    tokens = index_tokens(assistant)
    assert len(tokens) == len(assistant.snapshot.sentence_spans)
    figures, judge, held_out = train_judge(data, tmp_path / "judge.npz", emb, index=tmp_path / "index")
    assert judge.head is not None and judge.reads_letters and len(held_out) == 7
    assert any("letter model" in line for line in figures.lines())


def test_the_stance_head_benchmark_times_embedding_with_and_without_it(tmp_path, monkeypatch):
    from assistant.bench import bench_stance_head
    from assistant.errors import AssistantError
    from conftest import CORPUS

    monkeypatch.setenv("ASSISTANT_JUDGE", str(_judge_file(tmp_path, _head(epochs=2), "judge")))
    r = bench_stance_head(CORPUS, TokenFakeEmbedder(), repeats=1)
    assert r["passages"] > 0 and r["sentences"] > r["passages"] and r["with_head_s"] > 0 and r["ratio"] > 0
    monkeypatch.setenv("ASSISTANT_JUDGE", "none")
    with pytest.raises(AssistantError, match="no judge with a stance head"):
        bench_stance_head(CORPUS, TokenFakeEmbedder(), repeats=1)


def test_a_lost_or_damaged_stance_file_is_reported_and_mended_without_embedding_the_rest(tmp_path, corpus_copy,
                                                                                         monkeypatch):
    from assistant.errors import IndexCorruptError
    from assistant.indexing import needs_repair
    from assistant.store import STANCE_FILE, IndexFolder

    head = _head(epochs=2)
    monkeypatch.setenv("ASSISTANT_JUDGE", str(_judge_file(tmp_path, head, "judge")))
    index = tmp_path / "index"
    sync(corpus_copy, index, TokenFakeEmbedder(), progress=False)
    snap = Snapshot(index)
    before = np.asarray(snap.stances_by(head.name)).copy()
    (index / snap.manifest["files"]["generation_dir"] / STANCE_FILE).unlink()
    with pytest.raises(IndexCorruptError, match="assistant index"):
        Snapshot(index).stances_by(head.name)
    assert needs_repair(index)
    emb = TokenFakeEmbedder()
    report = sync(corpus_copy, index, emb, progress=False)
    assert report.repaired and emb.texts_embedded == 0  # written again from the letters' own files
    assert np.array_equal(np.asarray(Snapshot(index).stances_by(head.name)), before)

    # a letter's own stance file damaged while the generation lacks the stances: that letter only
    # is read again, and the generation holds them again
    folder = IndexFolder(index)
    first = Snapshot(index).letters[0]
    (folder.letters_dir / f"{first['sha256']}.{head.name}.npy").write_bytes(b"damaged")
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["files"].pop("stances")
    (index / "manifest.json").write_text(json.dumps(manifest))
    emb = TokenFakeEmbedder()
    sync(corpus_copy, index, emb, progress=False)
    assert 0 < emb.texts_embedded <= first["passages"]
    assert np.array_equal(np.asarray(Snapshot(index).stances_by(head.name)), before)
