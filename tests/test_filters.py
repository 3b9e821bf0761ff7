"""Filters mean one thing (the letter's date, else its visit's first day), say so when they
cannot be used, and an abstention names what it checked and what came closest."""

import pytest

from assistant.engine import Assistant
from assistant.errors import FilterError
from assistant.question import parse_day
from conftest import FakeEmbedder


@pytest.fixture(scope="module")
def assistant(fake_index):
    return Assistant.open(fake_index[1], embedder=FakeEmbedder())


@pytest.mark.parametrize("text", ["June 2019", "2019-13-01", "2019-02-30", "01/06/2019", "tomorrow"])
def test_a_date_that_is_not_a_date_is_an_error(assistant, text):
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        assistant.ask("What about contingency planning?", since=text)


def test_dates_in_the_wrong_order_are_an_error(assistant):
    with pytest.raises(FilterError, match="backwards"):
        assistant.ask("contingency planning", since="2020-01-01", until="2019-01-01")


def test_date_objects_and_pickers_values_are_read():
    import datetime as dt

    assert parse_day(dt.date(2019, 6, 1)) == "2019-06-01"
    assert parse_day("2019-06-01 00:00:00") == "2019-06-01"
    assert parse_day("") is None and parse_day(None) is None


def test_filter_goes_by_the_letter_date_else_the_first_visit_day(assistant):
    snap = assistant.snapshot
    wirral = next(i for i, e in enumerate(snap.letters) if e["meta"]["authority"] == "Wirral")
    meta = dict(snap.letters[wirral]["meta"])
    assert meta["date"] == "2017-06-13"
    assert snap.letter_mask(since="2017-06-13", until="2017-06-13")[wirral]
    assert not snap.letter_mask(since="2017-06-14")[wirral]
    from assistant.retrieval import letter_date

    assert letter_date({"date": None, "visit_dates": ["2019-01-22", "2019-01-21"]}) == "2019-01-21"
    assert letter_date({"date": "2019-02-01", "visit_dates": ["2019-01-21"]}) == "2019-02-01"
    assert letter_date({}) is None


def test_undated_letters_come_in_on_request_and_are_counted(fake_index, tmp_path):
    import shutil

    from assistant.indexing import sync

    corpus = tmp_path / "corpus"
    shutil.copytree(fake_index[0], corpus)
    (corpus / "undated.txt").write_text("Contingency planning in Dudley was weak and plans lacked contingency "
                                        "arrangements for children.\n", encoding="utf-8")
    emb = FakeEmbedder()
    sync(corpus, tmp_path / "index", emb, progress=False)
    a = Assistant.open(tmp_path / "index", embedder=emb)
    left_out = a.ask("Which authorities had weak contingency planning?", since="2010-01-01")
    taken_in = a.ask("Which authorities had weak contingency planning?", since="2010-01-01", undated=True)
    assert taken_in.checked["letters"] == left_out.checked["letters"] + 1
    assert taken_in.checked["undated"] == 1 and "undated" not in left_out.checked
    assert "1 of them undated" in taken_in.answer


def test_a_mistyped_authority_filter_gets_a_suggestion(assistant):
    ans = assistant.ask("What about contingency planning?", authority=["Dudly"])
    assert not ans.found and "no letters about Dudly; did you mean Dudley?" in ans.answer
    assert "Wirral" in ans.answer  # the known list
    ans = assistant.ask("What about contingency planning?", authority=["Leedz"])
    assert "did you mean Leeds?" in ans.answer


def test_abstention_names_topic_letters_and_the_closest_passages(assistant):
    ans = assistant.ask("What about the boiling point of tungsten in Wirral?")
    assert not ans.found and ans.citations == []
    assert "boiling point of tungsten”" in ans.answer and "for Wirral" in ans.answer
    assert "Checked 1 letter: Wirral · monitoring visit" in ans.answer
    assert 1 <= len(ans.nearby) <= 3 and all(c.authority == "Wirral" for c in ans.nearby)
    assert "not clearly about this" in ans.to_markdown()


def test_csv_has_one_row_per_citation(assistant):
    import csv
    import io

    ans = assistant.ask("Which authorities had weak contingency planning?")
    rows = list(csv.DictReader(io.StringIO(ans.to_csv())))
    assert len(rows) == len(ans.citations) > 0
    assert [r["quote"] for r in rows] == [c.quote for c in ans.citations]
    assert {"authority", "letter", "kind", "date", "page", "quote"} <= set(rows[0])


def test_terminal_output_is_plain_and_quotes_once(assistant):
    from assistant.cli import format_answer

    ans = assistant.ask("Which authorities had weak contingency planning?")
    out = " ".join(format_answer(ans).split())  # wrapped to the terminal's width
    assert "**" not in out and "\\" not in out and "Sources" in out
    for c in ans.citations:
        assert out.count(c.quote[:40]) == 1  # printed once, in the answer
        assert f"[{c.n}] {c.authority}" in out
    nothing = format_answer(assistant.ask("What about the boiling point of tungsten in Wirral?"))
    assert "not clearly about this" in nothing and "“" in nothing
