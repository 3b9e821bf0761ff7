"""The web app over real HTTP: the API endpoint, the answer contract, what is (not) served."""

import urllib.request
from urllib.error import HTTPError

import pytest

from assistant.webapp import letter_html, safe_name, save_upload
from conftest import CORPUS, free_port



@pytest.fixture(scope="module")
def served(real_assistant):
    from assistant.server import serve

    port = free_port()
    app = serve(real_assistant, CORPUS, port=port, block=False)
    yield app.local_url.rstrip("/")
    app.close()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except HTTPError as exc:
        return exc.code


def test_ask_endpoint_answers_with_verified_quotes(served):
    from gradio_client import Client

    result = Client(served, verbose=False).predict("Which authorities had weak contingency planning?",
                                                    api_name="/ask")
    assert set(result["authorities"]) == {"Wolverhampton", "Wakefield", "Dudley"}
    assert result["checked"] == {"letters": 5, "authorities": 4}
    for c in result["citations"]:
        text = (CORPUS / c["letter"]).read_text(encoding="utf-8")
        assert " ".join(text[c["start"]:c["end"]].split()) == c["quote"]


def test_timeline_endpoint_returns_the_authoritys_letters_in_date_order(served):
    from gradio_client import Client

    client = Client(served, verbose=False)
    result = client.predict("Wolverhampton", None, api_name="/timeline")
    assert result["authority"] == "Wolverhampton"
    assert [(x["kind"], x["date"]) for x in result["letters"]] == [("cabinet report", "2017-04-26"),
                                                                    ("focused visit", "2018-10-04")]
    visit = result["letters"][1]
    assert visit["improve"][0]["item"].startswith("In locality team hubs, many assessments do not sufficiently")
    assert all(i["later"] == "not followed up" for i in visit["improve"])  # no later letter
    with pytest.raises(Exception, match="did you mean Wolverhampton"):
        client.predict("Wolverhamton", None, api_name="/timeline")


@pytest.mark.parametrize("path", [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/file=/ETC/PASSWD",
    f"/gradio_api/file={CORPUS.parent}/index/README.md",
    f"/gradio_api/file={CORPUS.parent}/pyproject.toml",
])
def test_files_outside_the_app_are_not_served(served, path):
    assert status(served + path) in (403, 404)


def test_upload_names_are_made_safe(tmp_path):
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("C:\\Users\\me\\letter 1.pdf") == "letter 1.pdf"
    with pytest.raises(ValueError):
        safe_name(".hidden")
    src = tmp_path / "in"
    src.mkdir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("existing letter")
    (src / "a.txt").write_text("a different letter")
    assert save_upload(src / "a.txt", corpus) == ("a-2.txt", "saved")
    assert (corpus / "a.txt").read_text() == "existing letter"
    (src / "evil.exe").write_text("x")
    assert "refused" in save_upload(src / "evil.exe", corpus)[1]


def test_an_upload_is_never_written_through_a_link_in_the_corpus(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (outside / "kept.txt").write_text("not the assistant's file")
    (corpus / "b.txt").symlink_to(outside / "kept.txt")
    (corpus / "c.txt").symlink_to(outside / "absent.txt")  # a broken link
    src = tmp_path / "in"
    src.mkdir()
    for name in ("b.txt", "c.txt"):
        (src / name).write_text("an uploaded letter")
        assert save_upload(src / name, corpus) == (name.replace(".txt", "-2.txt"), "saved")
    assert (outside / "kept.txt").read_text() == "not the assistant's file"
    assert not (outside / "absent.txt").exists()


def test_letter_view_escapes_html_and_marks_quotes():
    text = "Intro <script>alert(1)</script>. The quoted sentence here."
    start = text.index("The quoted")
    out = letter_html(text, [(start, len(text))], (start, len(text)), ())
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert '<mark class="current">The quoted sentence here.</mark>' in out


def test_compare_endpoint_returns_the_table_json(served):
    from gradio_client import Client

    client = Client(served, verbose=False)
    result = client.predict(["Wolverhampton", "Wakefield", "Wirral"], "contingency planning", None, None,
                            api_name="/compare")
    assert result["theme"] == "contingency planning"
    assert [r["authority"] for r in result["rows"]] == ["Wolverhampton", "Wakefield", "Wirral"]
    for r in result["rows"]:
        assert set(r) == {"authority", "letter", "kind", "date", "grade", "stance", "citations"}
        for c in r["citations"]:
            text = (CORPUS / c["letter"]).read_text(encoding="utf-8")
            assert " ".join(text[c["start"]:c["end"]].split()) == c["quote"]
    wakefield = result["rows"][1]
    assert any("lack meaningful contingency plans" in c["quote"] for c in wakefield["citations"])
    assert wakefield["stance"] in ("weakness", "mixed")  # the real model's reading: see test_compare_real
    with pytest.raises(Exception, match="Dudley"):
        client.predict(["Dudly", "Wirral"], "caseloads", None, None, api_name="/compare")
