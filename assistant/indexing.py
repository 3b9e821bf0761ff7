"""Bringing an index up to date with a folder of letters (incrementally, by content hash).

New letters are read and embedded, changed ones replaced, deleted ones dropped, renamed
ones re-pointed without re-embedding, and unchanged ones left alone. A letter that cannot
be read is reported with its reason and skipped; the others are indexed as usual.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .chunking import chunk_letter, embed_text
from .config import ChunkSettings
from .embedding import Embedder, embed_with_sentences
from .errors import IndexCorruptError, IndexMismatchError, LetterError
from .letters import MAX_PAGES, Document, list_letters, read_document, sha256_file
from .metadata import evidence_bounds, parse_metadata
from . import evidence
from .retrieval import passage_layout
from .search import DenseIndex, write_dense
from .store import FORMAT_VERSION, SENTENCE_FACTS, IndexFolder, LetterRecord, Ragged, crash_point
from .textsearch import WINDOW, KeywordIndex, tokenize

log = logging.getLogger(__name__)

#: Letters embedded together: large enough to batch well, small enough to save progress often.
LETTER_BATCH = 64


@dataclass
class SyncReport:
    """What one sync did. Paths are relative to the corpus folder."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    no_authority: list[str] = field(default_factory=list)
    letters: int = 0
    passages: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)  # seconds spent reading, embedding, writing
    generation: int = 0
    upgraded: bool = False  # the index's layout was brought up to date (nothing re-embedded)

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.renamed)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A few lines for a terminal or the web app."""
        lines = [
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.renamed)} renamed, {len(self.unchanged)} unchanged, {len(self.failed)} failed "
            f"-> {self.letters} letters, {self.passages} passages ({self.seconds:.1f} s)"
        ]
        if self.upgraded:
            lines.append("  index layout brought up to date (no letter embedded again)")
        lines += [f"  renamed: {a} -> {b}" for a, b in self.renamed]
        lines += [f"  same text as {b}, indexed once: {a}" for a, b in self.duplicates]
        lines += [f"  FAILED {p}: {why}" for p, why in self.failed]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  no authority recognised in {p} (indexed; name it in the letter's title line)"
                  for p in self.no_authority]
        lines += [f"  not a letter (only .txt and .pdf are read): {p}" for p in self.skipped]
        return "\n".join(lines)


def build_record(path: Path, sha: str, count_tokens, settings: ChunkSettings, max_pages: int,
                 doc: Document | None = None) -> LetterRecord:
    """Read (unless ``doc`` is given), describe and cut one letter (no embedding). Raises LetterError."""
    doc = doc if doc is not None else read_document(path, max_pages=max_pages)
    meta = parse_metadata(doc.text)
    chunks = chunk_letter(doc.text, count_tokens, settings, bounds=evidence_bounds(doc.text), layout=doc.blocks)
    if not chunks:
        raise LetterError(f"{path.name}: no quotable text found (only a letterhead or signature?)")
    tokens = [tokenize(embed_text(doc.text, c)[0]) for c in chunks]
    return LetterRecord(sha256=sha, text=doc.text, page_starts=doc.page_starts, meta=meta,
                        chunks=chunks, tokens=tokens, warnings=list(doc.warnings))


def _settings_block(embedder: Embedder, settings: ChunkSettings) -> dict:
    limit = min(settings.max_tokens, embedder.max_tokens)
    return {"model": {"name": embedder.name, "dim": embedder.dim, "max_tokens": embedder.max_tokens},
            "chunking": {**settings.to_dict(), "max_tokens": limit}}


def check_model(manifest: dict, embedder: Embedder, root: Path) -> None:
    """Raise IndexMismatchError unless the index was built with ``embedder``'s model."""
    have_model = manifest.get("model", {})
    if have_model.get("name") != embedder.name or have_model.get("dim") != embedder.dim:
        raise IndexMismatchError(
            f"the index in {root}/ was built with model {have_model.get('name')!r} "
            f"({have_model.get('dim')} dimensions), not {embedder.name!r}; run "
            f"`assistant index --rebuild --index {root}` (or pass --model {have_model.get('name')})"
        )


def check_compatible(manifest: dict, embedder: Embedder, settings: ChunkSettings, root: Path) -> None:
    """Raise IndexMismatchError unless new letters can join this index as they are."""
    check_model(manifest, embedder, root)
    if manifest.get("chunking") != _settings_block(embedder, settings)["chunking"]:
        raise IndexMismatchError(
            f"the index in {root}/ was built with other chunking settings; run `assistant index --rebuild --index {root}`"
        )


def _current_layout(manifest: dict) -> bool:
    """True when ``manifest`` describes this version's layout: its format and its sentence facts."""
    return manifest.get("format") == FORMAT_VERSION and manifest.get("sentence_facts") == evidence.facts_signature()


def layout_outdated(index_dir: Path | str) -> bool:
    """True when the index in ``index_dir`` was written by an older version whose letters
    ``sync`` can carry over (an older format, or sentence facts from other word lists)."""
    folder = IndexFolder(index_dir)
    if not folder.exists():
        return False
    try:
        manifest = folder.read_manifest(upgrade=True)
    except (IndexMismatchError, IndexCorruptError):
        return False  # not ours to fix here: opening it says what to do
    return not _current_layout(manifest)


def sync(
    corpus: Path | str,
    index_dir: Path | str,
    embedder: Embedder,
    *,
    settings: ChunkSettings = ChunkSettings(),
    rebuild: bool = False,
    max_pages: int = MAX_PAGES,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Make the index in ``index_dir`` match the letters in ``corpus``; return what changed.

    ``on_progress(done, total)`` is called as passages are embedded (for a progress bar).
    """
    started = time.perf_counter()
    corpus, folder = Path(corpus), IndexFolder(index_dir)
    report = SyncReport()
    if not corpus.is_dir():
        raise LetterError(f"the letters folder {corpus}/ does not exist; create it and put .pdf or .txt letters in it")
    old = None
    if folder.exists() and not rebuild:
        old = folder.read_manifest(upgrade=True)  # an older format gets a new generation below
        check_compatible(old, embedder, settings, folder.root)
    old_entries = old["letters"] if old else []
    settings_block = _settings_block(embedder, settings)
    limited = ChunkSettings(**settings_block["chunking"])

    paths, skipped = list_letters(corpus)
    report.skipped = [str(p.relative_to(corpus)) for p in skipped]
    current: dict[str, str] = {}
    for p in paths:
        rel = p.relative_to(corpus).as_posix()
        try:
            current[rel] = sha256_file(p)
        except OSError as exc:
            report.failed.append((rel, f"cannot be read ({exc.strerror or exc})"))

    old_by_sha = {e["sha256"]: e for e in old_entries}
    old_path_sha = {p: e["sha256"] for e in old_entries for p in [e["path"], *e.get("aliases", [])]}
    failed_before = {f["path"]: f for f in (old or {}).get("failed", [])}

    entries: dict[str, dict] = {}  # sha -> new manifest entry, in order of first sight
    todo: list[tuple[str, str]] = []  # (rel, sha) to read and embed
    for e in old_entries:  # keep the old order: unchanged letters keep their rows
        names = [p for p, s in current.items() if s == e["sha256"]]
        if names:
            primary = e["path"] if e["path"] in names else names[0]
            entries[e["sha256"]] = {**e, "path": primary, "aliases": [n for n in names if n != primary]}
    for rel, sha in current.items():
        if sha in entries:
            continue
        prev = failed_before.get(rel)
        if prev and prev.get("sha256") == sha:  # still the same broken file: don't re-read it
            report.failed.append((rel, prev["reason"]))
            continue
        todo.append((rel, sha))

    # classify for the report
    gone_paths = {p for p in old_path_sha if p not in current}
    for rel, sha in sorted(current.items()):
        was = old_path_sha.get(rel)
        if sha in old_by_sha and sha in entries:
            e = entries[sha]
            if was == sha:
                report.unchanged.append(rel)
            elif rel == e["path"] or rel in e.get("aliases", []):
                olds = [p for p in gone_paths if old_path_sha[p] == sha]
                if olds and was is None:
                    report.renamed.append((olds[0], rel))
                    gone_paths.discard(olds[0])
                elif was is None:
                    report.duplicates.append((rel, e["path"] if rel != e["path"] else e["aliases"][0]))
                else:
                    report.changed.append(rel)
    report.removed = sorted(p for p in gone_paths if old_path_sha[p] not in entries)

    # read and embed what is new
    new_records: dict[str, LetterRecord] = {}
    report.timings = {"read": 0.0, "embed": 0.0, "write": 0.0}
    if todo:
        _embed_new(todo, corpus, folder, embedder, limited, max_pages, report, entries,
                   old_path_sha, progress, on_progress, new_records, reuse=not rebuild)

    ordered = list(entries.values())
    report.letters = len(ordered)
    report.passages = sum(e["passages"] for e in ordered)
    report.no_authority = sorted(e["path"] for e in ordered if not e["meta"].get("authority"))
    failed_entries = [{"path": p, "reason": r, "sha256": current.get(p)} for p, r in report.failed]

    t_write = time.perf_counter()
    current_layout = old is not None and _current_layout(old)
    report.upgraded = old is not None and not current_layout and not rebuild
    same_rows = current_layout and [e["sha256"] for e in ordered] == [e["sha256"] for e in old_entries]
    if old is not None and same_rows and not rebuild:
        generation = old["generation"]
        files = old["files"]
        if not report.changed_anything and old.get("failed", []) == failed_entries and \
                [(e["path"], e.get("aliases", [])) for e in ordered] == \
                [(e["path"], e.get("aliases", [])) for e in old_entries]:
            report.seconds = time.perf_counter() - started
            report.generation = generation
            return report  # nothing to write
        gen_tmp = None
    else:
        generation = (old["generation"] + 1) if old else 1
        gen_tmp = folder.new_generation_dir(generation)
        files = write_generation(folder, gen_tmp, ordered, new_records, settings_block["model"]["dim"],
                                 previous=None if rebuild else old)
        files["generation_dir"] = f"gen-{generation:06d}"

    manifest = {
        "format": FORMAT_VERSION,
        **settings_block,
        "sentence_facts": evidence.facts_signature(),
        "generation": generation,
        "files": files,
        "letters": ordered,
        "failed": failed_entries,
        "counts": {"letters": len(ordered), "passages": report.passages,
                   "sentences": sum(e["sentences"] for e in ordered)},
        "previous_generation_dir": old["files"]["generation_dir"] if old and gen_tmp is not None else
        (old or {}).get("previous_generation_dir"),
        "previous_letters": [e["sha256"] for e in old_entries],
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    folder.commit(manifest, gen_tmp)
    folder.collect_garbage(manifest)
    report.timings["write"] += time.perf_counter() - t_write
    report.generation = generation
    report.seconds = time.perf_counter() - started
    return report


def _read_all(paths: list[Path], max_pages: int) -> dict[Path, Document | BaseException]:
    """Read letters in parallel, one per core: each PDF is parsed in its own child process, so
    threads are enough. A letter that fails maps to its exception."""
    from concurrent.futures import ThreadPoolExecutor

    def one(path: Path) -> Document | BaseException:
        try:
            return read_document(path, max_pages=max_pages)
        except Exception as exc:  # noqa: BLE001 - reported per letter by the caller
            return exc

    if len(paths) < 2:
        return {p: one(p) for p in paths}
    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1)) as pool:
        return dict(zip(paths, pool.map(one, paths)))


def _embed_new(todo, corpus, folder, embedder, settings, max_pages, report, entries,
               old_path_sha, progress, on_progress, new_records, reuse: bool = True) -> None:
    from tqdm import tqdm

    ready: list[tuple[str, LetterRecord, bool]] = []  # (rel, record, needs embedding)
    reused: dict[str, LetterRecord] = {}
    for rel, sha in todo:
        if reuse and folder.has_letter(sha):  # embedded by an earlier run that did not commit
            try:
                reused[rel] = folder.read_letter(sha)
            except Exception:  # noqa: BLE001 - damaged leftovers are simply redone
                pass
    t0 = time.perf_counter()
    docs = _read_all([corpus / rel for rel, _ in todo if rel not in reused], max_pages)
    report.timings["read"] += time.perf_counter() - t0
    for rel, sha in todo:
        if rel in reused:
            ready.append((rel, reused[rel], False))
            continue
        try:
            t0 = time.perf_counter()
            doc = docs[corpus / rel]
            if isinstance(doc, BaseException):
                raise doc
            ready.append((rel, build_record(corpus / rel, sha, embedder.count_tokens, settings, max_pages, doc), True))
            report.timings["read"] += time.perf_counter() - t0
        except LetterError as exc:
            report.failed.append((rel, str(exc).split(": ", 1)[-1]))
        except Exception as exc:  # noqa: BLE001 - one bad letter must not stop the others
            log.exception("unexpected failure reading %s", rel)
            report.failed.append((rel, f"could not be read ({type(exc).__name__}: {exc})"))

    total = sum(len(r.chunks) for _, r, embed in ready if embed)
    bar = tqdm(total=total, unit="passage", desc="Embedding", disable=not progress or total == 0)
    done = 0
    try:
        for i in range(0, len(ready), LETTER_BATCH):
            batch = [(rel, r) for rel, r, embed in ready[i:i + LETTER_BATCH] if embed]
            texts, spans, owners = [], [], []
            for rel, r in batch:
                for c in r.chunks:
                    t, s = embed_text(r.text, c)
                    texts.append(t)
                    spans.append(s)
                    owners.append(r.sha256)
            if texts:
                t0 = time.perf_counter()
                vecs, sent_vecs = embed_with_sentences(embedder, texts, spans)
                t1 = time.perf_counter()
                report.timings["embed"] += t1 - t0
                row, srow = 0, 0
                for rel, r in batch:
                    n, m = len(r.chunks), sum(len(c.sentences) for c in r.chunks)
                    folder.write_letter(r, vecs[row:row + n], sent_vecs[srow:srow + m])
                    row, srow = row + n, srow + m
                    crash_point("after-letter")
                report.timings["write"] += time.perf_counter() - t1
                done += len(texts)
                bar.update(len(texts))
                if on_progress:
                    on_progress(done, total)
    finally:
        bar.close()

    for rel, r, _ in ready:
        for w in r.warnings:
            report.warnings.append(w)
        if r.sha256 in entries:
            entries[r.sha256]["aliases"].append(rel)
            report.duplicates.append((rel, entries[r.sha256]["path"]))
            continue
        entries[r.sha256] = {
            "path": rel, "aliases": [], "sha256": r.sha256, "meta": r.meta.to_dict(),
            "passages": len(r.chunks), "sentences": sum(len(c.sentences) for c in r.chunks),
            "pages": len(r.page_starts) or None, "characters": len(r.text), "warnings": r.warnings,
        }
        new_records[r.sha256] = r
        (report.changed if rel in old_path_sha else report.added).append(rel)


@dataclass
class _LetterArrays:
    """One letter's rows in a generation's arrays."""

    vectors: np.ndarray  # per passage
    sentence_vectors: np.ndarray  # per sentence
    spans: np.ndarray  # per sentence: start, end
    tokens: Ragged  # per passage: keyword token ids
    sections: np.ndarray  # per passage: section number within the letter
    counts: np.ndarray  # per passage: number of sentences
    facts: dict[str, Ragged]  # per sentence: see SENTENCE_FACTS
    flags: np.ndarray  # per sentence: answer-type bits


class _Generation:
    """The arrays of a committed generation, read once, sliced per letter (for reuse)."""

    def __init__(self, folder: IndexFolder, manifest: dict):
        gen = folder.root / manifest["files"]["generation_dir"]
        self.shas = {e["sha256"]: i for i, e in enumerate(manifest["letters"])}
        rows = np.load(gen / "passages.npy", allow_pickle=False)
        self.spans = np.load(gen / "sentences.npy", allow_pickle=False)
        self.sentence_vectors = np.load(gen / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
        self.tokens = Ragged.load(gen, "tokens")
        self.facts = {name: Ragged.load(gen, name) for name in SENTENCE_FACTS}
        self.flags = np.load(gen / "sentence_flags.npy", allow_pickle=False)
        self.sections = np.load(gen / "sections.npy", allow_pickle=False)
        self.vocab = json.loads((gen / "vocab.json").read_text(encoding="utf-8"))
        self.dense = DenseIndex(gen)
        self.index, self.vectors = self.dense.index, self.dense.vectors
        self.first, self.sent_first = passage_layout(rows, len(manifest["letters"]), len(self.spans))

    def letter(self, sha: str) -> _LetterArrays:
        k = self.shas[sha]
        lo, hi = int(self.first[k]), int(self.first[k + 1])
        slo, shi = int(self.sent_first[lo]), int(self.sent_first[hi])
        return _LetterArrays(
            self.vectors[lo:hi], self.sentence_vectors[slo:shi], self.spans[slo:shi],
            self.tokens.rows(lo, hi), self.sections[lo:hi], np.diff(self.sent_first[lo:hi + 1]),
            {name: r.rows(slo, shi) for name, r in self.facts.items()}, self.flags[slo:shi])


def _letter_arrays(folder: IndexFolder, entry: dict, record: LetterRecord | None, ids: dict[str, int]) -> _LetterArrays:
    """A letter's rows worked out from its own files (a new letter, or no reusable generation)."""
    sha = entry["sha256"]
    record = record or folder.read_letter(sha)
    vecs, sent_vecs = folder.read_letter_vectors(sha)
    if len(vecs) != len(record.chunks) or len(sent_vecs) != sum(len(c.sentences) for c in record.chunks):
        raise LetterError(f"{entry['path']}: stored vectors do not match its passages; run with --rebuild")

    def word_ids(words):
        return [ids.setdefault(w, len(ids)) for w in words]

    spans = np.array([s for c in record.chunks for s in c.sentences], dtype=np.int64).reshape(-1, 2)
    order: dict = {}
    sections = np.array([order.setdefault(c.section, len(order)) for c in record.chunks], dtype=np.int32)
    facts = [evidence.sentence_facts(record.text[s:e]) for s, e in spans]
    return _LetterArrays(
        vecs, sent_vecs, spans, Ragged.from_rows([word_ids(doc) for doc in record.tokens]), sections,
        np.array([len(c.sentences) for c in record.chunks], dtype=np.int64),
        {"sentence_tokens": Ragged.from_rows([word_ids(f[0]) for f in facts]),
         "sentence_stems": Ragged.from_rows([word_ids(f[1]) for f in facts]),
         "sentence_marks": Ragged.from_rows([f[2] for f in facts])},
        np.array([f[3] for f in facts], dtype=np.uint8))


def write_generation(folder: IndexFolder, gen_dir: Path, entries: list[dict],
                     records: dict[str, LetterRecord], dim: int, previous: dict | None = None) -> dict:
    """Write the search structures over ``entries`` (in order) into ``gen_dir``.

    Letters already in the previous generation are copied from its arrays (no per-letter
    reads); only new letters come from their own files. Returns the manifest's "files" block.
    """
    prev = None
    if previous is not None and _current_layout(previous):
        try:
            prev = _Generation(folder, previous)
        except (OSError, ValueError, KeyError):  # a damaged generation: read the letters instead
            prev = None
    vocab: list[str] = list(prev.vocab) if prev else []
    ids = {t: i for i, t in enumerate(vocab)}
    parts: list[_LetterArrays] = []
    groups, passage_rows, sent_base = [], [], 0
    for number, e in enumerate(entries):
        sha = e["sha256"]
        if prev is not None and sha in prev.shas and sha not in records:
            part = prev.letter(sha)
        else:
            part = _letter_arrays(folder, e, records.get(sha), ids)
        parts.append(part)
        groups.extend((number, int(x)) for x in part.sections)
        for c in part.counts:
            passage_rows.append((number, sent_base))
            sent_base += int(c)
    if len(ids) > len(vocab):
        vocab.extend([None] * (len(ids) - len(vocab)))
        for t, i in ids.items():
            vocab[i] = t
    vectors = np.concatenate([p.vectors for p in parts]).astype(np.float32, copy=False) if parts \
        else np.zeros((0, dim), np.float32)
    # sentence vectors go straight to their file (the largest array: no second copy in memory)
    sents = np.lib.format.open_memmap(gen_dir / "sentence_vectors.npy", mode="w+", dtype=np.float16,
                                      shape=(sent_base, dim)) if sent_base else np.zeros((0, dim), np.float16)
    if not sent_base:
        np.save(gen_dir / "sentence_vectors.npy", sents, allow_pickle=False)
    row = 0
    for p in parts:
        sents[row:row + len(p.sentence_vectors)] = p.sentence_vectors
        row += len(p.sentence_vectors)
    if sent_base:
        sents.flush()
    search = write_dense(gen_dir / "dense.faiss", vectors, sents, previous=prev.index if prev else None)
    del sents
    tokens = Ragged.concat([p.tokens for p in parts])
    KeywordIndex.build_ids(tokens.values, tokens.ptr, vocab, groups, WINDOW).save(gen_dir / "keyword")
    tokens.save(gen_dir, "tokens")
    for name in SENTENCE_FACTS:
        Ragged.concat([p.facts[name] for p in parts]).save(gen_dir, name)
    np.save(gen_dir / "sentence_flags.npy", np.concatenate([p.flags for p in parts]) if parts
            else np.zeros(0, np.uint8), allow_pickle=False)
    np.save(gen_dir / "passages.npy", np.array(passage_rows, dtype=np.int64).reshape(-1, 2), allow_pickle=False)
    spans = np.concatenate([p.spans for p in parts]) if parts else np.zeros((0, 2), np.int64)
    np.save(gen_dir / "sentences.npy", spans.astype(np.int64), allow_pickle=False)
    np.save(gen_dir / "sections.npy", np.concatenate([p.sections for p in parts]).astype(np.int32) if parts
            else np.zeros(0, np.int32), allow_pickle=False)
    (gen_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return search
