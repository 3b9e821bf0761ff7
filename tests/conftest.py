"""Shared fixtures: a deterministic fake embedder, the real letters, small PDFs made on the fly."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
DATA = Path(__file__).resolve().parent / "data"

LETTERS = {
    "wolverhampton": "000_55966294d20ffc26.txt",
    "wakefield": "001_4e3ce13963934b91.txt",
    "wirral": "002_587b03a5a685924a.txt",
    "cabinet": "003_f9bdb4cad48cab37.txt",
    "dudley": "004_e61b88d596903adb.txt",
}


class FakeEmbedder:
    """Bag of word stems hashed into 256 dimensions: deterministic, instant, no model.

    Texts that share words get similar vectors, so rankings in tests are predictable.
    """

    name = "fake-hash-256"
    dim = 256
    max_tokens = 128

    def __init__(self):
        self.calls = 0
        self.texts_embedded = 0

    def count_tokens(self, texts):
        return [len(re.findall(r"\w+|[^\w\s]", t)) + 2 for t in texts]

    def embed(self, texts):
        from assistant.textsearch import tokenize

        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in tokenize(text):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out


class TokenFakeEmbedder(FakeEmbedder):
    """FakeEmbedder that reads sentences in context as a real model does: each word hashed to
    its own token vector, a text's vector the mean of its tokens, a sentence's the mean of its
    own tokens; ``read`` gets each sentence's token vectors (see ``embed_with_sentences``)."""

    name = "fake-tokens-64"
    dim = 64

    def _tokens(self, text):
        words = list(re.finditer(r"\w+", text.lower())) or [re.match(r"", "")]
        vecs = np.zeros((len(words), self.dim), dtype=np.float32)
        for k, w in enumerate(words):
            seed = int.from_bytes(hashlib.blake2b(w.group(0).encode(), digest_size=4).digest(), "little")
            vecs[k] = np.random.default_rng(seed).standard_normal(self.dim)
        return vecs, [(w.start(), w.end()) for w in words]

    def embed(self, texts):
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.stack([self._tokens(t)[0].mean(axis=0) for t in texts]) if texts else np.zeros((0, self.dim))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def embed_spans(self, texts, spans, batch_size=None, read=None):
        passages = self.embed(texts)
        sents, reads = [], []
        for text, sp in zip(texts, spans):
            tokens, where = self._tokens(text)
            own = []
            for s, e in sp:
                sel = np.array([a < e and b > s for a, b in where])
                own.append(tokens[sel] if sel.any() else tokens)
            sents += [t.mean(axis=0) for t in own]
            if read is not None:
                reads.append(read(own))
        sent = np.array(sents, dtype=np.float32).reshape(-1, self.dim)
        sent /= np.maximum(np.linalg.norm(sent, axis=1, keepdims=True), 1e-9)
        if read is None:
            return passages, sent
        return passages, sent, (np.concatenate(reads) if reads else read([]))


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the five letters."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory):
    """The five letters indexed once with the fake embedder: (corpus, index folder)."""
    from assistant.indexing import sync

    base = tmp_path_factory.mktemp("fake")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    sync(corpus, base / "index", FakeEmbedder(), progress=False)
    return corpus, base / "index"


@pytest.fixture(scope="session")
def real_assistant(tmp_path_factory):
    """The five letters indexed with the bundled all-MiniLM-L6-v2 (loads the real model)."""
    from assistant.engine import Assistant
    from assistant.indexing import sync
    from assistant.embedding import load_embedder

    base = tmp_path_factory.mktemp("real")
    embedder = load_embedder()
    sync(CORPUS, base / "index", embedder, progress=False)
    return Assistant.open(base / "index", embedder=embedder)


def free_port() -> int:
    """A loopback port nothing listens on (for starting the app in a test)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pdf(path: Path, pages: list[str], *, encrypt: str | None = None) -> Path:
    """Write a PDF with one page per string (fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password=encrypt)
    pdf.output(str(path))
    return path
