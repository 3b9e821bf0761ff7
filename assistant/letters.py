"""Reading letters from disk: text files and PDFs become one text with page offsets.

A text letter is kept exactly as read. A PDF is read as a person reads it (``layout``):
running headers, page numbers and other furniture left out, footnotes, headings, table
rows and list items as blocks. Either way every passage and quote is a character span of
the document's text and can be checked against it later.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import multiprocessing as mp
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LetterError
from .layout import Block

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".pdf")
#: How PDFs are read (layout.py); bump it when a change reads the same PDF differently. A PDF
#: indexed by another reader is reported by `assistant index` until it is read again.
PDF_READER = 2
PAGE_BREAK = "\f"
#: Limits that keep one hostile PDF from stalling or exhausting an indexing run.
MAX_PAGES = 300
PDF_SECONDS = 60.0
MAX_TEXT_CHARS = 5_000_000


@dataclass(frozen=True)
class Document:
    """The reading text of one file, with where each page starts (empty when unknown).

    ``blocks`` (PDFs only) say what each part of the text is: heading, paragraph, list item,
    table row or footnote, as spans of ``text``; a text letter has none.
    """

    text: str
    page_starts: tuple[int, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    blocks: tuple[Block, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None for text without pages."""
        return page_at(self.page_starts, offset)


def page_at(page_starts: tuple[int, ...] | list[int], offset: int) -> int | None:
    if not page_starts:
        return None
    return bisect.bisect_right(page_starts, offset)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_letters(corpus: Path) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """Return (letters, skipped, refused) under ``corpus``: the .txt/.pdf files, the other
    files, and symbolic links that lead outside the folder (each with the reason, to report).

    The folder is the boundary: a link (to a file or a folder) is followed only when its
    target lies inside ``corpus``, and a folder is walked once however many links lead to
    it. Hidden files and folders (names starting with a dot) are ignored altogether.
    """
    root = Path(os.path.realpath(corpus))
    letters, skipped, refused = [], [], []
    seen = {root}

    def inside(path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real == root or root in real.parents

    def walk(folder: Path) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and not inside(path):
                what = "folder" if path.is_dir() else "file"
                refused.append((path, f"a link to a {what} outside the letters folder; not read "
                                      "(copy the letter into the folder instead)"))
            elif entry.is_dir():
                real = Path(os.path.realpath(path))
                if real not in seen:
                    seen.add(real)
                    walk(path)
            elif entry.is_file():
                (letters if path.suffix.lower() in SUFFIXES else skipped).append(path)

    if corpus.is_dir():
        walk(corpus)
    return sorted(letters), sorted(skipped), refused


def inside_folder(path: Path, corpus: Path) -> bool:
    """True when ``path``, links resolved, lies inside ``corpus`` (checked again just before
    a letter is read, in case a file was swapped for a link after the folder was listed)."""
    root, real = Path(os.path.realpath(corpus)), Path(os.path.realpath(path))
    return root in real.parents


def read_document(path: Path, *, max_pages: int = MAX_PAGES, pdf_seconds: float = PDF_SECONDS) -> Document:
    """Read a .txt or .pdf file.

    Raises LetterError with a reason a person can act on (empty, not a PDF, encrypted,
    needs OCR, too long, timed out...).
    """
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return _page_split(_decode(path.read_bytes(), path.name))
    if suffix == ".pdf":
        return _read_pdf_guarded(path, max_pages, pdf_seconds)
    raise LetterError(f"{path.name}: not a letter (only .txt and .pdf files are read)")


def _decode(raw: bytes, name: str) -> tuple[str, list[str]]:
    if not raw.strip():
        raise LetterError(f"{name}: the file is empty")
    if raw.startswith(b"%PDF-"):
        raise LetterError(f"{name}: this is a PDF saved with a .txt name; rename it to .pdf")
    warnings = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
            warnings.append(f"{name}: not UTF-8; decoded as Windows-1252 (save it as UTF-8 to silence this)")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            warnings.append(f"{name}: not UTF-8; decoded as Latin-1 (save it as UTF-8 to silence this)")
    if "\x00" in text:
        raise LetterError(f"{name}: binary data in a .txt file; is it really a text letter?")
    if len(text) > MAX_TEXT_CHARS:
        raise LetterError(f"{name}: {len(text):,} characters is more than the {MAX_TEXT_CHARS:,} a letter may have")
    for w in warnings:
        log.warning(w)
    return text.replace("\r\n", "\n").replace("\r", "\n"), warnings


def _page_split(decoded: tuple[str, list[str]]) -> Document:
    text, warnings = decoded
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == PAGE_BREAK] if PAGE_BREAK in text else []
    return Document(text=text, page_starts=tuple(starts), warnings=tuple(warnings))


def _read_pdf_guarded(path: Path, max_pages: int, seconds: float) -> Document:
    """Parse a PDF in a child process so a hostile file can neither hang nor crash indexing."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_pdf_worker, args=(str(path), max_pages, child), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise LetterError(f"{path.name}: reading the PDF took longer than {seconds:.0f} s; it may be damaged")
        try:
            ok, payload = parent.recv()
        except EOFError:
            raise LetterError(f"{path.name}: the PDF reader crashed on this file; it may be damaged") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if not ok:
        raise LetterError(payload)
    return payload


#: Memory a PDF parse may use (a "decompression bomb" fails here instead of exhausting the machine).
PDF_MEMORY_BYTES = 2 * 1024**3


def _bomb(path: str) -> str:
    return (f"{Path(path).name}: the PDF expands to an enormous size when read "
            "(a decompression bomb?); it was not indexed")


def _pdf_worker(path: str, max_pages: int, conn) -> None:
    try:
        import resource

        with open("/proc/self/statm") as fh:  # what the process already maps, plus the allowance
            mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + PDF_MEMORY_BYTES, mapped + PDF_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    try:
        conn.send((True, read_pdf(Path(path), max_pages)))
    except LetterError as exc:
        conn.send((False, str(exc)))
    except MemoryError:
        conn.send((False, _bomb(path)))
    except Exception as exc:  # noqa: BLE001 - any failure of the parser is a bad file, reported
        if type(exc).__name__ == "LimitReachedError":  # pypdf's own decompression limit
            conn.send((False, _bomb(path)))
            return
        conn.send((False, f"{Path(path).name}: not a readable PDF ({type(exc).__name__}: {exc})"))
    finally:
        conn.close()


def read_pdf(path: Path, max_pages: int = MAX_PAGES) -> Document:
    """Read a PDF with pypdf in this process (``read_document`` guards it in a child)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from .layout import read_layout

    name = path.name
    raw = path.read_bytes()
    if not raw.strip():
        raise LetterError(f"{name}: the file is empty")
    if raw.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")) or b"<html" in raw[:1024].lower():
        raise LetterError(f"{name}: this is a web page (HTML) saved with a .pdf name, not a PDF "
                          "(a failed download?); download the PDF again")
    if not raw.lstrip()[:5] == b"%PDF-":
        raise LetterError(f"{name}: not a PDF (no %PDF header); is the file damaged or misnamed?")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise LetterError(f"{name}: the PDF is password-protected; save an unprotected copy")
            except LetterError:
                raise
            except Exception:
                raise LetterError(f"{name}: the PDF is encrypted; save an unprotected copy") from None
        n = len(reader.pages)
        if n == 0:
            raise LetterError(f"{name}: the PDF has no pages")
        if n > max_pages:
            raise LetterError(f"{name}: {n} pages is more than the limit of {max_pages} (raise --max-pages to read it)")
        text, starts, blocks = read_layout(reader.pages)
    except PdfReadError as exc:
        raise LetterError(f"{name}: not a readable PDF ({exc}); it may be truncated or damaged") from None
    if len(text) > MAX_TEXT_CHARS:
        raise LetterError(f"{name}: the PDF's text is larger than {MAX_TEXT_CHARS:,} characters")
    if not text.strip():
        raise LetterError(f"{name}: the PDF has no text layer (scanned?); run OCR on it first, e.g. ocrmypdf")
    return Document(text=text, page_starts=starts, blocks=blocks)
