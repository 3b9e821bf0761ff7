import pytest

from assistant.errors import LetterError
from assistant.letters import list_letters, read_document
from conftest import make_pdf


def test_text_letter_without_page_breaks_has_no_pages(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("Overview\n\nInspectors found good practice.\n", encoding="utf-8")
    doc = read_document(p)
    assert doc.page_starts == () and doc.page_at(5) is None


def test_form_feeds_in_text_mark_pages(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("page one text\fpage two text", encoding="utf-8")
    doc = read_document(p)
    assert doc.page_at(0) == 1 and doc.page_at(doc.text.index("two")) == 2


def test_windows_1252_text_is_decoded_with_a_warning(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("Children’s services – a café".encode("cp1252"))
    doc = read_document(p)
    assert "Children’s services – a café" == doc.text
    assert doc.warnings and "Windows-1252" in doc.warnings[0]


@pytest.mark.parametrize("name, content, reason", [
    ("empty.txt", b"", "empty"),
    ("blank.txt", b"   \n\n", "empty"),
    ("random.pdf", bytes(range(256)) * 20, "not a PDF"),
    ("truncated.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "not a readable PDF"),
    ("pdf-named.txt", b"%PDF-1.4 whatever", "rename it to .pdf"),
])
def test_bad_files_fail_with_a_reason(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LetterError, match=reason):
        read_document(p)


def test_pdf_pages_are_kept(tmp_path):
    p = make_pdf(tmp_path / "letter.pdf", ["Overview\n\nFirst page sentence.", "Findings\n\nSecond page sentence."])
    doc = read_document(p)
    assert doc.page_at(doc.text.index("First page")) == 1
    assert doc.page_at(doc.text.index("Second page")) == 2


def test_encrypted_pdf_is_refused_with_advice(tmp_path):
    p = make_pdf(tmp_path / "locked.pdf", ["Secret letter text."], encrypt="pw")
    with pytest.raises(LetterError, match="password|encrypted"):
        read_document(p)


def test_pdf_without_text_layer_needs_ocr(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 50, style="F")
    p = tmp_path / "scan.pdf"
    pdf.output(str(p))
    with pytest.raises(LetterError, match="OCR"):
        read_document(p)


def test_long_pdf_over_the_page_cap_is_refused(tmp_path):
    p = make_pdf(tmp_path / "long.pdf", [f"Page {i} text." for i in range(6)])
    with pytest.raises(LetterError, match="6 pages"):
        read_document(p, max_pages=5)


def test_listing_skips_hidden_files_and_names_other_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.PDF").write_bytes(b"%PDF")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "notes.docx").write_text("x")
    letters, skipped, _ = list_letters(tmp_path)
    assert [p.name for p in letters] == ["a.txt", "b.PDF"]
    assert [p.name for p in skipped] == ["notes.docx"]
