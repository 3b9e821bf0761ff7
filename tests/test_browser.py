"""A real browser (headless Chromium) asks the example question and opens a quote in its letter."""

import shutil
from pathlib import Path

import pytest

from conftest import CORPUS, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")



@pytest.fixture(scope="module")
def page(real_assistant):
    from playwright.sync_api import sync_playwright

    from assistant.server import serve

    app = serve(real_assistant, CORPUS, port=free_port(), block=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(app.local_url, wait_until="load")
        pg.locator("#chat").wait_for(timeout=30_000)
        yield pg
        browser.close()
    app.close()


def test_example_question_answers_and_opens_the_letter(page):
    page.get_by_text("Which authorities had weak contingency planning?").first.click()
    page.get_by_text("Checked 5 letters from 4 authorities").first.wait_for(timeout=60_000)
    chat = page.locator("#chat").inner_text()
    for name in ("Wolverhampton", "Wakefield", "Dudley"):
        assert name in chat
    assert "contingency" in chat
    choices = page.locator("#citations label")
    choices.first.wait_for(timeout=20_000)
    assert choices.count() >= 3
    choices.first.click()
    mark = page.locator("#letter-view mark.current")
    mark.wait_for(timeout=20_000)
    assert "contingency" in mark.inner_text()
    assert mark.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)
    assert (ARTIFACTS / "answer.png").stat().st_size > 10_000


def test_follow_up_reuses_the_topic(page):
    box = page.locator("#question textarea")
    box.fill("what about Wirral?")
    page.locator("#ask").click()
    page.get_by_text("authorities: Wirral").first.wait_for(timeout=60_000)
    reading = page.locator("#reading").inner_text()
    assert "contingency" in reading and "Wirral" in reading
