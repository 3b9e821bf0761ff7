import re

import pytest

from assistant.chunking import chunk_letter, clean, embed_text
from assistant.config import ChunkSettings
from assistant.metadata import evidence_bounds
from conftest import CORPUS, LETTERS, FakeEmbedder


@pytest.fixture(params=sorted(LETTERS))
def letter(request):
    return (CORPUS / LETTERS[request.param]).read_text(encoding="utf-8")


def test_spans_round_trip_and_stay_in_order(letter):
    chunks = chunk_letter(letter, FakeEmbedder().count_tokens)
    assert chunks
    last = -1
    for c in chunks:
        for s, e in c.sentences:
            assert 0 <= s < e <= len(letter)
            assert s > last
            last = e
            assert letter[s:e] == letter[s:e].strip()


def test_no_passage_exceeds_the_model_limit(letter):
    emb = FakeEmbedder()
    settings = ChunkSettings(max_tokens=emb.max_tokens)
    for c in chunk_letter(letter, emb.count_tokens, settings):
        assert emb.count_tokens([embed_text(letter, c)[0]])[0] <= emb.max_tokens


def test_letterhead_salutation_and_sign_off_are_not_evidence(letter):
    text = " ".join(clean(letter[s:e]) for c in chunk_letter(letter, FakeEmbedder().count_tokens)
                    for s, e in c.sentences)
    for boiler in ("Piccadilly Gate", "enquiries@ofsted", "0300 123 1231", "Dear ", "Yours sincerely",
                   "Emma.bennett@"):
        assert boiler not in text


def test_sections_follow_headings():
    text = (CORPUS / LETTERS["wolverhampton"]).read_text(encoding="utf-8")
    sections = [c.section for c in chunk_letter(text, FakeEmbedder().count_tokens)]
    assert "Overview" in sections and "Findings" in sections
    assert "What needs to improve in this area of social work practice" in sections
    assert sections.index("Overview") < sections.index("Findings")


def test_sentence_cut_by_a_page_break_is_one_sentence():
    text = (CORPUS / LETTERS["wolverhampton"]).read_text(encoding="utf-8")
    sentences = [clean(text[s:e]) for c in chunk_letter(text, FakeEmbedder().count_tokens) for s, e in c.sentences]
    assert any(s.startswith("Inconsistency of practice") and s.endswith("progress in meeting needs.")
               for s in sentences)


def test_an_overlong_sentence_is_split_not_truncated():
    words = " ".join(f"word{i}" for i in range(400))
    text = f"Findings\n\n{words}."
    chunks = chunk_letter(text, FakeEmbedder().count_tokens, ChunkSettings(max_tokens=128), bounds=(0, len(text)))
    covered = "".join(text[s:e] + " " for c in chunks for s, e in c.sentences)
    assert covered.split() == words.replace(".", "").split()[:-1] + [words.split()[-1] + "."]
    assert all(FakeEmbedder().count_tokens([embed_text(text, c)[0]])[0] <= 128 for c in chunks)


def test_html_table_rows_give_text_not_tags():
    text = (CORPUS / LETTERS["cabinet"]).read_text(encoding="utf-8")
    for c in chunk_letter(text, FakeEmbedder().count_tokens):
        for s, e in c.sentences:
            assert "<p" not in text[s:e] and "data-bbox" not in text[s:e]


def test_text_after_the_sign_off_block_is_still_evidence():
    text = ("Dear Ms Smith\n\nFindings\n\nLeaders know their services well.\n\nYours sincerely\n\nJo Bloggs\n\n"
            "His Majesty's Inspector\n\nAnnex: case sampling\n\nInspectors sampled forty cases in the "
            "children in care service and found plans were up to date.\n")
    start, end = evidence_bounds(text)
    assert end == len(text)
    quoted = [clean(text[s:e]) for c in chunk_letter(text, FakeEmbedder().count_tokens) for s, e in c.sentences]
    assert "Leaders know their services well." in quoted
    assert any(q.startswith("Inspectors sampled forty cases") for q in quoted)
    assert not [q for q in quoted if "Yours sincerely" in q or "Jo Bloggs" in q or "His Majesty" in q]


def test_a_letter_ending_with_its_sign_off_ends_its_evidence_there(letter):
    start, end = evidence_bounds(letter)
    assert "Yours sincerely" not in letter[start:end]
