"""Real Ofsted PDFs, one per layout, read as a person reads them (tests/data/real/README.md)."""

import re
from functools import lru_cache
from pathlib import Path

import pytest

from assistant.chunking import chunk_letter, clean
from assistant.errors import LetterError
from assistant.letters import read_document
from assistant.metadata import evidence_bounds

REAL = Path(__file__).resolve().parent / "data" / "real"
SIF_2014 = "facts-bexley-2014-sif.pdf"  # single inspection framework, Bexley 2014, 38 pages, contents page, footnotes
SIF_2017 = "2755462.pdf"         # single inspection framework, Southwark 2017, grades on the same line
SIF_2018 = "50004447.pdf"        # single inspection framework, Darlington 2018, grade boxes beside headings
STANDARD = "50262710.pdf"        # ILACS standard, Cumberland 2024, running footer with dates and page number
SHORT = "facts-bexley-2023-ilacs-short.pdf"  # ILACS short, Bexley 2023
APRIL_2026 = "50308110.pdf"      # April 2026 framework, Blackpool, no overall effectiveness grade
HTML = "facts-html-saved-as.pdf"  # an HTML error page saved as .pdf
PDFS = [SIF_2014, SIF_2017, SIF_2018, STANDARD, SHORT, APRIL_2026]


@lru_cache(maxsize=None)
def doc(name):
    return read_document(REAL / name)


def blocks(name, kind):
    d = doc(name)
    return [d.text[b.start:b.end] for b in d.blocks if b.kind == kind]


def words(n):
    return [len(x.split()) + 2 for x in n]


@lru_cache(maxsize=None)
def units(name):
    d = doc(name)
    chunks = chunk_letter(d.text, words, bounds=evidence_bounds(d.text), layout=d.blocks)
    return chunks, [(clean(d.text[s:e]), d.page_at(s)) for c in chunks for s, e in c.sentences]


@pytest.mark.parametrize("name", PDFS)
def test_blocks_are_spans_of_the_text_in_order(name):
    d = doc(name)
    assert d.blocks and all(0 <= b.start < b.end <= len(d.text) for b in d.blocks)
    assert all(a.end <= b.start for a, b in zip(d.blocks, d.blocks[1:]))
    assert list(d.page_starts) == sorted(d.page_starts) and d.page_starts[0] == 0


@pytest.mark.parametrize("name, footer", [
    (STANDARD, r"Inspection of Cumberland local authority children’s services\s+7 to 18 October 2024"),
    (SHORT, r"Inspection of Bexley local authority children’s services\s+\d+ \w+ to \d+ \w+ 2023"),
    (APRIL_2026, r"Inspection of Blackpool local authority children’s services\s+8 to 19 June 2026"),
])
def test_running_footer_is_gone_and_the_title_stays(name, footer):
    d = doc(name)
    assert not re.search(footer, d.text)
    title = footer.split(r"\s+")[0]
    assert len(re.findall(title, d.text)) == 1  # the title on page 1, not the footer on every page


@pytest.mark.parametrize("name", PDFS)
def test_no_unit_or_heading_is_a_page_number_or_running_header(name):
    _, us = units(name)
    texts = [u for u, _ in us] + blocks(name, "heading")
    assert not [t for t in texts if re.fullmatch(r"\W*(?:page\s+)?\d{1,3}\W*", t, re.IGNORECASE)]
    # a footer "<dates> <page>" glued into a sentence would read "...2024 5 ..."
    assert not [t for t in texts if re.search(r"\b(?:19|20)\d\d \d{1,2}(?: |$)(?!\w* ?(?:January|February|March|"
                                                r"April|May|June|July|August|September|October|November|December))", t)]


def test_contents_page_is_furniture():
    d = doc(SIF_2014)
    assert "Summary of key findings 3" not in d.text and "Contents" not in blocks(SIF_2014, "heading")
    assert "Summary of key findings" in blocks(SIF_2014, "heading")


def test_contents_entries_wrapped_over_two_lines_are_furniture_too():
    heads = blocks(SIF_2018, "heading")
    assert "The experiences and progress of children who need help and" not in heads
    assert "protection 11" not in doc(SIF_2018).text


def test_a_grade_printed_beside_its_heading_joins_it():
    heads = blocks(SIF_2018, "heading")
    assert "The experiences and progress of children who need help and protection: " \
           "Requires improvement to be good" in heads
    assert "Leadership, management and governance: Requires improvement to be good" in heads
    assert "Requires improvement to be good" not in heads


def test_word_hyphenated_at_a_line_end_is_joined():
    text = doc(STANDARD).text
    assert "through a well-established improvement board" in clean(text)
    assert "well- established" not in clean(text)


def test_sentence_over_a_page_break_is_one_sentence_cited_on_its_first_page():
    _, us = units(STANDARD)
    hit = [(u, p) for u, p in us if "who are privately fostered, those children aged 16 to 17" in u]
    assert len(hit) == 1
    sentence, page = hit[0]
    assert sentence.startswith("Firm plans are in place") and page == 1


@pytest.mark.parametrize("name, expected", [
    (STANDARD, ["What needs to improve?",
                "The experiences and progress of children who need help and protection: "
                "requires improvement to be good",
                "The experiences and progress of children in care: good",
                "The experiences and progress of care leavers: good",
                "The impact of leaders on social work practice with children and families: good"]),
    (SIF_2014, ["Summary of key findings", "What does the local authority need to improve?",
                "Information about this inspection"]),
])
def test_headings_are_the_real_headings(name, expected):
    heads = blocks(name, "heading")
    assert all(h in heads for h in expected)
    assert not [h for h in heads if re.search(r"\d{4}", h) and re.search(r"\bto\b|–", h)]  # no date line


@pytest.mark.parametrize("name, rows", [
    (STANDARD, ["The impact of leaders on social work practice with children and families: Good",
                "The experiences and progress of children who need help and protection: "
                "Requires improvement to be good",
                "The experiences and progress of children in care: Good",
                "The experiences and progress of care leavers: Good",
                "Overall effectiveness: Good"]),
    (APRIL_2026, ["The impact of leaders on social work practice with children and families: Outstanding",
                  "The experiences and progress of children who need help and protection: Good",
                  "The experiences and progress of children in care: Outstanding",
                  "The experiences and progress of care leavers: Outstanding"]),
    (SIF_2014, ["1. Children who need help and protection: Requires improvement",
                "2. Children looked after and achieving permanence: Requires improvement",
                "2.1 Adoption performance: Requires improvement",
                "2.2 Experiences and progress of care leavers: Requires improvement",
                "3. Leadership, management and governance: Requires improvement"]),
    (SIF_2018, ["1. Children who need help and protection: Requires improvement to be good",
                "2. Children looked after and achieving permanence: Requires improvement to be good",
                "2.1 Adoption performance: Good",
                "2.2 Experiences and progress of care leavers: Good",
                "3. Leadership, management and governance: Requires improvement to be good"]),
    (SIF_2017, ["1. Children who need help and protection: Good",
                "2. Children looked after and achieving permanence: Requires improvement",
                "2.1 Adoption performance: Outstanding",
                "2.2 Experiences and progress of care leavers: Requires improvement",
                "3. Leadership, management and governance: Good"]),
])
def test_grade_table_rows_are_quotable_lines(name, rows):
    assert [clean(r) for r in blocks(name, "row")][:len(rows)] == rows
    _, us = units(name)
    assert all(any(u == r for u, _ in us) for r in rows if "Overall" in r or name != SIF_2014)


def test_bullets_are_items():
    assert [clean(i) for i in blocks(STANDARD, "item")] == [
        "The effectiveness of the response to children who have experienced neglect.",
        "The response to children who are privately fostered.",
        "The support for 16- and 17-year-olds who present as homeless.",
        "The timeliness and quality of return home interviews."]


def test_footnotes_are_passages_of_their_own_and_markers_are_dropped():
    notes = blocks(APRIL_2026, "footnote")
    assert len(notes) == 1 and clean(notes[0]).startswith("The areas for improvement have been cross-referenced")
    assert "What needs to improve?" in blocks(APRIL_2026, "heading")  # not "What needs to improve? 1"
    chunks, _ = units(APRIL_2026)
    d = doc(APRIL_2026)
    note = next(b for b in d.blocks if b.kind == "footnote")
    holding = [c for c in chunks if c.start < note.end and note.start < c.end]
    assert len(holding) == 1 and note.start <= holding[0].start and holding[0].end <= note.end
    assert d.page_at(note.start) == 2


def test_footnote_does_not_interrupt_the_sentence_it_follows():
    d = doc(SIF_2014)
    notes = [clean(n) for n in blocks(SIF_2014, "footnote")]
    assert any(n.startswith("Ofsted produces this report under its power") for n in notes)
    assert "Safeguarding Children Board 1" not in clean(d.text)


def test_html_saved_as_pdf_fails_with_a_clear_reason():
    with pytest.raises(LetterError, match=r"web page \(HTML\).*download the PDF again"):
        read_document(REAL / HTML)


def _publisher_pdf(path):
    """Another publisher's report: its own running header, "Page N of M" footers, a bold heading,
    a footnote in small print and a word hyphenated at a line end."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pages = 3
    topics = ["recruitment of carers", "support for carers", "matching and placement stability"]
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.set_xy(20, 8)
        pdf.cell(0, 5, "Northshire County Council - Annual Fostering Review 2023")
        pdf.set_xy(20, 285)
        pdf.cell(0, 5, f"Page {n} of {pages}")
        pdf.set_xy(20, 30)
        pdf.set_font("Helvetica", style="B", size=14)
        pdf.cell(0, 8, f"Findings on {topics[n - 1]}")
        pdf.set_xy(20, 45)
        pdf.set_font("Helvetica", size=11)
        for k in range(3):
            pdf.set_x(20)
            pdf.multi_cell(170, 6, f"Paragraph {k + 1} on {topics[n - 1]}: the council's fostering service has grown "
                                   "steadily and carers describe the training as practical and well judged.")
            pdf.ln(4)
        if n == 1:
            pdf.set_xy(20, 250)
            pdf.multi_cell(170, 6, "Leaders have set out a clear plan to increase the number of long-")
            pdf.set_xy(20, 256)
            pdf.multi_cell(170, 6, "term placements, and the plan is reviewed every month by the board and its chair")
            pdf.set_xy(20, 270)
            pdf.set_font("Helvetica", size=7)
            pdf.multi_cell(170, 4, "1 The review covered the twelve months to March 2023.")
    pdf.output(str(path))
    return path


def test_another_publishers_furniture_is_found_from_the_document_itself(tmp_path):
    d = read_document(_publisher_pdf(tmp_path / "review.pdf"))
    assert "Annual Fostering Review" not in d.text and "Page 1 of 3" not in d.text
    heads = [d.text[b.start:b.end] for b in d.blocks if b.kind == "heading"]
    assert heads == ["Findings on recruitment of carers", "Findings on support for carers",
                     "Findings on matching and placement stability"]
    assert "the number of long-term placements" in clean(d.text)
    notes = [d.text[b.start:b.end] for b in d.blocks if b.kind == "footnote"]
    assert notes == ["The review covered the twelve months to March 2023."]


def test_larger_print_running_on_in_sentences_is_a_paragraph_not_a_heading(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    body = "Inspectors read case files and met social workers, managers and partner agencies. " * 6
    pdf.multi_cell(170, 6, body)
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, "Summary for children and young people")
    pdf.ln(12)
    pdf.set_font("Helvetica", size=14)
    pdf.multi_cell(170, 7, "Ofsted found that these services are now better, and the council has worked hard to "
                           "improve things but there is more for it to do to make them good. Most children who "
                           "are looked after live with their brothers and sisters near their friends.")
    pdf.ln(6)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(170, 6, body)
    pdf.output(str(tmp_path / "big.pdf"))
    d = read_document(tmp_path / "big.pdf")
    heads = [d.text[b.start:b.end] for b in d.blocks if b.kind == "heading"]
    paras = [clean(d.text[b.start:b.end]) for b in d.blocks if b.kind == "paragraph"]
    assert heads == ["Summary for children and young people"]
    assert any(p.startswith("Ofsted found that these services") and p.endswith("near their friends.") for p in paras)
