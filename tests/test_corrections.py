"""Corrections to a letter's facts survive re-indexing and are used; removal loses nothing."""

import json

import pytest

from assistant import corrections
from assistant.corrections import CorrectionError
from assistant.engine import Assistant
from assistant.indexing import sync
from conftest import LETTERS, FakeEmbedder


def _entry(a, name):
    return next(e for e in a.snapshot.letters if e["path"] == LETTERS[name])


def test_a_correction_is_used_by_filters_and_answers_and_survives_reindexing(corpus_copy, tmp_path):
    emb = FakeEmbedder()
    index = tmp_path / "index"
    sync(corpus_copy, index, emb, progress=False)
    a = Assistant.open(index, embedder=emb)
    wirral = _entry(a, "wirral")
    embedded = emb.texts_embedded
    corrections.save(corpus_copy, wirral["sha256"], wirral["path"],
                     {"authority": "Sefton", "date": "2018-02-03", "kind": "focused visit"})
    a.sync(corpus_copy, progress=False)
    assert emb.texts_embedded == embedded  # nothing embedded again
    meta = _entry(a, "wirral")["meta"]
    assert (meta["authority"], meta["date"], meta["kind"]) == ("Sefton", "2018-02-03", "focused visit")
    assert meta["corrected"] == ["authority", "date", "kind"]
    assert "Sefton" in a.authorities() and "Wirral" not in a.authorities()
    ans = a.ask("How long was the CAMHS waiting list?", authority=["Sefton"], since="2018-01-01",
                until="2018-12-31")
    assert ans.found and ans.citations[0].authority == "Sefton" and ans.citations[0].date == "2018-02-03"
    # a rebuild reads every letter again: the correction is still laid over it
    sync(corpus_copy, index, emb, rebuild=True, progress=False)
    a.reload()
    assert _entry(a, "wirral")["meta"]["authority"] == "Sefton"
    # taking it back restores what was read
    corrections.save(corpus_copy, wirral["sha256"], wirral["path"], {"authority": "", "date": "", "kind": ""})
    a.sync(corpus_copy, progress=False)
    assert _entry(a, "wirral")["meta"]["authority"] == "Wirral" and "corrected" not in _entry(a, "wirral")["meta"]
    assert json.loads((corpus_copy / ".corrections.json").read_text()) == {}


@pytest.mark.parametrize("fields, message", [({"date": "June 2019"}, "YYYY-MM-DD"),
                                             ({"kind": "tea party"}, "kind must be one of")])
def test_a_bad_correction_is_refused(tmp_path, fields, message):
    with pytest.raises(CorrectionError, match=message):
        corrections.save(tmp_path, "abc", "a.txt", fields)
    assert not (tmp_path / ".corrections.json").exists()


def test_removing_a_letter_moves_it_aside_and_unindexes_it(corpus_copy, tmp_path):
    emb = FakeEmbedder()
    sync(corpus_copy, tmp_path / "index", emb, progress=False)
    a = Assistant.open(tmp_path / "index", embedder=emb)
    original = (corpus_copy / LETTERS["dudley"]).read_bytes()
    moved = corrections.remove(corpus_copy, LETTERS["dudley"])
    a.sync(corpus_copy, progress=False)
    assert "Dudley" not in a.authorities() and len(a.letters()) == 4
    assert moved.read_bytes() == original and ".removed" in moved.parts
    with pytest.raises(CorrectionError):
        corrections.remove(corpus_copy, "../../etc/passwd")
