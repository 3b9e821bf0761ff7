"""Bringing an index up to date with a folder of letters (incrementally, by content hash).

New letters are read and embedded, changed ones replaced, deleted ones dropped, renamed
ones re-pointed without re-embedding, and unchanged ones left alone. A letter that cannot
be read is reported with its reason and skipped; the others are indexed as usual.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from .chunking import chunk_letter, embed_text, embed_texts
from .config import ChunkSettings
from .embedding import Embedder, embed_with_sentences
from .errors import IndexCorruptError, IndexMismatchError, LetterError
from .letters import MAX_PAGES, PDF_READER, inside_folder, list_letters, read_document, sha256_file
from .metadata import evidence_bounds, parse_metadata
from .reading import read_all
from . import corrections, evidence
from .facts import FACTS_VERSION
from .retrieval import passage_layout
from .search import DenseIndex, write_dense
from .store import FORMAT_VERSION, SENTENCE_FACTS, STANCE_FILE, IndexFolder, LetterRecord, Ragged, crash_point, retired
from .textsearch import WINDOW, KeywordIndex, tokenize

log = logging.getLogger(__name__)

#: Passages embedded at a time: enough to batch well, few enough that letters are saved (and
#: a deletion in the folder noticed) every few seconds.
EMBED_PASSAGES = 64
#: While a long build runs, what it has embedded is committed this often (seconds).
CHECKPOINT_SECONDS = 60.0


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
    repaired: list[str] = field(default_factory=list)  # damage found in the index and mended

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
        lines += [f"  repaired: {what}" for what in self.repaired]
        lines += [f"  renamed: {a} -> {b}" for a, b in self.renamed]
        lines += [f"  same text as {b}, indexed once: {a}" for a, b in self.duplicates]
        lines += [f"  FAILED {p}: {why}" for p, why in self.failed]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  no authority recognised in {p} (indexed; name it in the letter's title line)"
                  for p in self.no_authority]
        lines += [f"  not a letter (only .txt and .pdf are read): {p}" for p in self.skipped]
        return "\n".join(lines)


def build_record(path: Path, sha: str, count_tokens, settings: ChunkSettings, max_pages: int) -> LetterRecord:
    """Read, describe and cut one letter (no embedding). Raises LetterError."""
    doc = read_document(path, max_pages=max_pages)
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
    found = _readable_manifest(index_dir)
    return found is not None and (not _current_layout(found[1]) or found[1].get("letter_facts") != FACTS_VERSION)


def _readable_manifest(index_dir: Path | str) -> tuple[IndexFolder, dict] | None:
    """The index folder and its committed manifest (an older format too), or None when there
    is no index or its manifest cannot be used (opening it says what to do)."""
    folder = IndexFolder(index_dir)
    if not folder.exists():
        return None
    try:
        return folder, folder.read_manifest(upgrade=True)
    except (IndexMismatchError, IndexCorruptError):
        return None


def _refresh_letter_facts(folder: IndexFolder, old: dict | None, entries: list[dict]) -> bool:
    """Re-read the facts of letters indexed by a version that read them differently, from
    their stored text (nothing is embedded again). Returns True when it did."""
    if old is None or old.get("letter_facts") == FACTS_VERSION:
        return False
    for e in entries:
        e["meta"] = parse_metadata(folder.read_letter(e["sha256"]).text).to_dict()
        e.pop("read_meta", None)  # what was read before; corrections are laid over the new reading
    return True


def needs_repair(index_dir: Path | str) -> bool:
    """True when the committed generation in ``index_dir`` is incomplete or a letter's stored
    files are missing (``sync`` mends both without embedding what it need not)."""
    found = _readable_manifest(index_dir)
    if found is None:
        return False
    folder, manifest = found
    if _current_layout(manifest) and folder.generation_problems(manifest):
        return True
    return not all(folder.has_letter(e["sha256"]) for e in manifest["letters"])


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
    wait: bool = True,
    on_wait: Callable[[str], object] | None = None,
    on_commit: Callable[[], object] | None = None,
) -> SyncReport:
    """Make the index in ``index_dir`` match the letters in ``corpus``; return what changed.

    One writer at a time: the whole sync holds the index's writer lock. When another process
    holds it, ``on_wait(message)`` is called (default: the message goes to stderr) and this
    waits; with ``wait=False`` it raises IndexBusyError instead.

    Letters that left the folder (or were renamed) are committed first, before anything is
    embedded; new letters are then saved one by one as they are embedded, and committed
    every CHECKPOINT_SECONDS and at the end, so a killed build keeps what it finished. A
    deletion noticed while embedding is committed straight away. ``on_commit()`` is called
    after each commit; ``on_progress(done, total)`` as passages are embedded.
    """
    corpus, folder = Path(corpus), IndexFolder(index_dir)
    if not corpus.is_dir():
        raise LetterError(f"the letters folder {corpus}/ does not exist; create it and put .pdf or .txt letters in it")
    with folder.writer_lock(wait=wait, on_wait=on_wait or _say):
        return _Sync(corpus, folder, embedder, settings, rebuild, max_pages, progress, on_progress,
                     on_commit).run()


def _say(message: str) -> None:
    print(f"waiting: {message} (Ctrl-C to stop)", file=sys.stderr, flush=True)


class _Sync:
    """One sync, run with the writer lock held (see ``sync``)."""

    def __init__(self, corpus, folder, embedder, settings, rebuild, max_pages, progress, on_progress, on_commit):
        self.corpus, self.folder, self.embedder = corpus, folder, embedder
        self.rebuild, self.max_pages, self.progress = rebuild, max_pages, progress
        self.on_progress, self.on_commit = on_progress, on_commit
        self.settings_block = _settings_block(embedder, settings)
        self.settings = settings
        self.limited = ChunkSettings(**self.settings_block["chunking"])
        self.report = SyncReport()
        self.new_records: dict[str, LetterRecord] = {}
        self.entries: dict[str, dict] = {}  # sha -> manifest entry: what the next commit holds
        self.current: dict[str, str] = {}  # path -> sha of the letters in the folder
        self.base: dict | None = None  # the committed manifest whose arrays the next generation reuses
        self.committed: dict | None = None  # the manifest on disk
        self.force_new = rebuild  # write a new generation even when the letters are the same
        self.last_commit = time.perf_counter()
        self.since_commit = 0  # letters embedded since the last commit
        self.fixes = corrections.load(corpus)  # a person's corrections, laid over what was read
        self.head = stance_head(embedder)  # the scorer's part of the index: each sentence's stance

    def run(self) -> SyncReport:
        started = time.perf_counter()
        folder, report, corpus = self.folder, self.report, self.corpus
        if folder.exists() and not self.rebuild:
            self.committed = folder.read_manifest(upgrade=True)  # an older format gets a new generation
            check_compatible(self.committed, self.embedder, self.settings, folder.root)
            self.base = self.committed
        elif folder.exists():
            try:  # only so that readers still on it keep its files for a while
                self.committed = folder.read_manifest(upgrade=True)
            except (IndexMismatchError, IndexCorruptError):
                self.committed = None
        old = self.base
        report.upgraded = old is not None and not _current_layout(old)
        old_entries = self._repair(old) if old else []

        paths, skipped, refused = list_letters(corpus)
        report.skipped = [str(p.relative_to(corpus)) for p in skipped]
        report.failed += [(p.relative_to(corpus).as_posix(), why) for p, why in refused]
        for p in paths:
            rel = p.relative_to(corpus).as_posix()
            try:
                self.current[rel] = sha256_file(p)
            except OSError as exc:
                report.failed.append((rel, f"cannot be read ({exc.strerror or exc})"))
        current = self.current

        old_by_sha = {e["sha256"]: e for e in old_entries}
        old_path_sha = {p: e["sha256"] for e in old_entries for p in [e["path"], *e.get("aliases", [])]}
        failed_before = {f["path"]: f for f in (old or {}).get("failed", [])}

        entries = self.entries
        todo: dict[str, list[str]] = {}  # sha -> paths, to read and embed
        for e in old_entries:  # keep the old order: unchanged letters keep their rows
            names = [p for p, s in current.items() if s == e["sha256"]]
            if names:
                primary = e["path"] if e["path"] in names else names[0]
                entries[e["sha256"]] = {**e, "path": primary, "aliases": [n for n in names if n != primary]}
        if _refresh_letter_facts(folder, old, list(entries.values())):
            report.upgraded = True
        stale = [e["path"] for e in entries.values()
                 if e["path"].lower().endswith(".pdf") and e.get("reader") != PDF_READER]
        if stale:
            report.warnings.append(
                f"{len(stale)} PDF letter(s) were read by an earlier version of the PDF reader (page furniture, "
                f"headings and tables are read better now): run `assistant index --rebuild` to read them "
                f"again ({', '.join(stale[:3])}{', ...' if len(stale) > 3 else ''})")
        for rel, sha in current.items():
            if sha in entries:
                continue
            prev = failed_before.get(rel)
            if prev and prev.get("sha256") == sha:  # still the same broken file: don't re-read it
                report.failed.append((rel, prev["reason"]))
                continue
            todo.setdefault(sha, []).append(rel)

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

        report.timings = {"read": 0.0, "embed": 0.0, "write": 0.0}
        if todo:
            if old is not None and _rows(entries.values()) != _rows(old_entries):
                self._commit(set(todo))  # deletions and renames first: they never wait for embedding
            self._embed_new(todo, old_path_sha)

        self._catch_up_stances()
        self._commit(set())
        ordered = list(self.entries.values())
        report.letters = len(ordered)
        report.passages = sum(e["passages"] for e in ordered)
        report.no_authority = sorted(e["path"] for e in ordered if not e["meta"].get("authority"))
        report.generation = (self.committed or {}).get("generation", 0)
        report.seconds = time.perf_counter() - started
        return report

    def _repair(self, old: dict) -> list[dict]:
        """The committed letters whose stored files are whole. A generation found incomplete is
        written again from the stored letters (nothing embedded again); a letter whose own
        files are missing is read and embedded again."""
        folder = self.folder
        problems = folder.generation_problems(old) if _current_layout(old) else []
        if problems:
            self.force_new = True
            self.base = None  # its arrays cannot be trusted: read the letters' own files
            self.report.repaired.append(
                f"{old['files']['generation_dir']} was incomplete ({'; '.join(problems[:3])}); written again "
                "from the stored letters (none embedded again)")
        whole = [e for e in old["letters"] if folder.has_letter(e["sha256"])]
        if len(whole) < len(old["letters"]):
            lost = [e["path"] for e in old["letters"] if not folder.has_letter(e["sha256"])]
            self.report.repaired.append(f"stored files of {len(lost)} letter(s) were missing; read and embedded "
                                        f"again: {', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}")
        return whole

    # ------------------------------------------------------------ commits
    def _failed_entries(self) -> list[dict]:
        return [{"path": p, "reason": r, "sha256": self.current.get(p)} for p, r in self.report.failed]

    def _commit(self, pending: set[str]) -> bool:
        """Commit ``self.entries``; ``pending``: hashes still being embedded (their files are
        kept). Returns False when nothing needed writing."""
        t0 = time.perf_counter()
        folder, old = self.folder, self.base
        for sha, e in self.entries.items():
            self.entries[sha] = corrections.apply(e, self.fixes.get(sha))
        ordered = list(self.entries.values())
        failed = self._failed_entries()
        current_layout = old is not None and _current_layout(old)
        if current_layout and not self.force_new and _shas(ordered) == _shas(old["letters"]):
            if old.get("failed", []) == failed and _rows(ordered) == _rows(old["letters"]) and \
                    old.get("letter_facts") == FACTS_VERSION and \
                    [e["meta"] for e in ordered] == [e["meta"] for e in old["letters"]]:
                return False  # nothing to write
            generation, files, gen_tmp = old["generation"], old["files"], None
        else:
            generation = folder.next_generation(self.committed)
            gen_tmp = folder.new_generation_dir(generation)
            files = write_generation(folder, gen_tmp, ordered, self.new_records, self.settings_block["model"]["dim"],
                                     previous=old, stances=self.head.name if self.head else None)
            files["generation_dir"] = f"gen-{generation:06d}"
        before = self.committed
        manifest = {
            "format": FORMAT_VERSION,
            **self.settings_block,
            "sentence_facts": evidence.facts_signature(),
            "letter_facts": FACTS_VERSION,
            "generation": generation,
            "files": files,
            "letters": ordered,
            "failed": failed,
            "counts": {"letters": len(ordered), "passages": sum(e["passages"] for e in ordered),
                       "sentences": sum(e["sentences"] for e in ordered)},
            "previous_generation_dir": before["files"]["generation_dir"] if before and gen_tmp is not None else
            (before or {}).get("previous_generation_dir"),
            "previous_letters": _shas(before["letters"]) if before else [],
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        manifest["retired"] = retired(before, manifest, time.time())
        folder.commit(manifest, gen_tmp)
        folder.collect_garbage(manifest, keep_letters=pending)
        self.base = self.committed = manifest
        self.force_new = False
        self.last_commit, self.since_commit = time.perf_counter(), 0
        self.report.timings["write"] = self.report.timings.get("write", 0.0) + time.perf_counter() - t0
        if self.on_commit:
            self.on_commit()
        return True

    def _commit_deletions(self, pending: set[str]) -> None:
        """Commit at once the letters that left the folder while this sync runs (a deletion
        never waits for the additions). Not in a rebuild: its commits would hold only part."""
        if self.base is not None and not self.rebuild and self._drop_gone():
            self._commit(pending)

    def _drop_gone(self) -> bool:
        """Forget paths that left the folder since it was listed; True when a letter the
        next commit would hold lost a path (so the removal should be committed now)."""
        dropped = False
        for sha, e in list(self.entries.items()):
            names = [e["path"], *e.get("aliases", [])]
            here = [n for n in names if os.path.lexists(self.corpus / n)]
            if len(here) == len(names):
                continue
            dropped = True
            for n in set(names) - set(here):
                self.current.pop(n, None)
                for group in (self.report.unchanged, self.report.added, self.report.changed):
                    if n in group:
                        group.remove(n)
                self.report.removed.append(n)
            if not here:
                del self.entries[sha]
            else:
                primary = e["path"] if e["path"] in here else here[0]
                self.entries[sha] = {**e, "path": primary, "aliases": [n for n in here if n != primary]}
        return dropped

    # ------------------------------------------------------------ embedding
    def _embed_new(self, todo: dict[str, list[str]], old_path_sha: dict[str, str]) -> None:
        from tqdm import tqdm

        report, folder = self.report, self.folder
        order = {sha: i for i, sha in enumerate(todo)}
        reuse = not self.rebuild
        to_read = []
        for sha, rels in todo.items():
            if reuse and folder.has_letter(sha):  # embedded by an earlier run that did not commit
                try:
                    self._add(rels, folder.read_letter(sha), old_path_sha)
                    continue
                except Exception:  # noqa: BLE001 - damaged leftovers are simply redone
                    pass
            path = self.corpus / rels[0]
            if not inside_folder(path, self.corpus):  # swapped for a link since the listing
                report.failed += [(r, "a link to a file outside the letters folder; not read") for r in rels]
                continue
            to_read.append((sha, path))

        pending = set(todo) - set(self.entries)
        bar = tqdm(total=0, unit="passage", desc="Embedding", disable=not self.progress or not to_read)
        batch: list[tuple[list[str], LetterRecord]] = []
        state = {"done": 0, "total": 0}
        t_read = time.perf_counter()
        try:
            self.embedder.count_tokens(["warm up"])  # load the tokenizer once, before reading processes fork
            read = partial(_read_one, count_tokens=self.embedder.count_tokens, settings=self.limited,
                           max_pages=self.max_pages)
            # letters are taken in the folder's order, whichever reader finishes first, so the
            # same letters share a batch every time (a vector depends, in its last digits, on
            # the batch it was embedded in) and answers do not depend on the machine's load
            arrived: dict[str, tuple] = {}
            queue = [sha for sha, _ in to_read]
            for item in read_all(to_read, read):
                self._commit_deletions(pending)
                if item is None:
                    continue
                arrived[item[0]] = item[1:]
                while queue and queue[0] in arrived:
                    sha = queue.pop(0)
                    record, reason = arrived.pop(sha)
                    rels = todo[sha]
                    if record is None:
                        report.failed += [(r, reason) for r in rels]
                        pending.discard(sha)
                        continue
                    state["total"] += len(record.chunks)
                    bar.total = state["total"]
                    bar.refresh()
                    batch.append((rels, record))
                    if sum(len(r.chunks) for _, r in batch) >= EMBED_PASSAGES:
                        report.timings["read"] += time.perf_counter() - t_read
                        self._embed_batch(batch, pending, old_path_sha, bar, state)
                        batch, t_read = [], time.perf_counter()
            report.timings["read"] += time.perf_counter() - t_read
            if batch:
                self._embed_batch(batch, pending, old_path_sha, bar, state)
        finally:
            bar.close()
        # rows in the order the folder lists letters, however the reading finished
        new = sorted((e for e in self.entries.values() if e["sha256"] in order), key=lambda e: order[e["sha256"]])
        kept = [e for e in self.entries.values() if e["sha256"] not in order]
        self.entries.clear()
        self.entries.update({e["sha256"]: e for e in kept + new})

    def _embed_batch(self, batch, pending: set[str], old_path_sha, bar, state) -> None:
        """Embed the passages of ``batch`` a slice at a time, save each letter as soon as its
        vectors are in, and commit deletions noticed meanwhile (and a checkpoint now and then)."""
        texts, spans = embed_texts(r for _, r in batch)
        vec_parts, sent_parts, stance_parts = [], [], []
        for lo in range(0, len(texts), EMBED_PASSAGES):
            t0 = time.perf_counter()
            got = embed_with_sentences(self.embedder, texts[lo:lo + EMBED_PASSAGES], spans[lo:lo + EMBED_PASSAGES],
                                       read=self.head)
            self.report.timings["embed"] += time.perf_counter() - t0
            vec_parts.append(got[0])
            sent_parts.append(got[1])
            stance_parts.append(got[2] if self.head else None)
            n = len(got[0])
            state["done"] += n
            bar.update(n)
            if self.on_progress:
                self.on_progress(state["done"], state["total"])
            self._commit_deletions(pending)
        vecs, sent_vecs = np.concatenate(vec_parts), np.concatenate(sent_parts)
        stances = np.concatenate(stance_parts) if all(p is not None for p in stance_parts) else None
        t0 = time.perf_counter()
        row, srow = 0, 0
        for rels, r in batch:
            n, m = len(r.chunks), sum(len(c.sentences) for c in r.chunks)
            if stances is not None:  # before the letter itself, whose record marks it complete
                self.folder.write_letter_stances(r.sha256, self.head.name, stances[srow:srow + m])
            self.folder.write_letter(r, vecs[row:row + n], sent_vecs[srow:srow + m])
            row, srow = row + n, srow + m
            crash_point("after-letter")
            here = [x for x in rels if os.path.lexists(self.corpus / x)]
            if here:  # a letter deleted while it was embedded is not added
                self._add(here, r, old_path_sha)
                self.since_commit += 1
            pending.discard(r.sha256)
        self.report.timings["write"] += time.perf_counter() - t0
        if not self.rebuild and self.since_commit and time.perf_counter() - self.last_commit >= CHECKPOINT_SECONDS:
            self._commit(pending)  # a long build shows (and keeps) what it has done so far

    def _catch_up_stances(self) -> None:
        """Work out the sentence stances of letters indexed before the stance head (or with
        another one): their passages are read by the model again, their vectors are kept; the
        next commit writes them into a new generation."""
        from tqdm import tqdm

        if self.head is None:
            return
        name, folder = self.head.name, self.folder
        missing = [sha for sha in self.entries if not folder.has_stances(sha, name)]
        if not missing and (self.committed or {}).get("files", {}).get("stances") != name and self.entries:
            # every letter has a file and the generation does not hold them yet: it will, unless a
            # file is damaged (then the generation could not take them): those are worked out again
            self.force_new = True
            missing = [sha for sha, e in self.entries.items()
                       if not _whole(folder.read_letter_stances(sha, name), e["sentences"])]
        if not missing:
            return
        records = [self.new_records.get(sha) or folder.read_letter(sha) for sha in missing]
        bar = tqdm(total=sum(len(r.chunks) for r in records), unit="passage", desc="Reading stances",
                   disable=not self.progress)
        t0 = time.perf_counter()
        try:
            for start in range(0, len(records), 64):
                batch = records[start:start + 64]
                texts, spans = embed_texts(batch)
                got = embed_with_sentences(self.embedder, texts, spans, read=self.head)[2]
                if got is None:
                    return
                row = 0
                for r in batch:
                    m = sum(len(c.sentences) for c in r.chunks)
                    folder.write_letter_stances(r.sha256, name, got[row:row + m])
                    row += m
                bar.update(len(texts))
        finally:
            bar.close()
        self.report.timings["embed"] = self.report.timings.get("embed", 0.0) + time.perf_counter() - t0
        self.force_new = True

    def _add(self, rels: list[str], r: LetterRecord, old_path_sha) -> None:
        report = self.report
        report.warnings += r.warnings
        primary, *others = rels
        report.duplicates += [(rel, primary) for rel in others]
        self.entries[r.sha256] = {
            "path": primary, "aliases": others, "sha256": r.sha256, "meta": r.meta.to_dict(),
            "passages": len(r.chunks), "sentences": sum(len(c.sentences) for c in r.chunks),
            "pages": len(r.page_starts) or None, "characters": len(r.text), "warnings": r.warnings,
            "reader": PDF_READER,
        }
        self.new_records[r.sha256] = r
        (report.changed if primary in old_path_sha else report.added).append(primary)


def _whole(stances: np.ndarray | None, sentences: int) -> bool:
    """True when a letter's stances (as ``read_letter_stances`` gives them) cover its sentences."""
    return stances is not None and len(stances) == sentences


def stance_head(embedder: Embedder):
    """The stance head of the judge for ``embedder``'s model (see ``judge.StanceHead``), or None."""
    from .judge import Judge

    judge = Judge.for_model(getattr(embedder, "name", None) or "", None)
    return judge.head if judge is not None else None


def _shas(entries) -> list[str]:
    return [e["sha256"] for e in entries]


def _rows(entries) -> list[tuple]:
    return [(e["sha256"], e["path"], tuple(e.get("aliases", []))) for e in entries]


def _read_one(path: Path, sha: str, *, count_tokens, settings: ChunkSettings, max_pages: int):
    """(record, None) or (None, why it could not be read)."""
    try:
        return build_record(path, sha, count_tokens, settings, max_pages), None
    except LetterError as exc:
        return None, str(exc).split(": ", 1)[-1]
    except Exception as exc:  # noqa: BLE001 - one bad letter must not stop the others
        log.exception("unexpected failure reading %s", path.name)
        return None, f"could not be read ({type(exc).__name__}: {exc})"


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
        #: the sentence stances it holds and the stance head that worked them out (None: none)
        self.stances_by = manifest["files"].get("stances")
        self.stances = np.load(gen / STANCE_FILE, mmap_mode="r", allow_pickle=False) if self.stances_by else None

    def sentence_rows(self, sha: str) -> tuple[int, int]:
        """The first and past-the-last sentence rows of letter ``sha``."""
        k = self.shas[sha]
        return int(self.sent_first[self.first[k]]), int(self.sent_first[self.first[k + 1]])

    def letter(self, sha: str) -> _LetterArrays:
        k = self.shas[sha]
        lo, hi = int(self.first[k]), int(self.first[k + 1])
        slo, shi = self.sentence_rows(sha)
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
                     records: dict[str, LetterRecord], dim: int, previous: dict | None = None,
                     stances: str | None = None) -> dict:
    """Write the search structures over ``entries`` (in order) into ``gen_dir``.

    Letters already in the previous generation are copied from its arrays (no per-letter
    reads); only new letters come from their own files. With ``stances`` (a stance head's
    name), the sentence stances it worked out go in too when every letter has them. Returns
    the manifest's "files" block.
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
    if stances is not None:  # from the previous generation when it holds them by the same head
        same = prev is not None and prev.stances_by == stances
        held = [np.asarray(prev.stances[slice(*prev.sentence_rows(e["sha256"]))])
                if same and e["sha256"] in prev.shas and e["sha256"] not in records
                else folder.read_letter_stances(e["sha256"], stances) for e in entries]
        if all(_whole(h, len(p.spans)) for h, p in zip(held, parts)):
            np.save(gen_dir / STANCE_FILE, np.concatenate(held).astype(np.float16) if held
                    else np.zeros((0, 4), np.float16), allow_pickle=False)
            search["stances"] = stances
    return search
