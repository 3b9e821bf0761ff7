"""Blackpool's history from its real reports (tests/data/real/timeline), with the real model,
checked against the reports as read by hand: letter order, kinds, dates, grades, the items each
says need to improve, and whether the next report says each improved."""

import pytest

from conftest import DATA

FOLDER = DATA / "real" / "timeline"
#: Blackpool's reports kept for other tests already (tests/data/real), not copied twice
ELSEWHERE = ("facts-blackpool-2022-ilacs-standard.pdf", "50308110.pdf")
RI, INADEQUATE, GOOD, OUTSTANDING = "requires improvement", "inadequate", "good", "outstanding"
SIF, Y2019, Y2022, Y2026 = "50004282.pdf", "50050255.pdf", "facts-blackpool-2022-ilacs-standard.pdf", "50308110.pdf"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def blackpool(tmp_path_factory):
    from assistant.embedding import load_embedder
    from assistant.engine import Assistant
    from assistant.indexing import sync

    import shutil

    embedder = load_embedder()
    base = tmp_path_factory.mktemp("blackpool")
    shutil.copytree(FOLDER, base / "corpus", ignore=shutil.ignore_patterns("*.md"))
    for name in ELSEWHERE:
        shutil.copy(DATA / "real" / name, base / "corpus" / name)
    index = base / "index"
    report = sync(base / "corpus", index, embedder, progress=False)
    assert [f for f, _ in report.failed] == ["50004178.pdf"]  # the saved web page
    assistant = Assistant.open(index, embedder=embedder)
    return assistant.timeline("Blackpool")


def items(timeline, letter):
    entry = next(e for e in timeline["letters"] if e["letter"] == letter)
    return {i["item"]: i for i in entry["improve"]}


def test_letters_in_date_order_with_kinds_dates_and_grades(blackpool):
    got = [(e["letter"], e["kind"], e["date"], e["visit_dates"]) for e in blackpool["letters"]]
    assert got == [(SIF, "inspection", "2014-09-08", ["2014-07-02", "2014-07-23"]),
                   (Y2019, "inspection", None, ["2018-11-26", "2018-12-07"]),
                   (Y2022, "inspection", None, ["2022-12-05", "2022-12-16"]),
                   (Y2026, "inspection", None, ["2026-06-08", "2026-06-19"])]
    grades = {e["letter"]: e["judgements"] for e in blackpool["letters"]}
    assert grades[SIF]["overall_effectiveness"] == RI
    assert grades[Y2019] == {"impact_of_leaders": INADEQUATE, "help_and_protection": INADEQUATE, "in_care": RI,
                             "overall_effectiveness": INADEQUATE}
    assert grades[Y2022] == {"impact_of_leaders": RI, "help_and_protection": RI, "in_care": GOOD,
                             "overall_effectiveness": RI}
    assert grades[Y2026] == {"impact_of_leaders": OUTSTANDING, "help_and_protection": GOOD, "in_care": OUTSTANDING,
                             "care_leavers": OUTSTANDING}


def test_each_reports_items_to_improve_as_printed(blackpool):
    # 2018 (published 2019): twelve items under "What needs to improve", page 2 and 3
    assert list(items(blackpool, Y2019))[:3] == [
        "The identification of and response to risk, particularly in relation to long-standing concerns of "
        "chronic neglect.",
        "The response and recording of decisions in relation to contacts, thresholds and issues of consent at "
        "the front door to be clear and proportionate.",
        "The quality of social work assessments and plans and the extent to which they reflect the child’s history."]
    assert len(items(blackpool, Y2019)) == 12
    assert list(items(blackpool, Y2022)) == [
        "The multi-agency response to children suffering domestic abuse or long-term neglect, and to those "
        "children with complex needs.",
        "Work with partners to strengthen their contribution to early help and neglect.",
        "Sufficient placements to meet children’s assessed needs.",
        "The timeliness of meeting children’s dental and emotional needs."]
    assert len(items(blackpool, Y2026)) == 1
    # 2014: numbered recommendations under "Priority and immediate action" and "Areas for improvement"
    # (the local authority's 9-27, then the safeguarding board's), sub-headings such as "Adoption" left out
    sif = list(items(blackpool, SIF))
    assert sif[0].startswith("A leaving care service improvement plan should be developed.")
    assert "Improve access to CAMHs for looked after children so that all children receive the service they need " \
           "promptly." in sif
    assert not any(i in ("Adoption", "Care leavers") for i in sif)
    assert all(i["later"] == "not followed up" for i in items(blackpool, Y2026).values())  # nothing after it


# (letter, item, what the next report says as read, a phrase of the sentence that shows it)
READ = [
    (Y2019, "The response to children at risk of exploitation, and those young people who are homeless",
     "improved", "at risk of exploitation"),  # 2022: "... receive an excellent service" / "highly effective"
    (Y2019, "The strategic and coordinated approach to providing support for care leavers",
     "improved", "care leavers"),  # 2022: "The support for care leavers is strong and has significantly improved"
    (Y2019, "The effectiveness of strategic partnerships", "not yet",
     "Strategic partnerships are not always translating"),
    (Y2019, "The quality and impact of audit and performance management.", "improved", "Performance management"),
    (Y2022, "The multi-agency response to children suffering domestic abuse", "improved",
     "The response to domestic abuse is embedded and a clear strength"),
]


@pytest.mark.parametrize("letter, item, later, phrase", READ)
def test_whether_the_next_report_says_it_improved(blackpool, letter, item, later, phrase):
    found = next(i for text, i in items(blackpool, letter).items() if text.startswith(item))
    assert found["later"] == later
    quotes = found["citations"]
    following = [e["letter"] for e in blackpool["letters"]]
    assert quotes and quotes[0]["letter"] == following[following.index(letter) + 1]
    assert any(phrase.lower() in c["quote"].lower() for c in quotes)


@pytest.mark.xfail(reason="the 2022 report says long-term neglect is still weak (\"For some children who have "
                          "experienced long-term neglect, planning is less effective\"), but its sentences do not "
                          "score as about this item's wording (risk, chronic neglect): read as not followed up",
                   strict=True)
def test_chronic_neglect_was_not_yet_improved_in_2022(blackpool):
    found = next(i for t, i in items(blackpool, Y2019).items() if t.startswith("The identification of and response"))
    assert found["later"] == "not yet"


@pytest.mark.xfail(reason="the 2026 report says \"High numbers of children in care and sufficiency pressures persist, "
                          "particularly in fostering\" (not yet), but names them \"sufficiency\", not placements: "
                          "no sentence scores as about the item", strict=True)
def test_sufficient_placements_not_yet_in_2026(blackpool):
    assert items(blackpool, Y2022)["Sufficient placements to meet children’s assessed needs."]["later"] == "not yet"
