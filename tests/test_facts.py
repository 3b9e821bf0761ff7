"""Letter facts read from real Ofsted reports (one per layout), and questions answered from them."""

import json
import re
import shutil
from functools import lru_cache
from pathlib import Path

import pytest

from assistant import facts
from assistant.authorities import canonical_name
from assistant.errors import FilterError
from assistant.letters import read_document
from assistant.metadata import CATALOGUE_KEYS, parse_metadata
from conftest import CORPUS, DATA, FakeEmbedder

REAL = DATA / "real"
RI, INADEQUATE, GOOD, OUTSTANDING = "requires improvement", "inadequate", "good", "outstanding"


@lru_cache(maxsize=None)
def text_of(name: str) -> str:
    return read_document(REAL / name).text


def meta(name: str):
    return parse_metadata(text_of(name))


# one report per layout: (file, authority, as written, kind, framework, date, visit, lead, judgements, previous)
PINNED = [
    ("facts-bexley-2014-sif.pdf", "Bexley", "London Borough of Bexley", "inspection", "sif", "2014-05-23",
     ("2014-03-11", "2014-04-02"), "Pietro Battista",
     {"overall_effectiveness": RI, "help_and_protection": RI, "looked_after_and_permanence": RI,
      "adoption_performance": RI, "care_leavers_experiences": RI, "leadership_management_governance": RI,
      "lscb": INADEQUATE}, INADEQUATE),
    ("facts-bexley-2023-ilacs-short.pdf", "Bexley", "Bexley", "inspection", "ilacs_short", None,
     ("2023-02-06", "2023-02-10"), "Tom Anthony",
     {"impact_of_leaders": OUTSTANDING, "help_and_protection": GOOD, "in_care": GOOD, "care_leavers": OUTSTANDING,
      "overall_effectiveness": OUTSTANDING}, None),
    ("facts-blackpool-2022-ilacs-standard.pdf", "Blackpool", "Blackpool", "inspection", "ilacs_standard", None,
     ("2022-12-05", "2022-12-16"), "Lisa Summers",
     {"impact_of_leaders": RI, "help_and_protection": RI, "in_care": GOOD, "overall_effectiveness": RI}, INADEQUATE),
    ("facts-derbyshire-2019-two-periods.pdf", "Derbyshire", "Derbyshire County Council", "inspection",
     "ilacs_short", None, ("2019-07-08", "2019-08-08"), "Julie Knight",
     {"impact_of_leaders": GOOD, "help_and_protection": RI, "in_care": RI, "overall_effectiveness": RI}, None),
    ("facts-surrey-2015-lscb-review.pdf", "Surrey", "Surrey Safeguarding Children Board", "other", None,
     "2015-08-03", ("2015-06-15", "2015-06-17"), "Dominic Stevens", {"lscb": RI}, None),
    ("facts-trafford-2019-ilacs.pdf", "Trafford", "Trafford Metropolitan Borough Council", "inspection",
     "ilacs_short", None, ("2019-03-04", "2019-03-08"), "Paula Thomson-Jones",
     {"impact_of_leaders": INADEQUATE, "help_and_protection": RI, "in_care": RI, "overall_effectiveness": INADEQUATE},
     None),
    ("facts-trafford-2026-april-framework.pdf", "Trafford", "Trafford", "inspection", "april_2026", None,
     ("2026-06-08", "2026-06-19"), "Leanne Cooper",
     {"impact_of_leaders": INADEQUATE, "help_and_protection": INADEQUATE, "in_care": GOOD, "care_leavers": RI}, RI),
]


@pytest.mark.parametrize("name, authority, written, kind, framework, date, visits, lead, judgements, previous", PINNED)
def test_real_report_facts(name, authority, written, kind, framework, date, visits, lead, judgements, previous):
    m = meta(name)
    assert (m.authority, m.authority_as_written, m.kind, m.framework, m.date) == (authority, written, kind, framework, date)
    assert m.visit_dates == visits
    assert m.inspectors[0] == lead
    assert m.judgements == judgements
    assert (m.previous_judgement or {}).get("grade") == previous


@pytest.mark.parametrize("name", [p[0] for p in PINNED])
def test_each_fact_keeps_the_span_that_prints_it(name):
    m, text = meta(name), text_of(name)
    spans = m.spans
    assert m.authority_as_written in " ".join(text[slice(*spans["authority"])].split())
    assert m.inspectors[0].split()[-1] in text[slice(*spans["inspectors"])]
    assert m.visit_dates[-1][:4] in text[slice(*spans["visit_dates"])]
    for area, grade in m.judgements.items():
        row = " ".join(text[slice(*spans[f"judgements.{area}"])].split())
        assert facts.normal_grade(facts.GRADE_RE.search(row).group("grade")) == grade
        assert len(row) < 120  # the table's row, not a paragraph


def test_inspectors_lead_first_then_deputy_and_team():
    people = meta("facts-bexley-2014-sif.pdf").inspectors
    assert people[0] == "Pietro Battista" and len(people) == 9 and people[-1] == "Fiona Parker"


def test_previous_judgement_quotes_its_sentence():
    m, text = meta("facts-blackpool-2022-ilacs-standard.pdf"), text_of("facts-blackpool-2022-ilacs-standard.pdf")
    sentence = " ".join(text[slice(*m.spans["previous_judgement"])].split())
    assert sentence.startswith("Since the last Ofsted inspection in November 2018")
    assert m.previous_judgement == {"grade": INADEQUATE, "when": "November 2018"}


def test_a_childrens_home_judged_outstanding_is_not_the_authority_judged():
    text = ("Previous Ofsted inspections\n\u25aa The local authority operates one children's home, which was "
            "judged outstanding at its last inspection in 2016.")
    assert facts.read_previous(text) is None


def test_seed_letters_previous_judgement():
    m = parse_metadata((CORPUS / "002_587b03a5a685924a.txt").read_text(encoding="utf-8"))
    assert m.previous_judgement == {"grade": INADEQUATE, "when": "September 2016"}
    assert m.framework is None and m.judgements is None


@pytest.mark.parametrize("written, short", [
    ("Bradford Children and Families Trust", "Bradford"),
    ("London Borough of Havering", "Havering"),
    ("Hull", "Kingston upon Hull"),
    ("Kingston Upon Hull City Council", "Kingston upon Hull"),
    ("Derby City", "Derby"),
    ("Bournemouth, Christchurch & Poole", "Bournemouth, Christchurch and Poole"),
    ("Surrey Safeguarding Children Board", "Surrey"),
])
def test_authority_names(written, short):
    assert canonical_name(written) == short


def test_local_authority_is_never_an_authority():
    text = "Inspection of local authority children's services\n\nInspection dates: 3 to 7 June 2019\n"
    m = parse_metadata(text)
    assert m.authority is None and m.kind == "inspection"


@pytest.mark.parametrize("question, named, fact, areas, grade", [
    ("Who led the 2023 inspection of Dudley?", True, "lead", (), None),
    ("When was Manchester inspected?", True, "when", (), None),
    ("What was Sefton's overall effectiveness judgement?", True, "judgement", ("overall_effectiveness",), None),
    ("Which authorities were judged inadequate for overall effectiveness?", False, "judgement",
     ("overall_effectiveness",), INADEQUATE),
    ("Which authorities' care leavers services require improvement?", False, "judgement",
     ("care_leavers", "care_leavers_experiences"), RI),
    ("Which authorities had previously been judged inadequate?", False, "previous", (), INADEQUATE),
    ("Who is the chief inspector of prisons?", False, None, (), None),
    ("Which authorities had child protection plans that were inadequate?", False, None, (), None),
    ("What did inspectors say about children in care in Dudley?", True, None, (), None),
])
def test_reading_questions_about_facts(question, named, fact, areas, grade):
    asked = facts.read_question(question, named)
    assert (asked.fact, asked.areas, asked.grade) == (fact, areas, grade)


def test_judgement_filters():
    assert facts.read_judgement_filter("inadequate for help and protection") == (("help_and_protection",), INADEQUATE)
    assert facts.read_judgement_filter("care_leavers=good") == (("care_leavers",), GOOD)
    assert facts.read_judgement_filter("Inadequate") == (("overall_effectiveness",), INADEQUATE)
    with pytest.raises(FilterError, match="write a grade and an area"):
        facts.read_judgement_filter("weak for everything")


# ---------------------------------------------------------------- a small real index
@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    from assistant.engine import Assistant
    from assistant.indexing import sync

    root = tmp_path_factory.mktemp("facts")
    corpus = root / "corpus"
    shutil.copytree(REAL, corpus, ignore=lambda d, names: [n for n in names if not n.startswith("facts-")])
    for f in CORPUS.iterdir():
        shutil.copy(f, corpus)
    report = sync(corpus, root / "index", FakeEmbedder(), progress=False)
    assert [p for p, _ in report.failed] == ["facts-html-saved-as.pdf"]
    return Assistant.open(root / "index", embedder=FakeEmbedder()), root


def row(quote: str) -> str:
    """A grade row as quoted, whether the reader keeps the table's layout or writes "Area: Grade"."""
    return re.sub(r":\s+(?=(?:Outstanding|Good|Requires|Require|Inadequate)\b)", " ", quote)


def _checked_quotes(assistant, answer):
    snap = assistant.snapshot
    for c in answer.citations:
        text = snap.record(snap.path_index[c.letter]).text
        assert " ".join(text[c.start:c.end].split()) == c.quote


def test_letters_json(real_index, capsys):
    from assistant.cli import main

    _, root = real_index
    assert main(["letters", "--index", str(root / "index"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    indexed = [r for r in rows if "failed" not in r]
    assert len(indexed) == 12 and all(tuple(r) == CATALOGUE_KEYS for r in indexed)
    failed = [r for r in rows if "failed" in r]
    assert failed == [{"letter": "facts-html-saved-as.pdf", "failed": failed[0]["failed"]}]
    assert "not a PDF" in failed[0]["failed"]
    sif = next(r for r in indexed if r["letter"] == "facts-bexley-2014-sif.pdf")
    assert sif["visit_dates"] == ["2014-03-11", "2014-04-02"] and sif["pages"] == 38 and sif["passages"] > 0
    assert sif["judgements"]["lscb"] == INADEQUATE and sif["previous_judgement"]["grade"] == INADEQUATE
    assert main(["letters", "--index", str(root / "index")]) == 0
    table = capsys.readouterr().out
    assert "lead inspector Pietro Battista" in table and "FAILED" in table


def test_who_led_an_inspection_in_a_year(real_index):
    a, _ = real_index
    ans = a.ask("Who led the 2023 inspection of Bexley?")
    assert ans.found and ans.authorities == ["Bexley"]
    assert [c.quote for c in ans.citations] == ["Lead inspector: Tom Anthony, His Majesty’s Inspector"]
    assert "Pietro Battista" in a.ask("Who led the 2014 inspection of Bexley?").citations[0].quote
    _checked_quotes(a, ans)


def test_when_an_authority_was_inspected(real_index):
    a, _ = real_index
    ans = a.ask("When was Trafford inspected?")
    assert [c.quote for c in ans.citations] == ["Inspection dates: 8 June 2026 to 19 June 2026",
                                                "Inspection dates: 4 March 2019 to 8 March 2019"]
    _checked_quotes(a, ans)


def test_an_authoritys_overall_effectiveness(real_index):
    a, _ = real_index
    ans = a.ask("What was Blackpool's overall effectiveness judgement?")
    assert row(ans.citations[0].quote) == "Overall effectiveness Requires improvement to be good"
    assert ans.citations[0].page == 1
    _checked_quotes(a, ans)


def test_which_authorities_were_judged_inadequate_overall(real_index):
    a, _ = real_index
    ans = a.ask("Which authorities were judged inadequate for overall effectiveness?")
    assert ans.authorities == ["Trafford"]
    assert "Overall effectiveness Inadequate" in [row(c.quote) for c in ans.citations]
    assert all(c.letter == "facts-trafford-2019-ilacs.pdf" for c in ans.citations)
    _checked_quotes(a, ans)


def test_which_care_leavers_services_require_improvement(real_index):
    a, _ = real_index
    ans = a.ask("Which authorities' care leavers services require improvement?")
    assert ans.authorities == ["Bexley", "Trafford"]
    quotes = [row(c.quote) for c in ans.citations]
    assert "Experiences and progress of care leavers Requires improvement" in quotes
    assert "The experiences and progress of care leavers Requires improvement to be good" in quotes
    _checked_quotes(a, ans)


def test_which_authorities_were_previously_judged_inadequate(real_index):
    a, _ = real_index
    ans = a.ask("Which authorities had previously been judged inadequate?")
    # said in so many words (Bexley, Blackpool, Wakefield, Wirral), or an earlier inspection indexed (Trafford)
    assert ans.authorities == ["Bexley", "Blackpool", "Trafford", "Wakefield", "Wirral"]
    assert any("judged inadequate in September 2016" in c.quote for c in ans.citations)
    _checked_quotes(a, ans)


def test_a_grade_no_letter_has_is_said_plainly(real_index):
    a, _ = real_index
    ans = a.ask("Which authorities were judged outstanding for help and protection?")
    assert not ans.found and not ans.citations and "gives “outstanding”" in ans.answer


def test_a_fact_no_letter_holds_falls_back_to_the_passages(real_index):
    from assistant.factanswer import answer_from_facts

    a, _ = real_index
    snap = a.snapshot
    checked = {"letters": 1, "authorities": 1}
    # no inspection of Wolverhampton is indexed (a focused visit is not one): the passages answer
    query = a.read("When did the Ofsted inspection of Wolverhampton start?")
    assert query.fact == "when"
    assert answer_from_facts(snap, query, snap.letter_mask(query.authorities), checked) is None
    visit = a.read("When did the focused visit to Wolverhampton take place?")
    assert "11 and 12 September 2018" in answer_from_facts(snap, visit, snap.letter_mask(visit.authorities),
                                                          checked).citations[0].quote


def test_judgement_and_framework_filters(real_index):
    a, _ = real_index
    ans = a.ask("What did inspectors say about early help?", judgement="inadequate for help and protection")
    assert ans.found and {c.letter for c in ans.citations} == {"facts-trafford-2026-april-framework.pdf"}
    ans = a.ask("What did inspectors say about early help?", framework="sif")
    assert ans.found and {c.letter for c in ans.citations} == {"facts-bexley-2014-sif.pdf"}
    with pytest.raises(FilterError):
        a.ask("What did inspectors say about early help?", framework="the old one")


def test_cli_ask_with_a_judgement_filter(real_index, capsys):
    from assistant.cli import main

    _, root = real_index
    code = main(["ask", "What about early help?", "--index", str(root / "index"), "--model", "fake",
                 "--judgement", "nonsense"])
    assert code == 2 and "cannot read the judgement" in capsys.readouterr().err


def test_an_index_from_an_older_version_has_its_facts_read_again_without_embedding(real_index, tmp_path):
    from assistant.indexing import layout_outdated, sync
    from assistant.store import IndexFolder, write_json_atomic

    _, root = real_index
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    folder = IndexFolder(index)
    manifest = folder.read_manifest()
    manifest["letter_facts"] = "facts-0"
    for e in manifest["letters"]:
        e["meta"] = {"authority": e["meta"]["authority"]}
    write_json_atomic(folder.root / "manifest.json", manifest)
    assert layout_outdated(index)
    embedder = FakeEmbedder()
    report = sync(root / "corpus", index, embedder, progress=False)
    assert report.upgraded and embedder.texts_embedded == 0
    entry = next(e for e in folder.read_manifest()["letters"] if e["path"] == "facts-trafford-2019-ilacs.pdf")
    assert entry["meta"]["judgements"]["overall_effectiveness"] == INADEQUATE
    assert not layout_outdated(index)


def test_the_letters_tab_shows_kind_visit_lead_and_grades(real_index):
    from assistant.webapp import LETTER_COLUMNS, letters_table

    a, _ = real_index
    rows = {r[LETTER_COLUMNS.index("file")]: dict(zip(LETTER_COLUMNS, r)) for r in letters_table(a)}
    row = rows["facts-trafford-2019-ilacs.pdf"]
    assert row["kind"] == "inspection, ilacs_short" and row["visit"] == "4 March 2019 to 8 March 2019"
    assert row["lead inspector"] == "Paula Thomson-Jones" and "overall effectiveness: inadequate" in row["grades"]
    assert rows["facts-html-saved-as.pdf"]["status"].startswith("failed")


def test_a_joint_targeted_area_inspection_letter():
    text = ("Ofsted\nPiccadilly Gate\nManchester\n\n12 July 2023\n\nDear Director\n\n"
            "Joint targeted area inspection of the multi-agency response to children and families who need help in Sefton\n\n"
            "This letter summarises the findings of the joint targeted area inspection.\n")
    m = parse_metadata(text)
    assert (m.kind, m.authority, m.date) == ("joint targeted area inspection", "Sefton", "2023-07-12")
    assert text[slice(*m.spans["authority"])] == "Sefton"


def test_a_follow_up_asks_the_same_fact_of_another_authority(real_index):
    from assistant.question import follow_up

    a, _ = real_index
    first = a.read("What was Blackpool's overall effectiveness judgement?")
    then = follow_up(a.read("and Trafford?"), first)
    ans = a.ask("and Trafford?", query=then)
    assert ans.authorities == ["Trafford"] and row(ans.citations[0].quote) == "Overall effectiveness Inadequate"
