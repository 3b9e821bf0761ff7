"""The original page of a PDF letter as an image, the quoted words marked on it.

A page is asked for by the letter's index id (its sha256 in the manifest) and a page
number, never by a path: the file is found through the index, must still be the indexed
file (same sha256) and must lie inside the letters folder. PDFium (``pypdfium2``, its own
binary in the wheel) renders the page and finds where the quoted words stand on it.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import AssistantError
from .letters import sha256_file

#: Rendering scale: 1 PDF point -> 1.6 pixels (an A4 page is about 950 px wide, sharp on a laptop).
SCALE = 1.6
_WORD = re.compile(r"\w+")
#: How many words of the quote's start and end are matched when the whole does not match
#: (a line-end hyphen or a ligature the text reader read differently).
_ENDS = 6
_PDFIUM = threading.Lock()  # PDFium is not thread-safe


class PageError(AssistantError):
    """A page cannot be shown; the message says why."""


@dataclass(frozen=True)
class PageImage:
    """A rendered page: PNG bytes, its size, and the boxes marked (pixels: left, top, right, bottom)."""

    png: bytes
    width: int
    height: int
    marks: list[tuple[int, int, int, int]]


def letter_file(letters: list[dict], corpus: Path, letter_id: str) -> Path:
    """The indexed PDF with index id ``letter_id``. Raises PageError when there is none, it is
    not a PDF, it lies outside ``corpus`` or it has changed since it was indexed."""
    entry = next((e for e in letters if e.get("sha256") == letter_id), None) if isinstance(letter_id, str) else None
    if entry is None:
        raise PageError("no indexed letter has that id")
    root = Path(corpus).resolve()
    path = (root / entry["path"]).resolve()
    if not path.is_relative_to(root):
        raise PageError("that letter is not in the letters folder")
    if path.suffix.lower() != ".pdf":
        raise PageError("that letter is not a PDF: there is no original page to show")
    if not path.is_file() or sha256_file(path) != letter_id:
        raise PageError("the file has changed or gone since it was indexed; re-index to see its pages")
    return path


def render_page(path: Path, page: int, quote: str | None = None, scale: float = SCALE) -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` as PNG, with ``quote``'s words marked."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        pdf = pdfium.PdfDocument(str(path))
        try:
            if not isinstance(page, int) or not 1 <= page <= len(pdf):
                raise PageError(f"there is no page {page}; the letter has {len(pdf)} pages")
            pg = pdf[page - 1]
            image = pg.render(scale=scale).to_pil().convert("RGB")
            boxes = _quote_boxes(pg, quote, scale) if quote else []
        finally:
            pdf.close()
    if boxes:
        from PIL import Image, ImageDraw

        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for box in boxes:
            draw.rectangle(box, fill=(255, 200, 0, 90), outline=(230, 120, 0, 255), width=2)
        image = Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return PageImage(out.getvalue(), image.width, image.height, boxes)


def _quote_boxes(pg, quote: str, scale: float) -> list[tuple[int, int, int, int]]:
    """Pixel boxes of the quote's text on the page (empty when its words are not found)."""
    text = pg.get_textpage()
    page_text = text.get_text_range()
    words = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(page_text)]
    want = [w.lower() for w in _WORD.findall(quote)]
    if not want or not words:
        return []
    span = _find(words, want)
    if span is None:
        head, tail = _find(words, want[:_ENDS]), _find(words, want[-_ENDS:])
        if head is None or tail is None or tail[1] < head[0]:
            return []
        span = (head[0], tail[1])
    start, end = words[span[0]][1], words[span[1]][2]
    height = pg.get_height()
    n = text.count_rects(start, end - start)
    boxes = []
    for i in range(n):
        left, bottom, right, top = text.get_rect(i)
        boxes.append((int(left * scale) - 1, int((height - top) * scale) - 1,
                      int(right * scale) + 1, int((height - bottom) * scale) + 1))
    return boxes


def _find(words: list[tuple[str, int, int]], want: list[str]) -> tuple[int, int] | None:
    """First and last word index of ``want`` as a run in ``words`` (the last word may be cut short)."""
    k = len(want)
    seq = [w for w, _, _ in words]
    for i in range(len(seq) - k + 1):
        if seq[i:i + k - 1] == want[:-1] and seq[i + k - 1].startswith(want[-1]):
            return i, i + k - 1
    return None
