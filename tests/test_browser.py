"""A real browser (headless Chromium, Debian's /usr/bin/chromium driven by Playwright) uses the
web chat as an analyst does: clickable citations, the original page, the Letters tab, filters,
history across reloads, downloads, and the phone-width layout."""

import csv
import io
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import CORPUS, DATA, LETTERS, FakeEmbedder, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The README's pictures are written to docs/ only when asked (ASSISTANT_UPDATE_PICTURES=1),
#: so a test run leaves the working tree as it was.
PICTURES = DOCS if os.environ.get("ASSISTANT_UPDATE_PICTURES") == "1" else ARTIFACTS
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CITE = "#chat a[href*='#q=']"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def real_url(real_assistant):
    """The five letters with the real model (read only)."""
    from assistant.server import serve

    app = serve(real_assistant, CORPUS, port=free_port(), block=False)
    yield app.local_url
    app.close()


@pytest.fixture(scope="module")
def managed(tmp_path_factory):
    """A writable letters folder (the five letters and a real PDF report), quick fake vectors."""
    from assistant.engine import Assistant
    from assistant.indexing import sync
    from assistant.server import serve

    base = tmp_path_factory.mktemp("managed")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    shutil.copy(DATA / "cheshire-west-2019.pdf", corpus / "cheshire-west-2019.pdf")
    emb = FakeEmbedder()
    sync(corpus, base / "index", emb, progress=False)
    assistant = Assistant.open(base / "index", embedder=emb)
    app = serve(assistant, corpus, port=free_port(), block=False)
    yield app.local_url, corpus, assistant
    app.close()


def open_page(browser, url, width=1400, height=1000):
    ctx = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    pg = ctx.new_page()
    pg.goto(url, wait_until="load")
    pg.locator("#chat").wait_for(timeout=30_000)
    return pg


def ask(pg, question, wait_for):
    pg.locator("#question textarea").fill(question)
    pg.locator("#ask").click()
    pg.locator("#chat").get_by_text(wait_for).first.wait_for(timeout=60_000)


def test_clicking_a_citation_opens_its_letter_at_the_quote(browser, real_url):
    pg = open_page(browser, real_url)
    ask(pg, "Which authorities had weak contingency planning?", "Checked 5 letters from 4 authorities")
    chat = pg.locator("#chat").inner_text()
    sources = pg.locator("#chat li").filter(has_text=re.compile(r"^\[\d+\] ")).all_inner_texts()
    assert len(sources) >= 3 and "000_" not in chat  # sources named, not by file
    assert re.match(r"\[2\] \w+ · (focused|monitoring) visit · \d+ \w{3} \d{4}", sources[1])
    quotes = re.findall(r"“([^”]+)”", chat)
    assert quotes and all(chat.count(q) == 1 for q in quotes)  # each quote once
    # the new answer is shown from its start
    top = pg.evaluate("() => { const b = [...document.querySelectorAll('#chat .bot-row')].pop(); "
                      "const c = b.closest('.bubble-wrap') || b.parentElement; "
                      "return b.getBoundingClientRect().top - c.getBoundingClientRect().top; }")
    assert top > -40
    pg.locator(CITE).filter(has_text="[2]").first.click()
    mark = pg.locator("#letter-view mark.current")
    mark.wait_for(timeout=20_000)
    assert pg.locator("#letter-head").inner_text() == sources[1][4:]
    assert mark.inner_text().strip() in chat and "contingency" in mark.inner_text()
    assert mark.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)
    pg.evaluate("() => window.scrollTo(0, 0)")
    pg.screenshot(path=str(PICTURES / "screenshot.png"))  # the README's picture
    pg.context.close()


def test_the_original_page_of_a_pdf_shows_the_quote_marked(browser, managed):
    url, _, _ = managed
    pg = open_page(browser, url)
    ask(pg, "What did inspectors say about supervision in Cheshire West and Chester?", "Checked 1 letter")
    pg.locator(CITE).first.click()
    pg.locator("#letter-view mark.current").wait_for(timeout=20_000)
    assert "Cheshire West" in pg.locator("#letter-head").inner_text()
    pg.get_by_role("tab", name="Original page").click()
    image = pg.locator("#page-image")
    image.wait_for(timeout=20_000)
    assert "the quote is marked" in pg.locator("#page-caption").inner_text()
    assert pg.evaluate("() => document.querySelector('#page-image').naturalWidth") > 800
    caption = pg.locator("#page-caption").inner_text()
    page_no = int(re.search(r"page (\d+) of 11", caption).group(1))
    pg.locator("#next-page").click()
    pg.get_by_text(f"page {page_no + 1} of 11").wait_for(timeout=20_000)
    pg.screenshot(path=str(ARTIFACTS / "page.png"))
    pg.context.close()


def test_letters_tab_after_upload_and_reload(browser, managed, tmp_path):
    url, corpus, assistant = managed
    letter = tmp_path / "sefton-visit.txt"
    letter.write_text((CORPUS / LETTERS["wirral"]).read_text(encoding="utf-8").replace("Wirral", "Sefton"),
                      encoding="utf-8")
    pg = open_page(browser, url)
    pg.get_by_role("tab", name="Letters").click()
    pg.locator("#upload input[type=file]").set_input_files(str(letter))
    pg.locator("#add").click()
    pg.locator("#letters-report").get_by_text("sefton-visit.txt: saved").wait_for(timeout=60_000)
    pg.reload()
    pg.locator("#chat").wait_for(timeout=30_000)
    pg.get_by_role("tab", name="Letters").click()
    pg.locator("#letters-table").get_by_text("sefton-visit.txt").wait_for(timeout=20_000)
    count = len(assistant.letters())  # the other tests here add and remove letters too
    assert any(e["path"] == "sefton-visit.txt" for e in assistant.letters())
    pg.locator("#letters-summary").get_by_text(f"{count} letters indexed").wait_for(timeout=20_000)
    # sortable: newest letter first from the date column's menu
    header = pg.locator("#letters-table").get_by_role("columnheader").filter(has_text="date").first
    header.hover()
    header.get_by_role("button", name="Open cell menu").click()
    pg.get_by_text(re.compile("sort descending", re.I)).first.click()
    rows = pg.locator("#letters-table").get_by_role("row").filter(visible=True).all_inner_texts()
    firsts = [re.findall(r"\d{4}-\d\d-\d\d", r)[0] for r in rows if re.search(r"\d{4}-\d\d-\d\d", r)]
    assert len(firsts) >= 5 and firsts[0] == max(firsts)
    pg.get_by_role("tab", name="Ask").click()
    pg.locator("#filters").get_by_text("Filters").first.click()
    pg.locator("#f-authority input").click()
    assert pg.get_by_role("option", name="Sefton").count() == 1
    pg.context.close()


def test_an_open_letters_tab_follows_a_sync_it_did_not_start(browser, managed):
    """A letter dropped into the folder (the watcher syncs it) shows without a reload."""
    url, corpus, assistant = managed
    pg = open_page(browser, url)
    pg.get_by_role("tab", name="Letters").click()
    pg.locator("#letters-table").get_by_text(LETTERS["wirral"]).first.wait_for(timeout=20_000)
    (corpus / "knowsley-visit.txt").write_text(
        (CORPUS / LETTERS["wirral"]).read_text(encoding="utf-8").replace("Wirral", "Knowsley"), encoding="utf-8")
    assistant.sync(corpus, progress=False)  # what the folder watcher does
    pg.locator("#letters-table").get_by_text("knowsley-visit.txt").wait_for(timeout=20_000)
    pg.context.close()


def test_correct_then_remove_a_letter(browser, managed):
    url, corpus, _ = managed
    pg = open_page(browser, url)
    pg.get_by_role("tab", name="Letters").click()
    pg.locator("#letters-table").get_by_text(LETTERS["dudley"]).filter(visible=True).first.click()  # the row picks the letter
    pg.wait_for_function("() => document.querySelector('#c-authority input, #c-authority textarea').value "
                         "=== 'Dudley'", timeout=20_000)
    date = pg.locator("#c-date input, #c-date textarea").first
    date.fill("2019-02-05")
    pg.locator("#save-correction").click()
    pg.locator("#letters-report").get_by_text("date “2019-02-05”").wait_for(timeout=30_000)
    row = pg.locator("#letters-table").get_by_role("row").filter(has_text=LETTERS["dudley"]).filter(visible=True).first
    expect(row).to_contain_text("2019-02-05")
    assert re.search(r"2019-02-05.*\bdate\b", row.inner_text(), re.S)  # shown as corrected
    # the correction is what filters and answers use
    pg.get_by_role("tab", name="Ask").click()
    ask(pg, "What did inspectors say about Dudley's assessments?", "Dudley · focused visit · 5 Feb 2019")
    # remove it, confirming the dialog
    pg.get_by_role("tab", name="Letters").click()
    asked = []
    pg.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    pg.locator("#remove").click()
    pg.locator("#letters-report").get_by_text("Removed").wait_for(timeout=30_000)
    assert LETTERS["dudley"] in asked[0] and "not deleted" in asked[0]
    assert pg.locator("#letters-table").get_by_text(LETTERS["dudley"]).count() == 0
    assert not (corpus / LETTERS["dudley"]).exists()
    assert list((corpus / ".removed").rglob(LETTERS["dudley"]))  # kept, recoverable
    pg.context.close()


def test_an_invalid_date_is_shown_as_an_error(browser, real_url):
    pg = open_page(browser, real_url)
    pg.locator("#filters").get_by_text("Filters").first.click()
    pg.locator("#f-since input").first.fill("June 2019")
    ask_box = pg.locator("#question textarea")
    ask_box.fill("What did inspectors say about assessments?")
    pg.locator("#ask").click()
    pg.locator("#reading").get_by_text("is not a date").wait_for(timeout=30_000)
    assert "YYYY-MM-DD" in pg.locator("#reading").inner_text()
    assert "inspectors say about assessments" not in pg.locator("#chat").inner_text()  # nothing answered
    pg.context.close()


def test_history_is_kept_across_a_reload_and_downloads_wait_for_an_answer(browser, real_url):
    pg = open_page(browser, real_url)
    assert not pg.locator("#download-md").is_enabled() and not pg.locator("#download-csv").is_enabled()
    ask(pg, "How long was the CAMHS waiting list in Wirral?", "Checked 1 letter")
    pg.reload()
    pg.locator("#chat").get_by_text("The waiting list is eight months").wait_for(timeout=30_000)
    assert "How long was the CAMHS waiting list in Wirral?" in pg.locator("#chat").inner_text()
    assert pg.locator("#download-md").is_enabled()
    pg.context.close()


def test_csv_download_has_a_row_per_citation(browser, real_url):
    pg = open_page(browser, real_url)
    pg.get_by_text("Which authorities had weak contingency planning?").first.click()  # an example
    pg.locator("#chat").get_by_text("Checked 5 letters from 4 authorities").first.wait_for(timeout=60_000)
    chat = pg.locator("#chat").inner_text()
    with pg.expect_download() as info:
        pg.locator("#download-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == pg.locator("#chat li").filter(has_text=re.compile(r"^\[\d+\] ")).count() >= 3
    assert {r["authority"] for r in rows} == {"Wolverhampton", "Wakefield", "Dudley"}
    for r in rows:
        assert r["quote"] in chat and r["letter"].endswith(".txt") and re.match(r"\d{4}-\d\d-\d\d", r["date"])
    pg.context.close()


def test_phone_width_shows_question_and_answer_first(browser, real_url):
    pg = open_page(browser, real_url, width=390, height=844)
    ask(pg, "How long was the CAMHS waiting list in Wirral?", "Checked 1 letter")
    box, chat, viewer = (pg.locator(s).bounding_box() for s in ("#question", "#chat", "#viewer"))
    assert chat["y"] < box["y"] < viewer["y"]  # the answer and the question come before the letter
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and chat["width"] <= 390
    assert pg.evaluate("() => document.documentElement.scrollWidth") <= 392  # no sideways scrolling
    pg.evaluate("() => window.scrollTo(0, 0)")
    PICTURES.mkdir(exist_ok=True)
    pg.screenshot(path=str(PICTURES / "phone.png"))
    assert (PICTURES / "phone.png").stat().st_size > 10_000
    pg.context.close()


def test_follow_up_reuses_the_topic(browser, real_url):
    pg = open_page(browser, real_url)
    ask(pg, "Which authorities had weak contingency planning?", "Checked 5 letters from 4 authorities")
    pg.locator("#question textarea").fill("what about Wirral?")
    pg.locator("#ask").click()
    pg.get_by_text("authorities: Wirral").first.wait_for(timeout=60_000)
    reading = pg.locator("#reading").inner_text()
    assert "contingency" in reading and "Wirral" in reading
    chat = pg.locator("#chat").inner_text()
    assert "nothing clearly about" in chat and "Checked 1 letter: Wirral" in chat  # names topic and letter
    pg.context.close()


def test_compare_tab_table_citation_and_downloads(browser, real_url, real_assistant):
    want = real_assistant.compare(["Wakefield", "Wirral"], "contingency planning")["rows"]
    pg = open_page(browser, real_url)
    pg.get_by_role("tab", name="Compare").click()
    for name in ("Wakefield", "Wirral"):
        pg.locator("#compare-authorities input").click()
        pg.get_by_role("option", name=name).click()
    pg.locator("#compare-theme input").click()
    pg.get_by_role("option", name="contingency planning").click()
    pg.locator("#compare-go").click()
    table = pg.locator("#compare-table table")
    table.wait_for(timeout=60_000)
    rows = table.locator("tbody tr").all_inner_texts()
    assert len(rows) == 2 and rows[0].startswith("Wakefield") and f"\t{want[0]['stance']}\t" in rows[0]
    assert "lack meaningful contingency plans" in rows[0]
    assert rows[1].startswith("Wirral") and f"\t{want[1]['stance']}\t" in rows[1]
    link = pg.locator("#compare-table a[href*='#q=']").first
    number = link.inner_text()
    link.click()
    mark = pg.locator("#compare-viewer mark.current")
    mark.wait_for(timeout=20_000)
    assert "contingency" in mark.inner_text() and mark.inner_text().strip()[:40] in rows[0]
    assert number == "[1]" and "Wakefield" in pg.locator("#compare-viewer #letter-head").inner_text()
    with pg.expect_download() as got:
        pg.locator("#compare-download-csv").click()
    lines = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8"))))
    assert [r["quote"] for r in lines] == [c["quote"] or "" for r in want for c in r["citations"] or [{"quote": ""}]]
    assert {r["authority"] for r in lines} == {"Wakefield", "Wirral"}
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    pg.context.close()


def test_compare_tab_offers_authorities_added_while_open(browser, managed, tmp_path):
    url, corpus, assistant = managed
    pg = open_page(browser, url)
    pg.get_by_role("tab", name="Compare").click()
    pg.locator("#compare-authorities input").click()
    pg.get_by_role("option", name=assistant.authorities()[0], exact=True).wait_for(timeout=20_000)
    assert pg.get_by_role("option", name="Rochdale").count() == 0
    pg.keyboard.press("Escape")
    (corpus / "rochdale-visit.txt").write_text(
        (CORPUS / LETTERS["dudley"]).read_text(encoding="utf-8").replace("Dudley", "Rochdale"), encoding="utf-8")
    assistant.sync(corpus, progress=False)
    assert "Rochdale" in assistant.authorities()
    # the page's refresh timer (3 s) picks up the new state: the Ask tab's filter first
    pg.get_by_role("tab", name="Ask").click()
    pg.locator("#filters").get_by_text("Filters").first.click()
    pg.locator("#f-authority input").click()
    pg.get_by_role("option", name="Rochdale").wait_for(timeout=20_000)
    pg.keyboard.press("Escape")
    pg.get_by_role("tab", name="Compare").click()
    pg.locator("#compare-authorities input").click()
    pg.get_by_role("option", name="Rochdale").wait_for(timeout=20_000)
    pg.context.close()
    (corpus / "rochdale-visit.txt").unlink()
    assistant.sync(corpus, progress=False)


def test_a_compare_question_in_the_chat_gives_a_cited_table(browser, real_url):
    pg = open_page(browser, real_url)
    ask(pg, "Compare Wakefield and Wirral on contingency planning", "Checked 2 letters from 2 authorities")
    rows = pg.locator("#chat table tbody tr").all_inner_texts()
    assert len(rows) == 2 and rows[0].startswith("Wakefield") and rows[1].startswith("Wirral")
    assert "lack meaningful contingency plans" in rows[0]
    pg.locator("#chat table " + CITE.split(" ", 1)[1]).first.click()
    mark = pg.locator("#letter-view mark.current")
    mark.wait_for(timeout=20_000)
    assert "contingency" in mark.inner_text() and "Wakefield" in pg.locator("#letter-head").inner_text()
    pg.context.close()


def test_compare_tab_shows_the_original_page_of_a_pdf(browser, managed):
    url, _, assistant = managed
    names = [a for a in assistant.authorities() if a.startswith("Cheshire")] + ["Wakefield"]
    pg = open_page(browser, url)
    pg.get_by_role("tab", name="Compare").click()
    for name in names:
        pg.locator("#compare-authorities input").click()
        pg.get_by_role("option", name=name, exact=True).click()
    pg.locator("#compare-theme input").fill("supervision")
    pg.locator("#compare-theme input").press("Enter")
    pg.locator("#compare-go").click()
    pg.locator("#compare-table table").wait_for(timeout=60_000)
    pg.locator("#compare-table tbody tr").first.locator("a[href*='#q=']").first.click()
    pg.locator("#compare-viewer mark.current").wait_for(timeout=20_000)
    assert "Cheshire West" in pg.locator("#compare-viewer #letter-head").inner_text()
    pg.locator("#compare-page-tab-button, [role=tab]").filter(has_text="Original page").last.click()
    pg.locator("#compare-page img").wait_for(timeout=20_000)
    assert "the quote is marked" in pg.locator("#compare-page").inner_text()
    pg.context.close()


@pytest.fixture(scope="module")
def history_url(tmp_path_factory):
    """The five letters and two Blackpool reports with grades (quick fake vectors)."""
    from assistant.engine import Assistant
    from assistant.indexing import sync
    from assistant.server import serve

    corpus = tmp_path_factory.mktemp("history") / "corpus"
    shutil.copytree(CORPUS, corpus)
    for name in ("facts-blackpool-2022-ilacs-standard.pdf", "50308110.pdf"):
        shutil.copy(DATA / "real" / name, corpus / name)
    emb = FakeEmbedder()
    sync(corpus, corpus.parent / "index", emb, progress=False)
    app = serve(Assistant.open(corpus.parent / "index", embedder=emb), corpus, port=free_port(), block=False)
    yield app.local_url
    app.close()


def test_authority_page_shows_letters_grade_chart_and_opens_a_citation(browser, history_url):
    pg = open_page(browser, history_url)
    pg.get_by_role("tab", name="Authority history").click()
    pg.locator("#t-authority input").click()
    pg.get_by_role("option", name="Blackpool").click()
    text = pg.locator("#t-text")
    text.get_by_text("What needs to improve").first.wait_for(timeout=30_000)
    blocks = re.findall(r"Blackpool · inspection · \d+ \w{3} \d{4}", text.inner_text())
    assert blocks[:2] == ["Blackpool · inspection · 5 Dec 2022", "Blackpool · inspection · 8 Jun 2026"]
    assert "visit 5 Dec 2022 to 16 Dec 2022" in text.inner_text()
    assert "Sufficient placements to meet children’s assessed needs." in text.inner_text()
    chart = pg.locator("#t-chart svg.grade-chart")
    assert chart.count() == 1 and pg.locator("#t-chart circle").count() >= 6  # grades of both reports
    assert "help and protection" in pg.locator("#t-chart").inner_text()
    link = text.locator("a[href*='#q=']").first
    number = link.inner_text()
    link.click()
    mark = pg.locator("#t-letter-view mark.current")
    mark.wait_for(timeout=20_000)
    assert mark.is_visible() and "Blackpool" in pg.locator("#t-letter-head").inner_text()
    assert " ".join(mark.inner_text().split())[:40] in " ".join(text.inner_text().split())
    assert number == "[1]"
    with pg.expect_download() as dl:
        pg.locator("#t-download-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    assert {r["letter"] for r in rows} == {"facts-blackpool-2022-ilacs-standard.pdf", "50308110.pdf"}
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)
    pg.context.close()
