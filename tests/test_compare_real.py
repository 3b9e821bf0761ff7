"""Compare on five real ILACS reports (the latest of each authority), checked against a reading
of each report's care leavers section. Loads the real model."""

import shutil
from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parent / "data" / "real"
#: The latest report of each authority (Cumberland's is kept once, with the layout tests' reports).
REPORTS = [*sorted((REAL / "compare").glob("*.pdf")), REAL / "50262710.pdf"]

#: Read from each report's "experiences and progress of care leavers" section: the grade it
#: prints, the stance of what it says (both strengths and weaknesses reported = mixed), and
#: a sentence that shows it.
EXPECTED = {
    "Stockton-on-Tees": ("requires improvement", "mixed",
                         "Care leavers’ pathway plans do not identify and plan for their futures well enough."),
    "Tameside": ("requires improvement", "mixed",
                 "Most personal advisers build positive working relationships with their care-experienced young "
                 "people, although the impact and quality of these relationships are variable."),
    "Cumberland": ("good", "mixed",
                   "A lack of dedicated access to mental health services means some care-experienced young people "
                   "face delays in having their mental health needs assessed and supported as adults."),
    "Wigan": ("outstanding", "strength",
              "Care leavers in Wigan receive exceptional support from personal advisers (PAs) who demonstrate "
              "genuine care, commitment and pride in the young people they work with."),
    "Luton": ("requires improvement", "mixed",
              "However, not all care leavers are allocated a PA before they leave care."),
}
#: Cells where the engine's stance differs from the reading above, with the reason (filled
#: from a run; the expectation above is not changed to fit).
KNOWN_WRONG: dict[str, str] = {
    "Tameside": "the report's strengths speak of “care-experienced young people”, not care leavers; only the "
                "sentences naming care leavers reach the bar, and they report weaknesses",
    "Luton": "the stance head reads “In stronger practice examples, PAs are persistent ..., although care "
             "leavers’ records do not always clearly evidence the impact” as a strength, and the weaknesses "
             "further on do not reach the bar",
}


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    from assistant.embedding import load_embedder
    from assistant.engine import Assistant
    from assistant.indexing import sync

    base = tmp_path_factory.mktemp("compare-real")
    corpus = base / "corpus"
    corpus.mkdir()
    for pdf in REPORTS:
        shutil.copy(pdf, corpus / pdf.name)
    embedder = load_embedder()
    sync(corpus, base / "index", embedder, progress=False)
    assistant = Assistant.open(base / "index", embedder=embedder)
    return assistant, assistant.compare(list(EXPECTED), "care leavers")


@pytest.mark.slow
def test_one_row_per_authority_with_its_care_leavers_grade(compared):
    _, result = compared
    assert [r["authority"] for r in result["rows"]] == list(EXPECTED)
    for row in result["rows"]:
        assert row["grade"] == EXPECTED[row["authority"]][0], row["authority"]
        assert row["citations"], f"{row['authority']}: the report's care leavers section was not quoted"


@pytest.mark.slow
@pytest.mark.parametrize("authority", list(EXPECTED))
def test_stance_matches_the_reading(compared, authority):
    _, result = compared
    row = next(r for r in result["rows"] if r["authority"] == authority)
    if authority in KNOWN_WRONG and row["stance"] != EXPECTED[authority][1]:
        pytest.xfail(KNOWN_WRONG[authority])
    assert row["stance"] == EXPECTED[authority][1], [c["quote"] for c in row["citations"]]


@pytest.mark.slow
def test_quotes_are_about_care_leavers_and_exact(compared):
    assistant, result = compared
    snap = assistant.snapshot
    for row in result["rows"]:
        text = snap.record(snap.path_index[row["letter"]]).text
        for c in row["citations"]:
            assert " ".join(text[c["start"]:c["end"]].split()) == c["quote"]
        about = [c for c in row["citations"]
                 if any(w in c["quote"].lower() for w in ("care leaver", "care-experienced", "pa", "personal advis"))]
        assert about, f"{row['authority']}: no quote about care leavers: {[c['quote'] for c in row['citations']]}"


#: The five seed letters, read for three themes: (theme, authority) -> stance by reading.
SEED_READING = {
    ("contingency planning", "Wolverhampton"): "weakness",  # "The lack of meaningful contingency planning ..."
    ("contingency planning", "Wakefield"): "weakness",  # "They also lack meaningful contingency plans ..."
    ("contingency planning", "Dudley"): "weakness",  # "Only a minority of plans have a contingency ..."
    ("contingency planning", "Wirral"): "silent",  # the letter never speaks of contingencies
    ("caseloads", "Wolverhampton"): "mixed",  # "excessively high caseloads" / "reduced and protected caseloads"
    ("caseloads", "Wakefield"): "strength",  # "Reduced caseloads are better supporting social workers ..."
    ("caseloads", "Dudley"): "silent",
    ("caseloads", "Wirral"): "strength",  # "their caseloads are reducing and ... good support arrangements"
    ("management oversight", "Wolverhampton"): "mixed",  # "affected the quality of management oversight" / "evident"
    ("management oversight", "Wakefield"): "mixed",  # "Although management oversight is improving, not all ..."
    ("management oversight", "Dudley"): "mixed",  # "not regular or effective" / "regular, but ... does not always"
    ("management oversight", "Wirral"): "weakness",  # "Far more management oversight ... than is recorded."
}
#: Where the engine reads a seed letter otherwise, and why (the reading above is kept).
SEED_WRONG = {
    ("caseloads", "Wolverhampton"): "the stance head reads “the morale of social workers ... is high as they "
                                    "have the benefit of reduced and protected caseloads” as a weakness (0.56), "
                                    "beside the real one, “excessively high caseloads”",
    ("contingency planning", "Dudley"): "the stance head reads “Only a minority of plans have a contingency” as "
                                        "mixed (0.54, weakness 0.40), so the cell has no weakness",
}


@pytest.mark.slow
@pytest.mark.parametrize("theme, authority", list(SEED_READING))
def test_seed_letters_against_the_reading(real_assistant, theme, authority):
    result = real_assistant.compare(["Wolverhampton", "Wakefield", "Dudley", "Wirral"], theme)
    row = next(r for r in result["rows"] if r["authority"] == authority)
    want = SEED_READING[(theme, authority)]
    if (theme, authority) in SEED_WRONG and row["stance"] != want:
        pytest.xfail(SEED_WRONG[(theme, authority)])
    assert row["stance"] == want, [c["quote"] for c in row["citations"]]
