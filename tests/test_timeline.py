"""An authority's history (assistant/timeline.py): the JSON, date order, undated letters, an
unknown authority, the CSV and Markdown exports, and the chat's routing, on the fake embedder."""

import csv
import io
import shutil

import pytest

from assistant.engine import Assistant
from assistant.indexing import sync
from assistant.timeline import IMPROVED, NOT_FOLLOWED, NOT_YET, UnknownAuthorityError, build_timeline, \
    grade_chart_svg, judge_followup, Said
from conftest import CORPUS, LETTERS, FakeEmbedder

HEAD = """Ofsted Piccadilly Gate Store Street Manchester M1 2WD

{date}

Ms Catherine Knowles
Interim Director of Children's Services
Council House
Dudley

Dear Ms Knowles

Monitoring visit to Dudley Metropolitan Borough Council children's services

{visit}

Overview

{body}

Yours sincerely

Alison Smale
Her Majesty's Inspector
"""
LATER = HEAD.format(
    date="5 March 2020",
    visit="This letter summarises the findings of the monitoring visit to Dudley Metropolitan Borough Council "
          "children's services on 11 and 12 February 2020.",
    body="The voice of children in assessments is now strong and has improved considerably; children's wishes "
         "are recorded well.\n\nThresholds for holding an initial child protection conference are still not "
         "applied consistently, and some conferences are delayed.\n\nThe council has a new headquarters.")
UNDATED = HEAD.format(
    date="", visit="This letter summarises the findings of a monitoring visit to Dudley Metropolitan Borough "
                    "Council children's services.",
    body="Leaders have a clear plan for the service.")


@pytest.fixture(scope="module")
def dudley(tmp_path_factory):
    """The five letters, a later Dudley letter that follows up two of its items, an undated one."""
    base = tmp_path_factory.mktemp("timeline")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "dudley-2020.txt").write_text(LATER, encoding="utf-8")
    (corpus / "dudley-undated.txt").write_text(UNDATED, encoding="utf-8")
    embedder = FakeEmbedder()
    sync(corpus, base / "index", embedder, progress=False)
    return Assistant.open(base / "index", embedder=embedder)


def test_the_json_has_exactly_the_issues_keys_and_the_letters_in_date_order(dudley):
    d = dudley.timeline("Dudley")
    assert set(d) == {"authority", "letters"} and d["authority"] == "Dudley"
    assert [x["letter"] for x in d["letters"]] == [LETTERS["dudley"], "dudley-2020.txt", "dudley-undated.txt"]
    first = d["letters"][0]
    assert set(first) == {"letter", "kind", "date", "visit_dates", "judgements", "improve"}
    assert (first["kind"], first["date"], first["visit_dates"]) == ("focused visit", "2019-01-21",
                                                                    ["2019-12-18", "2019-12-19"])
    assert [i["item"] for i in first["improve"]][:3] == [
        "The timeliness and quality of assessments, including assessments of disabled children.",
        "The voice of children in assessments.", "The focus and detail of plans."]
    assert len(first["improve"]) == 11
    for item in first["improve"]:
        assert set(item) == {"item", "later", "citations"}
        assert item["later"] in (IMPROVED, NOT_YET, NOT_FOLLOWED)
        for c in item["citations"]:
            assert set(c) == {"n", "letter", "authority", "date", "kind", "section", "page", "quote", "start",
                              "end", "score"}
    undated = d["letters"][-1]
    assert (undated["date"], undated["visit_dates"], undated["improve"]) == (None, None, [])


def test_the_next_letter_says_which_items_improved_and_which_not_yet_quoting_it(dudley):
    items = {i["item"]: i for i in dudley.timeline("Dudley")["letters"][0]["improve"]}
    voice = items["The voice of children in assessments."]
    assert voice["later"] == IMPROVED
    assert voice["citations"][0]["letter"] == "dudley-2020.txt"
    assert "now strong and has improved" in voice["citations"][0]["quote"]
    thresholds = items["Thresholds for holding an initial child protection conference."]
    assert thresholds["later"] == NOT_YET
    assert "still not applied consistently" in thresholds["citations"][0]["quote"]
    assert items["The response to children vulnerable to radicalisation."]["later"] == NOT_FOLLOWED
    assert items["The response to children vulnerable to radicalisation."]["citations"] == []
    text = (CORPUS.parent / "corpus" / LETTERS["dudley"]).read_text(encoding="utf-8")
    later = dudley.snapshot.record(dudley.snapshot.path_index["dudley-2020.txt"]).text
    for c in voice["citations"] + thresholds["citations"]:  # every quote is the letter's own text
        assert " ".join(later[c["start"]:c["end"]].split()) == c["quote"]
    assert "The voice of children in assessments." in text


def test_a_theme_adds_each_letters_evidence_on_it(dudley):
    d = dudley.timeline("Dudley", "voice of children")
    assert d["theme"] == "voice of children"
    assert any("voice of children" in c["quote"].lower() for c in d["letters"][1]["evidence"])
    assert d["letters"][2]["evidence"] == []


def test_an_unknown_authority_is_a_clear_error_naming_close_matches(dudley):
    with pytest.raises(UnknownAuthorityError, match="did you mean Dudley"):
        dudley.timeline("Dudly")
    with pytest.raises(UnknownAuthorityError, match="The letters cover Dudley"):
        dudley.timeline("")


def test_csv_has_a_row_per_item_and_markdown_a_block_per_letter(dudley):
    t = build_timeline(dudley, "dudley")
    rows = list(csv.DictReader(io.StringIO(t.to_csv())))
    assert len(rows) == 11 + 1 + 1  # eleven items, then a row for each letter with none
    voice = next(r for r in rows if r["item"] == "The voice of children in assessments.")
    assert voice["later"] == IMPROVED and "now strong" in voice["quotes"] and voice["quoted_from"] == "dudley-2020.txt"
    md = t.to_markdown()
    assert md.startswith("# Dudley: inspection history")
    assert md.count("**Dudley · ") == 3 and "undated" in md
    numbers = [c.n for c in t.citations()]
    assert numbers == list(range(1, len(numbers) + 1))
    for c in t.citations():
        assert f"[{c.n}]" in md


def test_grade_chart_only_when_grades_exist(dudley):
    t = build_timeline(dudley, "Dudley")
    assert grade_chart_svg(t) == ""


@pytest.mark.parametrize("question, theme", [("How has Dudley changed since 2019?", None),
                                             ("What is Dudley's history?", None),
                                             ("How has Dudley improved on the voice of children?", "voice of children")])
def test_the_chat_answers_a_question_about_change_over_time_with_the_timeline(dudley, question, theme):
    q = dudley.read(question)
    assert q.mode == "timeline" and q.authorities == ("Dudley",)
    ans = dudley.ask(question)
    assert ans.found and ans.authorities == ["Dudley"]
    assert "**improved**" in ans.answer and "The voice of children in assessments." in ans.answer
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    for c in ans.citations:
        assert f"[{c.n}]" in ans.answer
    if theme:
        assert f"Theme: “{theme}”" in ans.answer


def test_other_questions_are_not_routed_to_the_timeline(dudley):
    for question in ("How long was the CAMHS waiting list in Wirral?", "Which authorities had weak contingency planning?",
                     "How have Dudley and Wirral changed?"):
        assert dudley.read(question).mode is None


def test_judge_followup_weighs_the_stances_of_the_sentences_about_the_item():
    from assistant.retrieval import Scored

    def said(score, stance, again=False):
        return Said(Scored(0, int(score * 100), 0, score, 0, 0, 0), stance, again)

    assert judge_followup([]) == (NOT_FOLLOWED, [])
    assert judge_followup([said(0.5, 0)])[0] == NOT_FOLLOWED  # about it, but saying neither
    assert judge_followup([said(0.5, 1), said(0.48, -1)])[0] == IMPROVED
    assert judge_followup([said(0.5, -1), said(0.49, 1)])[0] == NOT_YET
    assert judge_followup([said(0.5, 1, again=True)])[0] == NOT_YET  # listed again as still to improve
    assert judge_followup([said(0.2, 1)])[0] == NOT_FOLLOWED  # below the evidence threshold


def test_what_about_another_authority_after_a_history_question_gives_its_history(dudley):
    from assistant.question import follow_up

    first = dudley.read("What is Dudley's history?")
    assert "answer: the authority's letters over time" in first.describe()
    then = follow_up(dudley.read("what about Wolverhampton?"), first)
    assert then.mode == "timeline" and then.authorities == ("Wolverhampton",)
    ans = dudley.ask("what about Wolverhampton?", query=then)
    assert "Wolverhampton · focused visit" in ans.answer


@pytest.mark.parametrize("fmt", ["--json", "--csv", "--md", None])
def test_cli_timeline_in_each_format(dudley, monkeypatch, capsys, fmt):
    import json

    from assistant import cli

    monkeypatch.setattr(cli, "_open", lambda args: dudley)
    assert cli.main(["timeline", "Dudley"] + ([fmt] if fmt else [])) == 0
    out = capsys.readouterr().out
    if fmt == "--json":
        assert json.loads(out) == dudley.timeline("Dudley")
    elif fmt == "--csv":
        assert out.splitlines()[0].startswith("authority,letter,kind,date") and "now strong" in out
    else:
        assert "The voice of children in assessments." in out and "improved" in out
        assert ("**" in out) == (fmt == "--md")  # the terminal gets plain text
    monkeypatch.setattr(cli, "_open", lambda args: dudley)
    assert cli.main(["timeline", "Dudly"]) == 2
    assert "did you mean Dudley" in capsys.readouterr().err


def test_grade_chart_draws_each_areas_grade_over_time():
    from assistant.timeline import Entry, Timeline

    t = Timeline("Blackpool", (
        Entry("a.pdf", "inspection", None, ("2018-11-26", "2018-12-07"),
              {"overall_effectiveness": "inadequate", "in_care": "requires improvement"}),
        Entry("b.pdf", "inspection", None, ("2022-12-05", "2022-12-16"),
              {"overall_effectiveness": "requires improvement", "in_care": "good"}),
        Entry("c.pdf", "inspection", None, None, {"overall_effectiveness": "good"})))  # undated: not drawn
    svg = grade_chart_svg(t)
    assert svg.count("<circle") == 4 and svg.count("<polyline") == 2
    assert ">2018<" in svg and ">2022<" in svg and "children in care" in svg


LAYOUT = HEAD.format(
    date="3 May 2021",
    visit="This letter summarises the findings of the monitoring visit to Dudley Metropolitan Borough Council "
          "children's services on 13 and 14 April 2021.",
    body="Leaders have made progress.\n\nWhat needs to improve\n\n"
         "Improve the quality of pathway planning by:\n\nensuring that plans are updated when young people move\n\n"
         "strengthening the involvement of care leavers in their plans\n\n"
         "Implement the following areas for improvement from the previous inspection:\n\n"
         "Legal advice is sought when necessary.\n\n"
         "The experiences and progress of children who need help and protection: requires improvement to be good.\n\n"
         "Inspectors found strong practice in the assessment teams.")


def test_items_are_read_from_the_layout_of_the_list(tmp_path):
    from assistant.timeline import improve_items

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "layout.txt").write_text(LAYOUT, encoding="utf-8")
    sync(corpus, tmp_path / "index", FakeEmbedder(), progress=False)
    a = Assistant.open(tmp_path / "index", embedder=FakeEmbedder())
    got = [text for text, _ in improve_items(a.snapshot, 0)]
    assert got == [
        # a list introduced by a colon stays one item
        "Improve the quality of pathway planning by: ensuring that plans are updated when young people move "
        "strengthening the involvement of care leavers in their plans",
        # the line introducing items of their own is none; the list ends at the judgement line
        "Legal advice is sought when necessary."]
