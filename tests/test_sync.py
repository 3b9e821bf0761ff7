"""Re-indexing that never goes stale: crashes, concurrent readers, watching, bad letters."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from assistant.engine import Assistant
from assistant.indexing import sync
from assistant.store import CRASH_ENV
from conftest import CORPUS, LETTERS, FakeEmbedder

TESTS = Path(__file__).resolve().parent
SYNC_SCRIPT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from conftest import FakeEmbedder
from assistant.indexing import sync
sync(sys.argv[1], sys.argv[2], FakeEmbedder(), progress=False)
"""


def run_sync_process(corpus: Path, index: Path, crash_at: str | None) -> int:
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-c", SYNC_SCRIPT, str(corpus), str(index)], env=env,
                          timeout=120).returncode


def indexed_paths(index: Path) -> set[str]:
    return {e["path"] for e in Assistant.open(index, embedder=FakeEmbedder()).letters()}


@pytest.mark.parametrize("point", ["after-letter", "before-generation", "before-manifest", "after-manifest"])
def test_a_killed_save_leaves_the_old_or_the_new_state(tmp_path, point):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / LETTERS["dudley"]).unlink()
    index = tmp_path / "index"
    sync(corpus, index, FakeEmbedder(), progress=False)
    old = indexed_paths(index)

    shutil.copy(CORPUS / LETTERS["dudley"], corpus / LETTERS["dudley"])
    (corpus / LETTERS["wirral"]).unlink()
    new = (old | {LETTERS["dudley"]}) - {LETTERS["wirral"]}

    assert run_sync_process(corpus, index, point) == -9  # SIGKILL
    state = indexed_paths(index)
    removal_first = old - {LETTERS["wirral"]}  # the deletion is committed before embedding starts
    assert state in (old, removal_first, new)
    a = Assistant.open(index, embedder=FakeEmbedder())
    ans = a.ask("What did inspectors say about plans?")
    assert {c.letter for c in ans.citations} <= state

    assert run_sync_process(corpus, index, None) == 0  # the next run finishes the job
    assert indexed_paths(index) == new
    manifest = json.loads((index / "manifest.json").read_text())
    gens = {p.name for p in index.iterdir() if p.name.startswith(("gen-", ".gen-"))}
    named = {manifest["files"]["generation_dir"], manifest["previous_generation_dir"], *manifest["retired"]}
    assert gens <= named  # no leftover: only what the manifest keeps for readers still on it
    shas = {e["sha256"] for e in manifest["letters"]}
    stored = {p.name.split(".")[0] for p in (index / "letters").iterdir()}
    assert shas <= stored


@pytest.fixture
def indexed_copy(corpus_copy, tmp_path):
    """A writable copy of the five letters, indexed with the fake embedder: (corpus, index, embedder)."""
    emb = FakeEmbedder()
    sync(corpus_copy, tmp_path / "index", emb, progress=False)
    return corpus_copy, tmp_path / "index", emb


def test_readers_keep_answering_while_letters_come_and_go(indexed_copy, tmp_path):
    corpus, index, emb = indexed_copy
    a = Assistant.open(index, embedder=emb)
    errors, seen_after = [], []
    removed = threading.Event()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                gone = removed.is_set()
                ans = a.ask("Which authorities had weak contingency planning?")
                if gone:
                    seen_after.extend(c.letter for c in ans.citations)
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(2):
        (corpus / LETTERS["dudley"]).rename(tmp_path / "dudley.txt")
        a.sync(corpus, progress=False)
        removed.set()
        time.sleep(0.2)
        removed.clear()
        (tmp_path / "dudley.txt").rename(corpus / LETTERS["dudley"])
        a.sync(corpus, progress=False)
    (corpus / LETTERS["dudley"]).unlink()
    a.sync(corpus, progress=False)
    removed.set()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert LETTERS["dudley"] not in set(seen_after)
    assert seen_after, "the readers asked nothing after the removal"


def test_watcher_syncs_when_a_letter_arrives(tmp_path):
    from assistant.watch import FolderWatcher

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    calls = []
    done = threading.Event()
    w = FolderWatcher(corpus, lambda: (calls.append(sorted(p.name for p in corpus.iterdir())), done.set()),
                      quiet=0.3, poll=0.1).start()
    try:
        with open(corpus / "new.txt", "w") as fh:  # written in two steps, like a slow copy
            fh.write("Overview\n\n")
            fh.flush()
            time.sleep(0.2)
            fh.write("Inspectors found good practice.\n")
        assert done.wait(10)
        assert calls[0] == ["new.txt"]
    finally:
        w.stop()


def bomb_pdf(path: Path, mb: int = 300) -> Path:
    data = zlib.compress(b"BT /F1 12 Tf 72 712 Td (x) Tj ET\n" + b" " * (mb * 1024 * 1024), 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_bad_letters_are_reported_and_nothing_indexed_is_damaged(indexed_copy):
    corpus, index, emb = indexed_copy
    before = Assistant.open(index, embedder=emb).ask("How long was the CAMHS waiting list in Wirral?").to_dict()

    bomb_pdf(corpus / "bomb.pdf")
    (corpus / "latin.txt").write_bytes("Focused visit to Sandwell Council children’s services\n\nOverview\n\n"
                                       "Café staff said plans were weak.".encode("cp1252"))
    (corpus / "anonymous.txt").write_text("Notes\n\nSocial workers said supervision was regular.\n")
    (corpus / "empty.txt").write_bytes(b"")
    report = sync(corpus, index, emb, progress=False)
    failed = dict(report.failed)
    assert "decompression bomb" in failed["bomb.pdf"]
    assert "empty" in failed["empty.txt"]
    assert sorted(report.added) == ["anonymous.txt", "latin.txt"]
    assert any("Windows-1252" in w for w in report.warnings)
    assert report.no_authority == ["anonymous.txt"]
    assert "no authority recognised in anonymous.txt" in report.summary()
    after = Assistant.open(index, embedder=emb).ask("How long was the CAMHS waiting list in Wirral?").to_dict()
    assert after["citations"] == before["citations"]
    # failures are remembered with the index and not re-read while the file is the same
    manifest = json.loads((index / "manifest.json").read_text())
    assert {f["path"] for f in manifest["failed"]} == {"bomb.pdf", "empty.txt"}
    again = sync(corpus, index, emb, progress=False)
    assert not again.changed_anything and dict(again.failed)["bomb.pdf"] == failed["bomb.pdf"]
