"""The index folder: plain files and a manifest, committed atomically.

Layout::

    manifest.json                 what is committed: format, model, chunking, letters, generation
    letters/<sha256>.json         one letter: its text, page starts, metadata, passages, tokens
    letters/<sha256>.vec.npy      its passage vectors (float32)
    letters/<sha256>.sent.npy     its sentence vectors (float16)
    letters/<sha256>.<head>.npy   the scorer's: its sentences' stances as the judge's stance head
                                  <head> worked them out from their tokens (float16, rows x 4)
    gen-<n>/                      search structures over all letters of generation n:
        dense.faiss               FAISS index of passage vectors (inner product on unit vectors)
        keyword/                  bm25s index
        passages.npy              per passage: letter number, first sentence row
        sentences.npy             per sentence: start, end (characters in its letter)
        sentence_vectors.npy      float16, memory-mapped
        tokens.npy, tokens_ptr.npy, vocab.json, sections.npy
                                  each passage's keyword tokens and section, so the next
                                  generation reuses them instead of re-reading every letter
        sentence_tokens, sentence_stems, sentence_marks (.npy + _ptr.npy), sentence_flags.npy
                                  what the sentence scorer needs to know of each sentence
                                  (its words, stems, weakness/strength words, answer types),
                                  worked out once here so questions never re-read letters
        stances.npy               the scorer's: every sentence's stance by the head the
                                  manifest names (``files["stances"]``), when every letter has it

Per-letter files are named by content, so a renamed letter keeps them and the same text
under two names is stored once. A save writes new files beside the old ones, fsyncs them,
and replaces ``manifest.json`` last: a reader or a crash sees the old state or the new,
never a mix. Files no longer referenced are removed after the commit.

One writer at a time: every write (a sync, its commits and its clean-up) happens under an
OS lock on ``.writer.lock`` in the index folder (``IndexFolder.writer_lock``), which dies
with its process. Readers take no lock. A generation folder is never rewritten once
committed: each commit writes a new ``gen-<n>`` with a number no folder has had, and the
one before it is kept until the next commit, for readers still opening it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .chunking import Chunk
from .errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexMissingError
from .metadata import LetterMeta

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
#: Older formats whose per-letter files are still good: `assistant index` upgrades them by
#: writing a new generation (nothing is re-embedded).
UPGRADABLE = (2,)
#: Ragged arrays a generation holds per sentence (see evidence.sentence_facts); with
#: ``sentence_flags.npy`` (answer-type bits).
SENTENCE_FACTS = ("sentence_tokens", "sentence_stems", "sentence_marks")
#: The scorer's part of a generation: each sentence's stance as the judge's stance head worked
#: it out from the sentence's tokens (float16, sentences x 4), present when every letter has
#: one by the same head; the manifest names the head (``files["stances"]``).
STANCE_FILE = "stances.npy"
MANIFEST = "manifest.json"
#: The writers' lock file (hidden: never taken for index data).
LOCK = ".writer.lock"
#: Files every generation folder holds (the dense search adds its own; see ``generation_problems``).
GENERATION_FILES = ("passages.npy", "sentences.npy", "sentence_vectors.npy", "tokens.npy", "tokens_ptr.npy",
                    "vocab.json", "sections.npy", "sentence_flags.npy", "dense.faiss",
                    *(f"{n}{end}" for n in SENTENCE_FACTS for end in (".npy", "_ptr.npy")))
#: For crash tests only: the name of a save step at which the process kills itself (SIGKILL);
#: ``name:k`` dies the k-th time the step is reached.
CRASH_ENV = "ASSISTANT_TEST_CRASH_AT"
_crash_counts: dict[str, int] = {}
#: Descriptors of writer locks this process holds. A forked child (a PDF reader, a reading
#: process) closes its copies at once: a copy would keep the lock alive after the writer died.
_held_locks: set[int] = set()


def _drop_inherited_locks() -> None:
    for fd in list(_held_locks):
        try:
            os.close(fd)
        except OSError:
            pass
    _held_locks.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


def crash_point(name: str) -> None:
    """Die here, abruptly, if a crash test asked for it; otherwise do nothing."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or wanted.split(":")[0] != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if ":" not in wanted or _crash_counts[name] == int(wanted.split(":")[1]):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class LetterRecord:
    """Everything indexed about one letter's content (shared by every path with that content)."""

    sha256: str
    text: str
    page_starts: tuple[int, ...]
    meta: LetterMeta
    chunks: list[Chunk]
    tokens: list[list[str]]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "sha256": self.sha256, "text": self.text, "page_starts": list(self.page_starts),
            "meta": self.meta.to_dict(), "chunks": [c.to_dict() for c in self.chunks],
            "tokens": self.tokens, "warnings": self.warnings,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "LetterRecord":
        return cls(
            sha256=d["sha256"], text=d["text"], page_starts=tuple(d["page_starts"]),
            meta=LetterMeta.from_dict(d["meta"]), chunks=[Chunk.from_dict(c) for c in d["chunks"]],
            tokens=d["tokens"], warnings=d.get("warnings", []),
        )


@dataclass(frozen=True)
class Ragged:
    """Rows of different lengths in two arrays: ``values`` and where each row starts (``ptr``,
    one longer than the number of rows)."""

    values: np.ndarray
    ptr: np.ndarray

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def __getitem__(self, row: int) -> np.ndarray:
        return self.values[self.ptr[row]:self.ptr[row + 1]]

    @classmethod
    def from_rows(cls, rows, dtype=np.int32) -> "Ragged":
        rows = [np.asarray(r, dtype=dtype) for r in rows]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        values = np.concatenate(rows) if rows else np.zeros(0, dtype)
        return cls(values.astype(dtype, copy=False), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    @classmethod
    def concat(cls, parts: list["Ragged"], dtype=np.int32) -> "Ragged":
        if not parts:
            return cls(np.zeros(0, dtype), np.zeros(1, np.int64))
        values = np.concatenate([np.asarray(p.values, dtype=dtype) for p in parts])
        lengths = np.concatenate([np.diff(p.ptr) for p in parts])
        return cls(values, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def rows(self, lo: int, hi: int) -> "Ragged":
        """Rows ``lo`` to ``hi`` as a Ragged of their own (values copied)."""
        a, b = int(self.ptr[lo]), int(self.ptr[hi])
        return Ragged(np.array(self.values[a:b]), np.asarray(self.ptr[lo:hi + 1]) - a)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The values of ``rows`` end to end, and for each value its position in ``rows``."""
        where, owner = ragged_positions(self.ptr, rows)
        return np.asarray(self.values[where]), owner

    def save(self, folder: Path, name: str) -> None:
        np.save(folder / f"{name}.npy", np.ascontiguousarray(self.values), allow_pickle=False)
        np.save(folder / f"{name}_ptr.npy", self.ptr, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, name: str, mmap: bool = False) -> "Ragged":
        mode = "r" if mmap else None
        return cls(np.load(folder / f"{name}.npy", mmap_mode=mode, allow_pickle=False),
                   np.load(folder / f"{name}_ptr.npy", allow_pickle=False))


def ragged_positions(ptr: np.ndarray, rows) -> tuple[np.ndarray, np.ndarray]:
    """For rows of a ragged layout (row i spans ``ptr[i]`` to ``ptr[i + 1]``): every position
    the ``rows`` cover, end to end, and for each its position in ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts[owner] + offsets, owner


# ---------------------------------------------------------------- low-level durable writes

def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    write_bytes_atomic(path, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def write_npy_atomic(path: Path, array: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes_atomic(path, buf.getvalue())


def fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


#: Seconds a generation folder, or a letter's files, outlive the commit that stopped naming
#: them: a reader that opened an older state (or is opening it) finishes its question on it,
#: however many commits a long sync makes meanwhile.
RETIRE_SECONDS = 120.0


def retired(before: dict | None, after: dict, now: float) -> dict[str, float]:
    """The manifest's ``retired`` block for ``after`` (committed over ``before``): each
    generation folder and letter hash dropped within RETIRE_SECONDS, and when it was dropped."""
    live = {after["files"]["generation_dir"]} | {e["sha256"] for e in after["letters"]}
    kept = {k: t for k, t in (before or {}).get("retired", {}).items() if now - t < RETIRE_SECONDS}
    if before:
        dropped = ({before["files"]["generation_dir"]} | {e["sha256"] for e in before["letters"]}) - live
        kept.update(dict.fromkeys(dropped, now))
    return {k: t for k, t in kept.items() if k not in live}


# ---------------------------------------------------------------- the folder

class IndexFolder:
    """Reads and writes the files of one index folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def letters_dir(self) -> Path:
        return self.root / "letters"

    def exists(self) -> bool:
        return (self.root / MANIFEST).is_file()

    # one writer ---------------------------------------------------------
    @contextmanager
    def writer_lock(self, wait: bool = True, on_wait: Callable[[str], object] | None = None) -> Iterator[None]:
        """Hold the index's writer lock for the ``with`` block.

        The lock is an OS file lock (``flock``) on ``.writer.lock``: the OS releases it when the
        process ends, however it ends, so a killed writer never leaves the index locked. When
        another process (or thread) holds it, ``on_wait(message)`` is called and this waits;
        with ``wait=False`` it raises IndexBusyError naming the holder's process id instead.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        _held_locks.add(fd)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy = f"the index in {self.root}/ is being updated by {self.lock_holder()}"
                if not wait:
                    raise IndexBusyError(f"{busy}; try again when it has finished") from None
                (on_wait or log.warning)(f"{busy}; waiting for it to finish")
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            _held_locks.discard(fd)
            os.close(fd)  # closing the only descriptor releases the lock

    def lock_holder(self) -> str:
        """"process N" for the last writer that took the lock (read while it is held)."""
        try:
            pid = (self.root / LOCK).read_text().strip()
        except OSError:
            pid = ""
        return f"process {pid}" if pid.isdigit() else "another process"

    # generations ----------------------------------------------------------
    def next_generation(self, manifest: dict | None) -> int:
        """A generation number no folder has had yet (so no committed folder is ever rewritten)."""
        numbers = [manifest["generation"]] if manifest else [0]
        for child in self.root.iterdir() if self.root.is_dir() else ():
            digits = child.name.removeprefix(".").removeprefix("gen-").removesuffix(".tmp")
            if child.name.lstrip(".").startswith("gen-") and digits.isdigit():
                numbers.append(int(digits))
        return max(numbers) + 1

    def generation_problems(self, manifest: dict) -> list[str]:
        """What is wrong with the generation ``manifest`` names: missing or unreadable files,
        array lengths that disagree with the manifest's counts. Empty when it looks whole."""
        files = manifest.get("files") or {}
        gen = self.root / str(files.get("generation_dir"))
        if not gen.is_dir():
            return [f"{gen.name}/ is missing"]
        needed = list(GENERATION_FILES)
        if files.get("search") == "hnsw":
            needed += ["dense_ids.npy", "vectors.npy"]
        if files.get("stances"):  # the scorer's part, when the manifest says the generation holds it
            needed.append(STANCE_FILE)
        problems = [f"{gen.name}/{n} is missing" for n in needed if not (gen / n).is_file()]
        if problems:
            return problems
        counts = manifest.get("counts") or {}
        expect = {"passages.npy": counts.get("passages"), "sentences.npy": counts.get("sentences"),
                  "sentence_vectors.npy": counts.get("sentences"), "sentence_flags.npy": counts.get("sentences"),
                  **({STANCE_FILE: counts.get("sentences")} if files.get("stances") else {})}
        for name, n in expect.items():
            try:
                rows = len(np.load(gen / name, mmap_mode="r", allow_pickle=False))
            except (OSError, ValueError) as exc:
                problems.append(f"{gen.name}/{name} cannot be read ({exc})")
                continue
            if rows != n:
                problems.append(f"{gen.name}/{name} has {rows} rows, the manifest says {n}")
        if (gen / "dense.faiss").stat().st_size == 0:
            problems.append(f"{gen.name}/dense.faiss is empty")
        return problems

    def read_manifest(self, upgrade: bool = False) -> dict:
        """The committed manifest. With ``upgrade``, an UPGRADABLE format is accepted too."""
        path = self.root / MANIFEST
        if not path.is_file():
            raise IndexMissingError(
                f"no index in {self.root}/; build one with `assistant index CORPUS --index {self.root}`"
            )
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"{path} cannot be read ({exc}); run `assistant index --rebuild --index {self.root}`"
            ) from None
        if upgrade and manifest.get("format") in UPGRADABLE:
            return manifest
        if manifest.get("format") in UPGRADABLE:
            raise IndexMismatchError(
                f"the index in {self.root}/ has the older format {manifest.get('format')}; run "
                f"`assistant index --index {self.root}` to upgrade it (letters are not embedded again)"
            )
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"the index in {self.root}/ has format {manifest.get('format')!r} but this version reads "
                f"format {FORMAT_VERSION}; run `assistant index --rebuild --index {self.root}`"
            )
        return manifest

    # letters ---------------------------------------------------------
    def has_letter(self, sha: str) -> bool:
        d = self.letters_dir
        return all((d / f"{sha}{ext}").is_file() for ext in (".json", ".vec.npy", ".sent.npy"))

    def write_letter(self, record: LetterRecord, vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
        d = self.letters_dir
        write_npy_atomic(d / f"{record.sha256}.vec.npy", vectors.astype(np.float32))
        write_npy_atomic(d / f"{record.sha256}.sent.npy", sentence_vectors.astype(np.float16))
        write_json_atomic(d / f"{record.sha256}.json", record.to_dict())  # last: marks it complete

    def _stance_path(self, sha: str, head: str) -> Path:
        return self.letters_dir / f"{sha}.{head}.npy"

    def has_stances(self, sha: str, head: str) -> bool:
        return self._stance_path(sha, head).is_file()

    def write_letter_stances(self, sha: str, head: str, stances: np.ndarray) -> None:
        """A letter's sentence stances as the stance head ``head`` worked them out."""
        write_npy_atomic(self._stance_path(sha, head), np.asarray(stances, dtype=np.float16))

    def read_letter_stances(self, sha: str, head: str) -> np.ndarray | None:
        """A letter's sentence stances by ``head``; None when it has none (or they are damaged)."""
        try:
            return np.load(self._stance_path(sha, head), allow_pickle=False)
        except (OSError, ValueError):
            return None

    def read_letter(self, sha: str) -> LetterRecord:
        path = self.letters_dir / f"{sha}.json"
        try:
            return LetterRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(
                f"letter data {path.name} is missing or damaged ({exc}); run `assistant index --index {self.root}`"
            ) from None

    def read_letter_vectors(self, sha: str) -> tuple[np.ndarray, np.ndarray]:
        d = self.letters_dir
        try:
            return (np.load(d / f"{sha}.vec.npy", allow_pickle=False),
                    np.load(d / f"{sha}.sent.npy", allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"vectors of letter {sha[:12]} are missing or damaged ({exc}); run `assistant index --index {self.root}`"
            ) from None

    # commit ------------------------------------------------------------
    def new_generation_dir(self, generation: int) -> Path:
        tmp = self.root / f".gen-{generation:06d}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        return tmp

    def commit(self, manifest: dict, gen_tmp: Path | None) -> None:
        """Make ``manifest`` (and the generation folder it names) the committed state."""
        crash_point("before-generation")
        if gen_tmp is not None:
            fsync_tree(gen_tmp)
            final = self.root / manifest["files"]["generation_dir"]
            if final.exists():  # only a folder no manifest ever named (see next_generation)
                raise IndexCorruptError(f"{final} already exists; run `assistant index --index {self.root}` again")
            os.replace(gen_tmp, final)
        crash_point("before-manifest")
        if self.letters_dir.exists():
            fsync_dir(self.letters_dir)
        fsync_dir(self.root)
        write_json_atomic(self.root / MANIFEST, manifest)
        fsync_dir(self.root)
        crash_point("after-manifest")

    def collect_garbage(self, manifest: dict, keep_letters: set[str] = frozenset()) -> None:
        """Remove files the committed manifest (and the one before it) no longer names.

        ``keep_letters``: content hashes whose files stay although no manifest names them yet
        (letters embedded by a sync still running). Call with the writer lock held."""
        retired = set(manifest.get("retired", {}))
        keep_gens = {manifest["files"]["generation_dir"], manifest.get("previous_generation_dir")} | retired
        for child in self.root.iterdir():
            name = child.name
            if (name.startswith("gen-") and name not in keep_gens) or (name.startswith(".gen-") and name.endswith(".tmp")):
                shutil.rmtree(child, ignore_errors=True)
        keep = {e["sha256"] for e in manifest["letters"]} | set(manifest.get("previous_letters", [])) | keep_letters \
            | retired
        if self.letters_dir.exists():
            for child in self.letters_dir.iterdir():
                sha = child.name.split(".")[0]
                if child.name.startswith(".") or sha not in keep:
                    child.unlink(missing_ok=True)
