"""Reliability under real use: one writer at a time, repair, the folder as a boundary,
bounded questions, deletions before additions, resumable builds."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import indexing, reading
from assistant.engine import Assistant
from assistant.errors import IndexBusyError, IndexCorruptError, QuestionError
from assistant.indexing import sync
from assistant.question import MAX_QUESTION_CHARS
from assistant.retrieval import Snapshot
from assistant.store import CRASH_ENV, LOCK, IndexFolder
from conftest import CORPUS, LETTERS, FakeEmbedder

TESTS = Path(__file__).resolve().parent
#: The command line with the fake embedder. With $GATE set, embedding waits until that file
#: exists, so a run holds the writer lock until the test lets it go on.
CLI_SCRIPT = f"""
import os, sys, time
sys.path.insert(0, {str(TESTS)!r})
from conftest import FakeEmbedder
import assistant.embedding

class Slow(FakeEmbedder):
    def embed(self, texts):
        gate = os.environ.get("GATE")
        deadline = time.monotonic() + 120
        if gate and not os.path.exists(gate):
            open(gate + ".waiting", "w").close()
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().embed(texts)

assistant.embedding.load_embedder = lambda *a, **k: Slow()
from assistant.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli(*args, gate: Path | None = None, crash_at: str | None = None, stderr=subprocess.PIPE) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_ENV, "GATE")}
    if gate:
        env["GATE"] = str(gate)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen([sys.executable, "-c", CLI_SCRIPT, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=stderr, text=True)


def wait_for_text(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def many_letters(corpus: Path, n: int) -> list[str]:
    """``n`` new letters (the seed letters with a numbered line added, so each is new text)."""
    names = []
    seeds = sorted(CORPUS.glob("*.txt"))
    for i in range(n):
        seed = seeds[i % len(seeds)].read_text(encoding="utf-8")
        name = f"new_{i:02d}.txt"
        (corpus / name).write_text(seed + f"\n\nAddendum {i}: inspectors returned on day {i}.\n", encoding="utf-8")
        names.append(name)
    return names


def wait_for_lock_holder(index: Path, pid: int, timeout: float = 60) -> None:
    """Until process ``pid`` holds the index's writer lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with IndexFolder(index).writer_lock(wait=False):
                pass
        except IndexBusyError as exc:
            if f"process {pid}" in str(exc):
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never took the writer lock")


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def assert_complete(index: Path, corpus: Path) -> None:
    """The index opens, its generation is whole, and it holds exactly the folder's letters."""
    folder = IndexFolder(index)
    manifest = folder.read_manifest()
    assert folder.generation_problems(manifest) == []
    snap = Snapshot(index)
    indexed = {p for e in snap.letters for p in [e["path"], *e["aliases"]]}
    assert indexed == {p.name for p in corpus.glob("*.txt")}
    for e in snap.letters:
        assert folder.has_letter(e["sha256"])


# ---------------------------------------------------------------- one writer at a time

def test_two_command_line_writers_take_turns(corpus_copy, tmp_path):
    many_letters(corpus_copy, 6)
    index, gate = tmp_path / "index", tmp_path / "gate"
    first = cli("index", corpus_copy, "--index", index, gate=gate)
    wait_for_lock_holder(index, first.pid)
    with open(tmp_path / "second.err", "w") as err:
        second = cli("index", corpus_copy, "--index", index, stderr=err)
        wait_for_text(tmp_path / "second.err", "waiting")  # the second meets the first's lock ...
        gate.touch()  # ... and the first goes on
        out1, err1 = first.communicate(timeout=300)
        out2, _ = second.communicate(timeout=300)
    err2 = (tmp_path / "second.err").read_text()
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert f"being updated by process {first.pid}" in err2
    assert "11 added" in out1 and "11 unchanged" in out2  # the second found the first's work done
    assert_complete(index, corpus_copy)


def test_a_second_writer_asked_not_to_wait_names_the_holder(corpus_copy, tmp_path):
    index, gate = tmp_path / "index", tmp_path / "gate"
    many_letters(corpus_copy, 4)
    first = cli("index", corpus_copy, "--index", index, gate=gate)
    wait_for_lock_holder(index, first.pid)
    second = cli("index", corpus_copy, "--index", index, "--no-wait")
    _, err = second.communicate(timeout=120)
    gate.touch()
    assert second.returncode == 2
    assert f"the index in {index}/ is being updated by process {first.pid}" in err
    assert first.wait(timeout=300) == 0
    assert_complete(index, corpus_copy)


def test_the_app_and_the_command_line_take_turns(corpus_copy, tmp_path):
    index = tmp_path / "index"
    sync(corpus_copy, index, FakeEmbedder(), progress=False)
    app = Assistant.open(index, embedder=FakeEmbedder())  # what the web app holds
    many_letters(corpus_copy, 6)
    gate = tmp_path / "gate"
    writer = cli("index", corpus_copy, "--index", index, gate=gate)
    wait_for_lock_holder(index, writer.pid)
    (corpus_copy / LETTERS["wirral"]).unlink()  # the app sees a folder the CLI did not
    messages, reports = [], []
    app_sync = threading.Thread(target=lambda: reports.append(
        app.sync(corpus_copy, progress=False, on_wait=messages.append)))
    app_sync.start()
    assert poll(lambda: bool(messages))  # the app waits for the command line ...
    gate.touch()  # ... which goes on
    app_sync.join(300)
    assert writer.wait(timeout=300) == 0
    assert f"process {writer.pid}" in messages[0]
    report = reports[0]
    assert report.letters == 10  # (the removal was committed by whichever writer saw it first)
    assert_complete(index, corpus_copy)
    assert {e["path"] for e in app.letters()} == {p.name for p in corpus_copy.glob("*.txt")}


def test_a_killed_writer_frees_the_lock(corpus_copy, tmp_path):
    index = tmp_path / "index"
    many_letters(corpus_copy, 6)
    writer = cli("index", corpus_copy, "--index", index, gate=tmp_path / "never")
    wait_for_lock_holder(index, writer.pid)
    assert poll(lambda: (tmp_path / "never.waiting").exists())  # embedding, its reading processes alive
    assert children(writer.pid)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    with IndexFolder(index).writer_lock(wait=False):  # taken at once: nothing of the writer holds it
        pass
    report = sync(corpus_copy, index, FakeEmbedder(), progress=False, wait=False)
    assert report.letters == 11
    assert_complete(index, corpus_copy)


def test_dropped_generations_and_letters_outlive_their_commit_for_a_while(corpus_copy, tmp_path, monkeypatch):
    from assistant import store

    index = tmp_path / "index"
    sync(corpus_copy, index, FakeEmbedder(), progress=False)
    first = IndexFolder(index).read_manifest()
    dudley = next(e["sha256"] for e in first["letters"] if e["path"] == LETTERS["dudley"])
    (corpus_copy / LETTERS["dudley"]).unlink()
    sync(corpus_copy, index, FakeEmbedder(), progress=False)
    many_letters(corpus_copy, 1)
    sync(corpus_copy, index, FakeEmbedder(), progress=False)
    third = IndexFolder(index).read_manifest()
    # two commits later, a reader still on the first state can finish its question
    assert (index / first["files"]["generation_dir"]).is_dir()
    assert IndexFolder(index).has_letter(dudley)
    assert {first["files"]["generation_dir"], dudley} <= set(third["retired"])

    monkeypatch.setattr(store, "RETIRE_SECONDS", 0.0)  # ... but not for ever
    many_letters(corpus_copy, 2)
    sync(corpus_copy, index, FakeEmbedder(), progress=False)
    assert not (index / first["files"]["generation_dir"]).exists()
    assert not IndexFolder(index).has_letter(dudley)
    assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) == 2


def test_the_lock_file_is_not_index_data(fake_index, tmp_path):
    corpus, index = fake_index
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    sync(corpus, copy, FakeEmbedder(), progress=False)
    assert (copy / LOCK).exists()
    assert not (copy / "letters" / LOCK).exists()


# ---------------------------------------------------------------- repair

def break_generation(index: Path, *names: str) -> None:
    gen = index / json.loads((index / "manifest.json").read_text())["files"]["generation_dir"]
    for name in names:
        (gen / name).unlink()


def test_an_incomplete_generation_is_repaired_without_embedding(fake_index, tmp_path):
    corpus, source = fake_index
    index = tmp_path / "index"
    shutil.copytree(source, index)
    before = Assistant.open(index, embedder=FakeEmbedder()).ask("How long was the CAMHS waiting list in Wirral?")
    break_generation(index, "dense.faiss", "sentence_vectors.npy")
    with pytest.raises(IndexCorruptError, match="assistant index"):
        Assistant.open(index, embedder=FakeEmbedder())

    emb = FakeEmbedder()
    report = sync(corpus, index, emb, progress=False)
    assert emb.texts_embedded == 0
    assert report.repaired and "incomplete" in report.repaired[0] and "dense.faiss is missing" in report.repaired[0]
    assert "repaired:" in report.summary() and "none embedded again" in report.summary()
    assert_complete(index, corpus)
    after = Assistant.open(index, embedder=FakeEmbedder()).ask("How long was the CAMHS waiting list in Wirral?")
    assert after.to_dict()["citations"] == before.to_dict()["citations"]
    assert not sync(corpus, index, emb, progress=False).repaired  # mended for good


def test_a_letter_with_missing_files_is_embedded_again_alone(fake_index, tmp_path):
    corpus, source = fake_index
    index = tmp_path / "index"
    shutil.copytree(source, index)
    entry = next(e for e in json.loads((index / "manifest.json").read_text())["letters"]
                 if e["path"] == LETTERS["dudley"])
    (index / "letters" / f"{entry['sha256']}.vec.npy").unlink()
    emb = FakeEmbedder()
    report = sync(corpus, index, emb, progress=False)
    assert emb.texts_embedded == entry["passages"] + entry["sentences"]  # that letter only
    assert LETTERS["dudley"] in report.repaired[0]
    assert_complete(index, corpus)


# ---------------------------------------------------------------- the folder is the boundary

def test_links_leading_outside_the_folder_are_not_followed(corpus_copy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd.txt"
    secret.write_text("Focused visit to Dudley children's services\n\nOverview\n\n"
                      "root:x:0:0:root:/root:/bin/bash inspectors found the root account.\n")
    (corpus_copy / "letter.txt").symlink_to(secret)
    (corpus_copy / "more").symlink_to(outside, target_is_directory=True)
    (corpus_copy / "inside-link.txt").symlink_to(corpus_copy / LETTERS["dudley"])  # inside: fine
    index = tmp_path / "index"
    report = sync(corpus_copy, index, FakeEmbedder(), progress=False)
    failed = dict(report.failed)
    assert "outside the letters folder" in failed["letter.txt"]
    assert "folder outside the letters folder" in failed["more"]
    assert ("inside-link.txt", LETTERS["dudley"]) in report.duplicates
    assert "FAILED letter.txt: a link to a file outside the letters folder" in report.summary()
    a = Assistant.open(index, embedder=FakeEmbedder())
    assert all("passwd" not in e["path"] and e["path"] != "letter.txt" for e in a.letters())
    ans = a.ask("What did inspectors say about the root account?")
    assert all("root:x" not in c.quote for c in ans.citations)
    for rec in (a.snapshot.record(i) for i in range(len(a.letters()))):
        assert "root:x:0:0" not in rec.text


# ---------------------------------------------------------------- bounded work per question

@pytest.fixture(scope="module")
def fake_assistant(fake_index):
    return Assistant.open(fake_index[1], embedder=FakeEmbedder())


def test_a_question_too_long_is_refused_with_the_limit(fake_assistant):
    question = "Wirral Dudley Wakefield " * 5000  # 120 KB of authority names
    with pytest.raises(QuestionError, match=f"at most {MAX_QUESTION_CHARS:,}"):
        fake_assistant.ask(question)
    with pytest.raises(QuestionError):
        fake_assistant.read(question)


def test_a_question_at_the_limit_is_read_and_answered(fake_assistant):
    names = "Wirral, Dudley, Wakefield and Wolverhampton; "
    question = ("What about assessments in " + names * 60)[:MAX_QUESTION_CHARS]
    query = fake_assistant.read(question)
    assert set(query.authorities) == {"Wirral", "Dudley", "Wakefield", "Wolverhampton"}
    assert query.topic.startswith("assessments")
    assert "Wirral" not in query.topic and "Dudley" not in query.topic
    assert fake_assistant.ask(question).question == question


def test_reading_keeps_the_little_words_out_of_the_topic(fake_assistant):
    q = fake_assistant.read("What did inspectors say about plans in Wirral and Dudley between 2017 and 2019?")
    assert q.topic == "What did about plans"
    assert (q.since, q.until) == ("2017-01-01", "2019-12-31")


@pytest.mark.parametrize("question", [123, None, ["plans"], {"q": 1}])
def test_a_question_that_is_not_text_gets_a_clear_error(fake_assistant, question):
    with pytest.raises(QuestionError, match="must be text"):
        fake_assistant.ask(question)


def test_echoed_filters_are_escaped(fake_assistant):
    # an authority filter naming no indexed authority is answered "no letters about ..." (it
    # echoes the name), so the filters that match nothing here are real ones
    ans = fake_assistant.ask("[x](javascript:alert(1)) <b>plans</b>", authority="Dudley", since="2030-01-01")
    assert "No indexed letter matches these filters" in ans.answer
    assert "[x](javascript" not in ans.answer and "<b>" not in ans.answer
    assert r"\[x\]\(javascript:alert\(1\)\)" in ans.answer
    ans = fake_assistant.ask("plans", authority="[x](javascript:alert(1))")
    assert "no letters about" in ans.answer and "[x](javascript" not in ans.answer


# ---------------------------------------------------------------- deletions before additions

class GatedEmbedder(FakeEmbedder):
    """The fake embedder, but every call after the first waits for a permit from the test."""

    def __init__(self):
        super().__init__()
        self.permits = threading.Semaphore(0)
        self.blocked = threading.Event()

    def embed(self, texts):
        if self.calls >= 1:
            self.blocked.set()
            if not self.permits.acquire(timeout=120):
                raise TimeoutError("the test never let the embedder go on")
        return super().embed(texts)


def cites(assistant: Assistant, question: str) -> set[str]:
    return {c.letter for c in assistant.ask(question).citations}


def poll(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def adding(indexed_copy_small, monkeypatch):
    """An index of the five letters, a reader on it (as another process would be), a writer
    whose embedder the test lets go on call by call, and 8 letters waiting to be added."""
    corpus, index = indexed_copy_small
    monkeypatch.setattr(indexing, "EMBED_PASSAGES", 4)  # many small steps
    monkeypatch.setattr(reading, "READ_WORKERS", 1)
    reader = Assistant.open(index, embedder=FakeEmbedder())
    gated = GatedEmbedder()
    writer = Assistant.open(index, embedder=gated)
    many_letters(corpus, 8)
    return corpus, reader, writer, gated


@pytest.fixture
def indexed_copy_small(corpus_copy, tmp_path):
    sync(corpus_copy, tmp_path / "index", FakeEmbedder(), progress=False)
    return corpus_copy, tmp_path / "index"


DUDLEY_Q = "What did inspectors say about Dudley's assessments?"
WIRRAL_Q = "How long was the CAMHS waiting list in Wirral?"


def test_a_deletion_is_committed_before_additions_are_embedded(adding):
    corpus, reader, writer, gated = adding
    assert LETTERS["wirral"] in cites(reader, WIRRAL_Q)
    (corpus / LETTERS["wirral"]).unlink()
    run = threading.Thread(target=writer.sync, args=(corpus,), kwargs={"progress": False})
    run.start()
    try:
        assert gated.blocked.wait(60)  # embedding has begun and is held
        assert poll(lambda: LETTERS["wirral"] not in cites(reader, WIRRAL_Q))
        assert run.is_alive()  # the additions have not been embedded yet
        assert len(reader.letters()) == 4
    finally:
        for _ in range(1000):
            gated.permits.release()
        run.join(120)
    assert len(writer.letters()) == 12


def test_a_letter_deleted_while_an_addition_runs_stops_being_quoted(adding):
    corpus, reader, writer, gated = adding
    assert LETTERS["dudley"] in cites(reader, DUDLEY_Q)
    run = threading.Thread(target=writer.sync, args=(corpus,), kwargs={"progress": False})
    run.start()
    try:
        assert gated.blocked.wait(60)
        (corpus / LETTERS["dudley"]).unlink()
        gated.permits.release(3)  # a few more steps of the addition, far from all of it

        def gone():  # (the writer's own embedder is held, so only its view is looked at)
            return LETTERS["dudley"] not in cites(reader, DUDLEY_Q) and \
                LETTERS["dudley"] not in {e["path"] for e in writer.letters()}
        assert poll(gone)
        assert run.is_alive()  # the deletion did not wait for the addition to finish
    finally:
        for _ in range(1000):
            gated.permits.release()
        run.join(120)
    paths = {e["path"] for e in writer.letters()}
    assert LETTERS["dudley"] not in paths and len(paths) == 12
    assert_complete(writer.index_dir, corpus)


# ---------------------------------------------------------------- resumable builds

def test_a_build_killed_half_way_keeps_the_letters_it_finished(corpus_copy, tmp_path):
    many_letters(corpus_copy, 5)
    index = tmp_path / "index"
    crashed = cli("index", corpus_copy, "--index", index, crash_at="after-letter:6")
    crashed.communicate(timeout=300)
    assert crashed.returncode == -signal.SIGKILL
    stored = {p.name.split(".")[0] for p in (index / "letters").glob("*.json")}
    assert len(stored) == 6

    emb = FakeEmbedder()
    report = sync(corpus_copy, index, emb, progress=False)
    assert report.letters == 10
    rest = [e for e in json.loads((index / "manifest.json").read_text())["letters"] if e["sha256"] not in stored]
    assert len(rest) == 4
    assert emb.texts_embedded == sum(e["passages"] + e["sentences"] for e in rest)  # only the rest
    assert_complete(index, corpus_copy)


# ---------------------------------------------------------------- busy, not failing

class SlowQuestions(FakeEmbedder):
    def embed(self, texts):
        time.sleep(8)  # long enough that the fourth question is still waiting when it is looked at
        return super().embed(texts)


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_a_question_waiting_its_turn_says_busy_with_how_many_ahead(fake_index):
    from playwright.sync_api import sync_playwright

    from assistant.server import serve
    from conftest import free_port

    corpus, index = fake_index
    app = serve(Assistant.open(index, embedder=SlowQuestions()), corpus, port=free_port(), block=False)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=["--no-sandbox", "--headless", "--disable-gpu"])
            pages = []
            for _ in range(4):  # two are answered at a time: the third and fourth wait
                pg = browser.new_page()
                pg.goto(app.local_url, wait_until="load")
                pg.locator("#chat").wait_for(timeout=30_000)
                pages.append(pg)
            for pg in pages:
                pg.locator("#question textarea").fill("What did inspectors say about plans?")
                pg.locator("#ask").click()
            last = pages[-1]
            last.get_by_text("busy, 1 ahead of you").first.wait_for(timeout=20_000)
            assert "queue:" not in last.locator("#chat").inner_text()
            for pg in pages:  # and every one is answered in the end
                pg.get_by_text("Sources").first.wait_for(timeout=60_000)
            browser.close()
    finally:
        app.close()


def test_the_app_repairs_an_incomplete_index_as_it_starts(fake_index, tmp_path):
    from assistant.indexing import needs_repair
    from assistant.server import prepare

    corpus, source = fake_index
    index = tmp_path / "index"
    shutil.copytree(source, index)
    assert not needs_repair(index)
    break_generation(index, "dense.faiss")
    assert needs_repair(index)
    emb = FakeEmbedder()
    a = prepare(corpus, index, embedder=emb, watch=False)
    assert emb.texts_embedded == 0 and len(a.letters()) == 5
    assert not needs_repair(index)


def test_a_rebuild_starts_over_even_from_an_unreadable_manifest(fake_index, tmp_path):
    corpus, source = fake_index
    index = tmp_path / "index"
    shutil.copytree(source, index)
    (index / "manifest.json").write_text('{"format": 99}')
    with pytest.raises(Exception, match="rebuild"):
        sync(corpus, index, FakeEmbedder(), progress=False)
    report = sync(corpus, index, FakeEmbedder(), progress=False, rebuild=True)
    assert report.letters == 5
    assert_complete(index, corpus)
