"""Compare with the fake embedder on the five letters: the JSON shape, silent cells, unknown
names, date ranges, the exports, the chat routing and the CLI."""

import csv
import io
import json

import pytest

from assistant import compare as cmp
from assistant.engine import Assistant
from assistant.errors import AuthorityError, FilterError, QuestionError
from assistant.question import QuestionReader
from conftest import CORPUS, FakeEmbedder

KEYS = {"authority", "letter", "kind", "date", "grade", "stance", "citations"}
CITATION_KEYS = {"n", "letter", "authority", "date", "kind", "section", "page", "quote", "start", "end", "score"}


@pytest.fixture(scope="module")
def assistant(fake_index):
    _, index = fake_index
    return Assistant.open(index, embedder=FakeEmbedder())


def test_json_shape_one_row_per_authority_latest_letter(assistant):
    result = assistant.compare(["Wolverhampton", "wakefield", "Dudley", "Wirral"], "contingency planning")
    assert set(result) == {"theme", "rows"} and result["theme"] == "contingency planning"
    rows = result["rows"]
    assert [r["authority"] for r in rows] == ["Wolverhampton", "Wakefield", "Dudley", "Wirral"]
    for r in rows:
        assert set(r) == KEYS and r["stance"] in cmp.STANCES
        for c in r["citations"]:
            assert set(c) == CITATION_KEYS and c["authority"] == r["authority"] and c["letter"] == r["letter"]
            text = (CORPUS / c["letter"]).read_text(encoding="utf-8")
            assert " ".join(text[c["start"]:c["end"]].split()) == c["quote"]
    # Wolverhampton has a 2017 cabinet report and a 2018 focused visit: the latest is read
    assert (rows[0]["kind"], rows[0]["date"]) == ("focused visit", "2018-10-04")
    # the three letters that criticise contingency planning say so; Wirral's says nothing about it
    by = {r["authority"]: r for r in rows}
    for name in ("Wolverhampton", "Wakefield", "Dudley"):
        assert by[name]["stance"] == "weakness"
        assert any("contingenc" in c["quote"].lower() for c in by[name]["citations"])
    assert by["Wirral"]["stance"] == "silent" and by["Wirral"]["citations"] == []
    numbers = [c["n"] for r in rows for c in r["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(r["grade"] is None for r in rows)  # no judgement area is called contingency planning


def test_strengths_are_told_from_weaknesses(assistant):
    rows = {r["authority"]: r for r in assistant.compare(["Wirral", "Wakefield"], "caseloads")["rows"]}
    assert rows["Wirral"]["stance"] == rows["Wakefield"]["stance"] == "strength"
    assert "caseloads are reducing" in rows["Wirral"]["citations"][0]["quote"]


def test_unknown_authority_names_the_close_match(assistant):
    with pytest.raises(AuthorityError, match=r"no letters about Dudly; did you mean Dudley\?"):
        assistant.compare(["Dudly", "Wirral"], "caseloads")
    with pytest.raises(AuthorityError, match="Leeds.*The letters cover Dudley, Wakefield, Wirral and Wolverhampton"):
        assistant.compare(["Leeds", "Wirral"], "caseloads")
    with pytest.raises(AuthorityError, match="name the authorities"):
        assistant.compare([], "caseloads")


def test_bad_theme_and_dates_are_refused(assistant):
    with pytest.raises(QuestionError, match="give a theme"):
        assistant.compare(["Dudley", "Wirral"], "  ")
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        assistant.compare(["Dudley", "Wirral"], "caseloads", since="June 2019")
    with pytest.raises(FilterError, match="backwards"):
        assistant.compare(["Dudley", "Wirral"], "caseloads", since="2019-01-01", until="2018-01-01")


def test_a_date_range_gives_every_letter_in_it(assistant):
    rows = assistant.compare(["Wolverhampton", "Wirral"], "caseloads", since="2017-01-01", until="2018-12-31")["rows"]
    assert [(r["authority"], r["date"]) for r in rows] == [
        ("Wolverhampton", "2017-04-26"), ("Wolverhampton", "2018-10-04"), ("Wirral", "2017-06-13")]
    rows = assistant.compare(["Dudley", "Wirral"], "caseloads", since="2019-01-01")["rows"]
    dudley, wirral = rows
    assert dudley["letter"] and wirral["letter"] is None and wirral["stance"] == "silent"


def test_grade_comes_from_the_judgement_named_by_the_theme():
    meta = {"judgements": {"care_leavers": "requires improvement", "overall_effectiveness": "good"}}
    from assistant.facts import areas_named

    assert cmp.grade_for(meta, areas_named("care leavers")) == "requires improvement"
    assert cmp.grade_for(meta, areas_named("overall effectiveness")) == "good"
    assert cmp.grade_for(meta, areas_named("management oversight")) is None
    assert cmp.grade_for({}, areas_named("care leavers")) is None


def test_csv_and_markdown_exports(assistant):
    result = assistant.compare(["Wakefield", "Wirral"], "contingency planning")
    rows = list(csv.DictReader(io.StringIO(cmp.to_csv(result))))
    wakefield = [r for r in rows if r["authority"] == "Wakefield"]
    assert wakefield and all(r["stance"] == "weakness" and r["quote"] for r in wakefield)
    quoted = result["rows"][0]["citations"]
    assert [r["quote"] for r in wakefield] == [c["quote"] for c in quoted]
    wirral = [r for r in rows if r["authority"] == "Wirral"]
    assert len(wirral) == 1 and wirral[0]["quote"] == "" and wirral[0]["note"] == cmp.SILENT
    md = cmp.to_markdown(result)
    lines = md.splitlines()
    assert lines[0].startswith("| Authority | Letter | Grade |") and len(lines) == 4
    assert "| Wirral | monitoring visit · 13 Jun 2017 | — | silent | not covered in this letter |" in md
    assert "[1]" in lines[2]
    doc = cmp.to_document(result)
    assert doc.startswith("# Wakefield, Wirral on contingency planning") and "## Sources" in doc
    linked = cmp.to_markdown(result, link=lambda c: f"x:{c['start']}")
    assert f"](#q=x:{quoted[0]['start']})" in linked


def test_pipes_in_quotes_do_not_break_the_table():
    result = {"theme": "t", "rows": [{"authority": "A", "letter": "a.txt", "kind": None, "date": None, "grade": None,
                                      "stance": "weakness", "citations": [
                                          {"n": 1, "quote": "x | y", "authority": "A"}]}]}
    row = cmp.to_markdown(result).splitlines()[2]
    assert row.count("|") - row.count("\\|") == 6


@pytest.mark.parametrize("question, names, theme", [
    ("Compare Wirral and Dudley on caseloads", ("Wirral", "Dudley"), "caseloads"),
    ("How do Wirral, Wakefield and Dudley compare on management oversight?", ("Wirral", "Wakefield", "Dudley"),
     "management oversight"),
    ("Compare care leavers in Wirral and Dudley", ("Wirral", "Dudley"), "care leavers"),
])
def test_reader_routes_compare_questions(question, names, theme):
    q = QuestionReader({n: n for n in ("Wirral", "Dudley", "Wakefield")}).read(question)
    assert (q.mode, q.authorities, q.topic) == ("compare", names, theme)
    assert q.describe().endswith("answer: a compare table, each authority's latest letter (or each letter in the dates)")


@pytest.mark.parametrize("question", ["Compare Wirral's caseloads", "What did Wirral and Dudley say about caseloads?",
                                      "Which authorities had weak contingency planning?"])
def test_other_questions_are_not_compares(question):
    assert QuestionReader({"wirral": "Wirral", "dudley": "Dudley"}).read(question).mode is None


def test_chat_answers_a_compare_with_a_cited_table(assistant):
    ans = assistant.ask("Compare Wolverhampton, Wakefield and Wirral on contingency planning")
    assert ans.found and "| Authority | Letter |" in ans.answer
    assert ans.authorities == ["Wolverhampton", "Wakefield", "Wirral"]
    assert "not covered in this letter" in ans.answer  # Wirral
    table = assistant.compare(["Wolverhampton", "Wakefield", "Wirral"], "contingency planning")
    quotes = [c["quote"] for r in table["rows"] for c in r["citations"]]
    assert [c.quote for c in ans.citations] == quotes
    for c in ans.citations:
        assert f"[{c.n}]" in ans.answer
    bad = assistant.ask("Compare Wirral and Leeds on caseloads")
    assert not bad.found and "Cannot compare" in bad.answer and "Leeds" in bad.answer


def test_cli_compare_prints_json_csv_and_text(assistant, monkeypatch, capsys):
    from assistant import cli

    monkeypatch.setattr(cli, "_open", lambda args: assistant)
    assert cli.main(["compare", "Wakefield", "Wirral", "--theme", "contingency planning", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["stance"] for r in out["rows"]] == ["weakness", "silent"]
    assert cli.main(["compare", "Wakefield", "Wirral", "--theme", "contingency planning", "--csv"]) == 0
    assert capsys.readouterr().out.startswith("authority,letter,kind,date,grade,stance")
    assert cli.main(["compare", "Wakefield", "Wirral", "--theme", "contingency planning"]) == 0
    text = capsys.readouterr().out
    assert "Wakefield · monitoring visit · 1 Nov 2019: weakness" in text and "(not covered in this letter)" in text
    assert cli.main(["compare", "Wakefeld", "Wirral", "--theme", "caseloads"]) == 2
    assert "did you mean Wakefield?" in capsys.readouterr().err


def test_compare_tab_says_what_is_wrong_and_links_each_number(assistant):
    from assistant.webapp import compare_view

    text, result = compare_view(assistant, ["Dudley", "Wirral"], "caseloads", "June 2019", None)
    assert result is None and text.startswith("**Cannot compare:**") and "YYYY-MM-DD" in text
    text, result = compare_view(assistant, ["Dudley"], None, None, None)
    assert result is None and "give a theme" in text
    text, result = compare_view(assistant, ["Wakefield", "Wirral"], "contingency planning", None, None)
    sha = next(e["sha256"] for e in assistant.letters() if e["meta"]["authority"] == "Wakefield")
    c = result["rows"][0]["citations"][0]
    assert f"[\\[1\\]](#q={sha}:{c['start']}:{c['end']})" in text
