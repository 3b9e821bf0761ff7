import json
import shutil

import numpy as np
import pytest

from assistant.answer import Citation, verify
from assistant.engine import Assistant
from assistant.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from assistant.indexing import sync
from assistant.store import FORMAT_VERSION
from conftest import CORPUS, LETTERS, FakeEmbedder, make_pdf


def edited_copy(index, dest, edit):
    """A copy of the index folder ``index`` at ``dest`` whose manifest ``edit(manifest)`` changed."""
    shutil.copytree(index, dest)
    return edit_manifest(dest, edit)


def edit_manifest(folder, edit) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_index_folder_is_plain_files_with_a_manifest(fake_index):
    _, index = fake_index
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["format"] == FORMAT_VERSION
    assert manifest["model"] == {"name": "fake-hash-256", "dim": 256, "max_tokens": 128}
    assert manifest["chunking"]["max_tokens"] == 128
    assert {e["path"] for e in manifest["letters"]} == set(LETTERS.values())
    assert all(len(e["sha256"]) == 64 and e["meta"]["authority"] for e in manifest["letters"])
    assert not list(index.rglob("*.pkl")) and not list(index.rglob("*.pickle"))
    for npy in index.rglob("*.npy"):
        np.load(npy, allow_pickle=False)  # no object arrays anywhere


def test_second_sync_changes_nothing_and_embeds_nothing(fake_index):
    corpus, index = fake_index
    emb = FakeEmbedder()
    report = sync(corpus, index, emb, progress=False)
    assert report.unchanged == sorted(LETTERS.values()) and not report.changed_anything
    assert emb.texts_embedded == 0


def test_add_change_remove_rename_and_duplicate(corpus_copy, tmp_path):
    index = tmp_path / "index"
    emb = FakeEmbedder()
    sync(corpus_copy, index, emb, progress=False)
    first = emb.texts_embedded

    (corpus_copy / LETTERS["wirral"]).rename(corpus_copy / "wirral-renamed.txt")
    (corpus_copy / LETTERS["dudley"]).unlink()
    shutil.copy(CORPUS / LETTERS["wakefield"], corpus_copy / "wakefield-copy.txt")
    wolves = corpus_copy / LETTERS["wolverhampton"]
    wolves.write_text(wolves.read_text() + "\n\nOverview\n\nA new closing finding was added.\n")
    emb.texts_embedded = 0
    report = sync(corpus_copy, index, emb, progress=False)
    assert report.renamed == [(LETTERS["wirral"], "wirral-renamed.txt")]
    assert report.removed == [LETTERS["dudley"]]
    assert report.changed == [LETTERS["wolverhampton"]]
    assert report.duplicates == [("wakefield-copy.txt", LETTERS["wakefield"])]
    entries = json.loads((index / "manifest.json").read_text())["letters"]
    entry = next(e for e in entries if e["path"] == LETTERS["wolverhampton"])
    # only the changed letter is embedded: its passages, then its sentences (no late chunking here)
    assert emb.texts_embedded == entry["passages"] + entry["sentences"]
    assert 0 < emb.texts_embedded < first

    a = Assistant.open(index, embedder=emb)
    assert sorted(e["path"] for e in a.letters()) == sorted(
        [LETTERS["wolverhampton"], LETTERS["wakefield"], "wirral-renamed.txt", LETTERS["cabinet"]])
    assert "Dudley" not in a.authorities()


def test_opening_with_another_model_says_to_rebuild(fake_index):
    _, index = fake_index

    class Other(FakeEmbedder):
        name = "other-model"

    with pytest.raises(IndexMismatchError, match="assistant index --rebuild"):
        Assistant.open(index, embedder=Other())


def test_opening_another_format_says_to_rebuild(fake_index, tmp_path):
    _, index = fake_index
    copy = tmp_path / "index"
    edited_copy(index, copy, lambda m: m.update(format=99))
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Assistant.open(copy, embedder=FakeEmbedder())


def test_an_older_format_is_upgraded_without_embedding_again(fake_index, tmp_path):
    corpus, index = fake_index
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    before = Assistant.open(copy, embedder=FakeEmbedder()).ask("Which authorities had weak contingency planning?")
    manifest = edit_manifest(copy, lambda m: m.update(format=2))  # format 2 generations had no sentence facts
    gen = copy / manifest["files"]["generation_dir"]
    for f in gen.glob("sentence_*"):
        if f.name != "sentence_vectors.npy":
            f.unlink()
    with pytest.raises(IndexMismatchError, match="to upgrade it"):
        Assistant.open(copy, embedder=FakeEmbedder())
    emb = FakeEmbedder()
    report = sync(corpus, copy, emb, progress=False)
    assert emb.texts_embedded == 0 and report.unchanged == sorted(LETTERS.values()) and report.upgraded
    after = Assistant.open(copy, embedder=FakeEmbedder()).ask("Which authorities had weak contingency planning?")
    assert after.to_dict() == before.to_dict()
    # sentence facts worked out with other word lists are worked out again, too
    edit_manifest(copy, lambda m: m.update(sentence_facts="from-another-version"))
    with pytest.raises(IndexMismatchError, match="to update them"):
        Assistant.open(copy, embedder=FakeEmbedder())
    report = sync(corpus, copy, emb, progress=False)
    assert emb.texts_embedded == 0 and report.upgraded and "up to date" in report.summary()
    assert Assistant.open(copy, embedder=FakeEmbedder()).ask(before.question).to_dict() == before.to_dict()


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexMissingError, match="assistant index"):
        Assistant.open(tmp_path / "nothing", embedder=FakeEmbedder())


def test_inconsistent_index_is_reported_not_served(fake_index, tmp_path):
    _, index = fake_index
    copy = tmp_path / "index"
    edited_copy(index, copy, lambda m: m["counts"].update(passages=m["counts"]["passages"] + 1))
    with pytest.raises(IndexCorruptError, match="assistant index"):
        Assistant.open(copy, embedder=FakeEmbedder())


def test_quote_verification_drops_a_forged_quote(fake_index):
    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    snap = a.snapshot
    number = next(i for i, e in enumerate(snap.letters) if e["path"] == LETTERS["wirral"])
    text = snap.record(number).text
    real = "The waiting list is eight months, and this is too long."
    start = text.index(real)
    good = Citation(1, LETTERS["wirral"], "Wirral", None, None, None, None, real, start, start + len(real), 1.0)
    forged = Citation(2, LETTERS["wirral"], "Wirral", None, None, None, None,
                      "The waiting list is two weeks, and this is fine.", start, start + len(real), 1.0)
    moved = Citation(3, LETTERS["wirral"], "Wirral", None, None, None, None, real, start + 1, start + len(real) + 1, 1.0)
    letterhead = Citation(4, LETTERS["wirral"], "Wirral", None, None, None, None, "Aviation House", 0, 14, 1.0)
    kept = verify([good, forged, moved, letterhead], {LETTERS["wirral"]: text})
    assert kept == [good]


def test_answers_quote_the_letters_exactly(fake_index):
    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    ans = a.ask("How long was the CAMHS waiting list in Wirral?")
    assert ans.found and ans.authorities == ["Wirral"]
    snap = a.snapshot
    texts = {e["path"]: snap.record(i).text for i, e in enumerate(snap.letters)}
    for c in ans.citations:
        assert " ".join(texts[c.letter][c.start:c.end].split()) == c.quote
    d = ans.to_dict()
    assert list(d) == ["question", "found", "answer", "authorities", "checked", "citations"]
    assert list(d["citations"][0]) == ["n", "letter", "authority", "date", "kind", "section", "page", "quote",
                                       "start", "end", "score"]


def test_unknown_authority_gets_a_clear_no(fake_index):
    _, index = fake_index
    ans = Assistant.open(index, embedder=FakeEmbedder()).ask("What did inspectors say about Leeds' assessments?")
    assert not ans.found and ans.citations == []
    assert "no letters about Leeds" in ans.answer and "Dudley" in ans.answer


def test_off_topic_question_abstains(fake_index):
    _, index = fake_index
    ans = Assistant.open(index, embedder=FakeEmbedder()).ask("What is the boiling point of tungsten?")
    assert not ans.found and ans.citations == [] and "say nothing" in ans.answer


def test_filters_narrow_what_is_checked(fake_index):
    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    ans = a.ask("Which authorities had weak contingency planning?", since="2019-01-01")
    assert ans.checked == {"letters": 2, "authorities": 2}
    assert set(ans.authorities) <= {"Wakefield", "Dudley"}
    ans = a.ask("What did inspectors say about plans?", kind="monitoring visit")
    assert {c.kind for c in ans.citations} == {"monitoring visit"}


def test_pdf_citations_carry_their_page(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_pdf(corpus / "download.pdf", [
        "21 January 2019\n\nDear Ms Smith\n\nFocused visit to Sandwell Metropolitan Borough Council children's "
        "services\n\nOverview\n\nLeaders know the service well.",
        "Findings\n\nThe fostering panel backlog is eleven weeks long and too slow for children.",
    ])
    emb = FakeEmbedder()
    report = sync(corpus, tmp_path / "index", emb, progress=False)
    assert report.added == ["download.pdf"] and not report.failed
    a = Assistant.open(tmp_path / "index", embedder=emb)
    assert a.letters()[0]["meta"]["authority"] == "Sandwell"
    ans = a.ask("How long is the fostering panel backlog in Sandwell?")
    assert ans.found
    top = ans.citations[0]
    assert "eleven weeks" in top.quote and top.page == 2 and top.section == "Findings"


def test_broken_letters_are_reported_and_the_rest_indexed(corpus_copy, tmp_path):
    (corpus_copy / "empty.txt").write_bytes(b"")
    (corpus_copy / "junk.pdf").write_bytes(b"\x00\x01garbage" * 100)
    (corpus_copy / "notes.docx").write_bytes(b"x")
    report = sync(corpus_copy, tmp_path / "index", FakeEmbedder(), progress=False)
    assert sorted(p for p, _ in report.failed) == ["empty.txt", "junk.pdf"]
    assert report.skipped == ["notes.docx"]
    assert len(report.added) == 5
    assert "empty" in dict(report.failed)["empty.txt"]


def test_rebuild_with_another_model_embeds_everything_again(corpus_copy, tmp_path):
    index = tmp_path / "index"
    sync(corpus_copy, index, FakeEmbedder(), progress=False)

    class Other(FakeEmbedder):
        name = "other-model"

    with pytest.raises(IndexMismatchError, match="--rebuild"):
        sync(corpus_copy, index, Other(), progress=False)
    other = Other()
    report = sync(corpus_copy, index, other, rebuild=True, progress=False)
    assert len(report.added) == 5
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["model"]["name"] == "other-model"
    assert other.texts_embedded == sum(e["passages"] + e["sentences"] for e in manifest["letters"])
    assert Assistant.open(index, embedder=other).ask("How long was the CAMHS waiting list in Wirral?").found


def test_vectorised_bm25_matches_bm25s_own_build():
    import bm25s

    from assistant.textsearch import KeywordIndex, tokenize

    texts = [(CORPUS / name).read_text(encoding="utf-8") for name in sorted(LETTERS.values())]
    docs = [tokenize(p) for t in texts for p in t.split("\n\n") if tokenize(p)]
    ours = KeywordIndex.build(docs)
    theirs = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    theirs.index(docs, show_progress=False)
    for q in ("contingency planning", "waiting list camhs", "supervision reflective practice audit"):
        qt = tokenize(q)
        expected = theirs.get_scores([t for t in qt if t in theirs.vocab_dict])
        assert np.allclose(ours.scores(qt), expected, rtol=1e-4, atol=1e-5)


def test_keyword_window_adds_neighbours_in_the_same_group_only():
    from assistant.textsearch import KeywordIndex

    docs = [["alpha"], ["beta"], ["gamma"], ["delta"]]
    kw = KeywordIndex.build(docs, groups=[1, 1, 1, 2], width=1)
    hits = kw.scores(["alpha"]) > 0
    assert hits.tolist() == [True, True, False, False]
    hits = kw.scores(["delta"]) > 0
    assert hits.tolist() == [False, False, False, True]


def test_the_app_brings_an_older_index_up_to_date_before_serving(fake_index, tmp_path):
    from assistant.indexing import layout_outdated
    from assistant.server import prepare

    corpus, index = fake_index
    copy = tmp_path / "index"
    edited_copy(index, copy, lambda m: m.update(sentence_facts="from-another-version"))
    assert layout_outdated(copy) and not layout_outdated(index) and not layout_outdated(tmp_path / "none")
    emb = FakeEmbedder()
    assistant = prepare(corpus, copy, watch=False, embedder=emb)
    assert emb.texts_embedded == 0 and not layout_outdated(copy)
    assert assistant.ask("Which authorities had weak contingency planning?").found


def test_model_facts_come_from_the_folder_without_loading_weights():
    from assistant.embedding import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    assert (emb.dim, emb.max_tokens) == (384, 256)
    assert emb._model is None  # an index with nothing new to embed never loads the model


def test_pdfs_read_by_an_earlier_reader_are_reported(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / LETTERS["wirral"], corpus / "wirral.txt")
    make_pdf(corpus / "visit.pdf", ["Focused visit to Sefton local authority children's services. "
                                    "Inspectors found that plans were not specific enough."])
    emb = FakeEmbedder()
    report = sync(corpus, tmp_path / "index", emb, progress=False)
    assert not any("earlier version of the PDF reader" in w for w in report.warnings)

    def older(manifest):  # as an index written before the reader was recorded
        for e in manifest["letters"]:
            e.pop("reader", None)

    edit_manifest(tmp_path / "index", older)
    report = sync(corpus, tmp_path / "index", emb, progress=False)
    [warning] = [w for w in report.warnings if "earlier version of the PDF reader" in w]
    assert "1 PDF letter(s)" in warning and "visit.pdf" in warning and "--rebuild" in warning
    report = sync(corpus, tmp_path / "index", emb, progress=False, rebuild=True)
    assert not any("earlier version of the PDF reader" in w for w in report.warnings)
