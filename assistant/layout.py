"""Reading a PDF's pages as a person reads them: furniture out, blocks in reading order.

pypdf reports every piece of text with its position, font and size. From those alone (no
list of any publisher's phrases) this module finds:

- page furniture: lines repeated at the top or bottom edge of many pages (running headers
  and footers, whatever their wording), a lone number at a page edge, a contents page, and
  footnote markers (small raised numbers after a word);
- footnotes: the small-print lines at the foot of a page that start with a marker; each is
  a block of its own, never glued into the sentence it interrupts;
- headings: short lines in a larger or bold font (a line holding a date is never one);
- tables: lines with cells far apart become one row per table row, "label: value";
- bullets: a line led by a symbol glyph starts an item;
- paragraphs: lines close together, joined; a word hyphenated at a line end is joined
  ("long-" + "term" -> "long-term"), and a paragraph running over a page break is one.

The result is the reading-order text and, as spans into it, where each page starts and
what each block is, so every quote stays a character span of the text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from .metadata import DATE_RE

#: Kinds of block, as stored in ``Block.kind``.
HEADING, PARAGRAPH, ITEM, ROW, FOOTNOTE = "heading", "paragraph", "item", "row", "footnote"

_BULLET_CHARS = set("•▪■◼◾●◦‣∙·►▸➢➤✓✔□❖")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^[ivxlc]{1,7}$|^[-–]\s*\d{1,4}\s*[-–]$",
                          re.IGNORECASE)
_MARKER = re.compile(r"^(?:\d{1,3}|[*†‡§]|[ivx]{1,4})$")
_TOC_LINE = re.compile(r"^(?P<title>.*?\S)[\s.…·_]*?\s(?P<page>\d{1,4})$")
_TERMINAL = ".!?:;"
_LIST_MARK = re.compile(r"^\(?(?:\d{1,3}(?:\.\d{1,2})*|[a-z]|[ivx]{1,4})[.)]?$")  # "4." before an item's text
_FIELD = re.compile(r"^[A-Z]\S*(?:\s+\S+){0,2}:\s+\S")  # "Lead inspector: Jo Bloggs", not a heading


@dataclass(frozen=True)
class Block:
    """One unit of a page's reading: ``kind`` and its span ``start``..``end`` in the text."""

    kind: str
    start: int
    end: int


@dataclass
class _Line:
    page: int
    y: float
    x0: float
    x1: float
    size: float
    cells: list[list] = field(default_factory=list)  # [x0, x1, text]
    bold_chars: int = 0
    chars: int = 0
    bullet: bool = False
    lead_marker: bool = False  # starts with a small raised footnote number
    sizes: Counter = field(default_factory=Counter)

    @property
    def text(self) -> str:
        return " ".join(" ".join(c[2].split()) for c in self.cells if c[2].strip())

    @property
    def bold(self) -> bool:
        return self.chars > 0 and self.bold_chars >= 0.8 * self.chars

    @property
    def main_size(self) -> float:
        return self.sizes.most_common(1)[0][0] if self.sizes else self.size


# ---------------------------------------------------------------------------- reading lines

def _mul(a, b):
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3], a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5])


def page_lines(page, number: int) -> list[_Line]:
    """The lines of one pypdf page in content order, each with its cells, font size and weight."""
    from pypdf.generic._font import Font

    fonts: dict[int, tuple] = {}
    lines: list[_Line] = []

    def font_info(font) -> tuple:
        key = id(font)
        if key not in fonts:
            name = str(font.get("/BaseFont", "")) if font is not None else ""
            try:
                widths = Font.from_font_resource(font).character_widths if font is not None else {}
            except Exception:  # noqa: BLE001 - a broken font only costs us exact widths
                widths = {}
            low = name.lower()
            fonts[key] = (widths, widths.get("default", 500) or 500,
                          any(w in low for w in ("bold", "black", "heavy", "semibold", ",b")),
                          any(w in low for w in ("wingding", "symbol", "dingbat")))
        return fonts[key]

    def visit(text, cm, tm, font, size):
        if not text:
            return
        m = _mul(tm, cm)
        if abs(m[1]) > 0.1 * abs(m[0]) + 1e-6:  # rotated text (a margin stamp): not reading text
            return
        eff = abs(size) * math.hypot(m[2], m[3])
        if eff < 1:
            return
        x, y = m[4], m[5]
        body = text.replace("\n", " ").replace("\x00", "")
        line = lines[-1] if lines else None
        if not body.strip():
            if line is not None and line.cells and abs(y - line.y) < 0.5 * max(eff, line.size):
                line.cells[-1][2] += " "
            return
        widths, default, bold, symbol = font_info(font)
        width = sum(widths.get(ch, default) for ch in body) * abs(size) * math.hypot(m[0], m[1]) / 1000
        stripped = body.strip()
        if line is not None and line.cells:
            small = eff < 0.8 * line.size
            # a small number raised just after a word is a footnote marker: furniture
            if small and _MARKER.match(stripped) and 0 < y - line.y < line.size and -2 < x - line.x1 < eff:
                return
            if abs(y - line.y) < 0.5 * min(eff, line.size) or (line.lead_marker and abs(y - line.y) < line.size):
                gap = x - line.x1
                last = line.cells[-1][2].strip()  # empty after a bullet glyph; "4." before an item
                if gap > max(2.0 * eff, 18) and last and not _LIST_MARK.match(last):
                    line.cells.append([x, x + width, body])
                else:
                    if gap > 0.2 * eff and not line.cells[-1][2].endswith(" ") and not body.startswith(" "):
                        line.cells[-1][2] += " "
                    line.cells[-1][2] += body
                    line.cells[-1][1] = max(line.cells[-1][1], x + width)
                _add(line, x, x + width, eff, stripped, bold)
                if line.lead_marker and eff > line.size:
                    line.y, line.size = y, eff
                return
        new = _Line(page=number, y=y, x0=x, x1=x + width, size=eff, cells=[[x, x + width, body]])
        new.bullet = len(stripped) == 1 and (symbol or stripped in _BULLET_CHARS or "\ue000" <= stripped <= "\uf8ff")
        if new.bullet:
            new.cells[0][2] = ""
        new.lead_marker = bool(_MARKER.match(stripped))
        _add(new, x, x + width, eff, stripped, bold)
        lines.append(new)

    page.extract_text(visitor_text=visit)
    out = [ln for ln in lines if ln.text.strip()]
    for ln in out:  # a line that began with a small number is a footnote's first line
        if ln.lead_marker and ln.sizes and min(ln.sizes) < 0.8 * ln.main_size and len(ln.cells[0][2].split()) > 1:
            first, rest = ln.cells[0][2].lstrip().split(None, 1)
            if _MARKER.match(first):
                ln.cells[0][2] = rest
        else:
            ln.lead_marker = False
    return out


def _add(line: _Line, x0: float, x1: float, size: float, text: str, bold: bool) -> None:
    n = len(text)
    line.x0, line.x1 = min(line.x0, x0), max(line.x1, x1)
    line.chars += n
    line.bold_chars += n if bold else 0
    line.sizes[round(size * 2) / 2] += n


# ---------------------------------------------------------------------------- furniture

def _norm(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def remove_furniture(pages: list[list[_Line]], heights: list[float]) -> list[list[_Line]]:
    """Drop running headers and footers, page numbers and contents-page lines."""
    with_text = [p for p in pages if p]
    counts: Counter = Counter()
    for lines in with_text:
        counts.update({_norm(ln.text) for ln in _edge_lines(lines)})
    need = max(2, math.ceil(0.3 * len(with_text)))
    repeated = {k for k, c in counts.items() if c >= need} if len(with_text) >= 2 else set()
    out = []
    for lines, height in zip(pages, heights):
        edge = {id(ln) for ln in _edge_lines(lines)}
        ends = {id(ln) for ln in _edge_lines(lines, 2)}
        keep = [ln for ln in lines
                if not (id(ln) in edge and _norm(ln.text) in repeated)
                and not (id(ln) in ends and _PAGE_NUMBER.match(ln.text.strip()) and _near_edge(ln, height))]
        out.append(_drop_contents(keep, len(pages)))
    return out


def _edge_lines(lines: list[_Line], n: int = 3) -> list[_Line]:
    by_y = sorted(lines, key=lambda ln: -ln.y)
    return by_y[:n] + by_y[-n:]


def _near_edge(line: _Line, height: float) -> bool:
    return line.y < 0.15 * height or line.y > 0.85 * height


def _drop_contents(lines: list[_Line], n_pages: int) -> list[_Line]:
    """A contents page: most lines end in a page number, rising. Its lines are furniture."""
    toc = []
    last = 0
    for ln in lines:
        m = _TOC_LINE.match(ln.text.strip())
        if m and last <= int(m.group("page")) <= n_pages and re.search(r"[A-Za-z]{3}", m.group("title")):
            toc.append(ln)
            last = int(m.group("page"))
    drop = {id(ln) for ln in toc}
    for k, ln in enumerate(lines[:-1]):  # an entry wrapped over two lines, its number on the second
        if id(lines[k + 1]) in drop and id(ln) not in drop and abs(ln.main_size - lines[k + 1].main_size) < 0.6:
            drop.add(id(ln))
    if len(toc) < 4 or len(drop) < 0.5 * len(lines):
        return lines
    first = min(k for k, ln in enumerate(lines) if id(ln) in drop)
    if first > 0 and len(lines[first - 1].text.split()) <= 2:  # its title, "Contents"
        drop.add(id(lines[first - 1]))
    return [ln for ln in lines if id(ln) not in drop]


def split_footnotes(lines: list[_Line], body_size: float) -> tuple[list[_Line], list[list[_Line]]]:
    """(body lines, footnotes): footnotes are the small-print lines at the page foot led by a marker."""
    if not lines:
        return lines, []
    by_y = sorted(lines, key=lambda ln: ln.y)
    tail = []
    for ln in by_y:  # from the bottom up, while the print is small
        if ln.main_size >= 0.92 * body_size or ln.bullet:
            break
        tail.append(ln)
    while tail and not _starts_note(tail[-1]):  # the topmost small line must start a footnote
        tail.pop()
    if not tail:
        return lines, []
    ids = {id(ln) for ln in tail}
    notes: list[list[_Line]] = []
    for ln in sorted(tail, key=lambda ln: -ln.y):
        if _starts_note(ln) or not notes:
            if not ln.lead_marker:  # "1 The review covered...": the number is the marker
                ln.cells[0][2] = ln.cells[0][2].lstrip().split(None, 1)[1]
            notes.append([ln])
        else:
            notes[-1].append(ln)
    return [ln for ln in lines if id(ln) not in ids], notes


def _starts_note(ln: _Line) -> bool:
    return ln.lead_marker or bool(re.match(r"^(?:\d{1,3}|[*†‡§])\s+\S", ln.cells[0][2].lstrip()))


# ---------------------------------------------------------------------------- blocks

@dataclass
class _Block:
    kind: str
    lines: list[str]
    page_of_line: list[int]
    joins: list[str] = field(default_factory=list)  # separator before each line after the first
    width: float = 0.0  # of its first line

    def add(self, text: str, page: int, join: str | None = None) -> None:
        prev = self.lines[-1]
        if join is not None:
            self.joins.append(join)
        elif re.search(r"[A-Za-z]-$", prev) and text[:1].isalpha():
            self.joins.append("")  # "long-" + "term": one word over a line end
        elif prev.endswith("\u00ad"):
            self.lines[-1] = prev[:-1]
            self.joins.append("")
        else:
            self.joins.append(" " if self.kind == HEADING else "\n")
        self.lines.append(text)
        self.page_of_line.append(page)

    def ends_open(self) -> bool:
        return self.kind in (PARAGRAPH, ITEM) and self.lines[-1].rstrip()[-1:] not in _TERMINAL + "”’\")"


def _is_heading_style(ln: _Line, body_size: float) -> bool:
    text = ln.text.strip()
    if not text or ln.bullet or len(text.split()) > 25 or DATE_RE.search(text):
        return False
    if text[-1] in ".,;" or not re.search(r"[A-Za-z]{2}", text):
        return False
    if ln.main_size >= 1.15 * body_size:
        return True
    return ln.bold and not _FIELD.match(text)


def _tables(lines: list[_Line]) -> dict[int, tuple[list[str], int]]:
    """The tables among ``lines``: {index of a table's first line: (["label: value", ...], index after it)}.

    A table shows itself by cells: lines split by a wide gap, or lines that start far to the
    right of the text's left edge. Cells of one column close above each other are one cell.
    """
    if len(lines) < 2:
        return {}
    left = Counter()
    for ln in lines:  # the text's left edge: where most of the page's characters start
        left[round(ln.x0)] += ln.chars
    left = left.most_common(1)[0][0]
    right_edge = max(ln.x1 for ln in lines)
    far = left + 0.25 * max(right_edge - left, 1)
    multi = [i for i, ln in enumerate(lines) if len(ln.cells) > 1 or (ln.x0 > far and len(ln.text.split()) <= 8)]
    if len(multi) < 2:
        return {}
    groups: list[list[int]] = [[multi[0]]]
    for i in multi[1:]:
        prev = lines[groups[-1][-1]]
        if abs(prev.y - lines[i].y) > 5 * prev.size or i - groups[-1][-1] > 6:
            groups.append([i])
        else:
            groups[-1].append(i)
    tables: dict[int, tuple[list[str], int]] = {}
    used: set[int] = set()
    for g in groups:
        if len(g) < 2:
            continue
        size = lines[g[0]].size
        top = max(lines[i].y for i in g) + 1.2 * size
        bottom = min(lines[i].y for i in g) - 1.2 * size
        lo = g[0]
        while lo - 1 >= 0 and lo - 1 not in used and bottom <= lines[lo - 1].y <= top and g[0] - lo < 4:
            lo -= 1
        hi = g[-1]
        while hi + 1 < len(lines) and bottom <= lines[hi + 1].y <= top and hi - g[-1] < 4:
            hi += 1
        members = list(range(lo, hi + 1))
        rows = _rows([lines[i] for i in members], far)
        if len(rows) >= 2 or (rows and all(lines[i].bold for i in members)):
            # one row of bold cells side by side is a heading with its grade beside it
            tables[lo] = (rows, hi + 1)
            used.update(members)
    return tables


def _rows(lines: list[_Line], far: float) -> list[str]:
    col = min([c[0] for ln in lines for c in ln.cells[1:]] + [ln.x0 for ln in lines if ln.x0 > far] or [far])
    cells = [(ln.y, c[0], " ".join(c[2].split()), ln.size, ln.bold) for ln in lines for c in ln.cells if c[2].strip()]
    label = sorted((c for c in cells if c[1] < col - 2), key=lambda c: -c[0])
    value = sorted((c for c in cells if c[1] >= col - 2), key=lambda c: -c[0])

    def stack(cs):  # cells of one column close above each other are one cell
        out = []
        for c in cs:
            if out and out[-1][-1][0] - c[0] <= 1.6 * c[3] and abs(out[-1][-1][1] - c[1]) < 3 * c[3]:
                out[-1].append(c)
            else:
                out.append([c])
        return out

    labels = [[b, []] for b in stack(label)]
    for v in stack(value):
        vtop, vbot = v[0][0], v[-1][0]
        best, overlap = None, -1e9
        for entry in labels:
            ltop, lbot = entry[0][0][0], entry[0][-1][0]
            ov = min(ltop, vtop) - max(lbot, vbot)
            if ov > overlap:
                best, overlap = entry, ov
        if best is not None and overlap > -1.2 * v[0][3]:
            best[1].append(v)
        else:
            labels.append([[], [v]])
    rows = []
    ordered = sorted(labels, key=lambda e: -(e[0][0][0] if e[0] else e[1][0][0][0]))
    one_column = bool(value) and max(c[1] for c in value) - min(c[1] for c in value) < 3 * value[0][3]
    if len(ordered) > 2 and one_column and _bold_cells(ordered[0]) \
            and not any(_bold_cells(e) for e in ordered[1:]):
        ordered = ordered[1:]  # the column titles ("Judgement", "Grade") of a label: value table
    for block, values in ordered:
        name = _join_words([c[2] for c in block])
        vals = "; ".join(_join_words([c[2] for c in v]) for v in sorted(values, key=lambda v: v[0][1]))
        rows.append(f"{name}: {vals}" if name and vals else name or vals)
    return [r for r in rows if r]


def _bold_cells(entry) -> bool:
    block, values = entry
    cells = list(block) + [c for v in values for c in v]
    return bool(cells) and all(c[4] for c in cells)


def _join_words(parts: list[str]) -> str:
    out = ""
    for p in parts:
        if re.search(r"[A-Za-z]-$", out) and p[:1].isalpha():
            out += p
        else:
            out = f"{out} {p}" if out else p
    return out


def page_blocks(lines: list[_Line], body_size: float, styled: bool = True) -> list[_Block]:
    """Blocks of one page's body lines, in order. ``styled``: the document marks its headings
    by size or weight (else a short line standing alone is taken for one)."""
    tables = _tables(lines)
    blocks: list[_Block] = []
    prev: _Line | None = None
    head_top = 0.0
    i = 0
    while i < len(lines):
        if i in tables:
            rows, i_next = tables[i]
            blocks += [_Block(ROW if len(rows) > 1 else HEADING, [r], [lines[i].page]) for r in rows]
            i = i_next
            prev = None
            continue
        ln = lines[i]
        text = ln.text.strip()
        cur = blocks[-1] if blocks else None
        gap = (prev.y - ln.y) if prev is not None else None
        close = gap is not None and 0 < gap <= 1.75 * max(ln.size, prev.size)
        if cur is not None and cur.kind == PARAGRAPH and close and _FIELD.match(cur.lines[-1]) \
                and ln.x0 > prev.x0 + 2 * ln.size:  # "Lead inspector: Jo Bloggs" / "   His Majesty's Inspector"
            cur.add(text, ln.page)
        elif cur is not None and cur.kind == HEADING and prev is not None and _is_heading_style(ln, body_size) \
                and prev.y < ln.y <= head_top + 0.5 * ln.size and ln.x0 > prev.x1 and len(text.split()) <= 6:
            cur.add(text, ln.page, join=": ")  # a grade printed beside its heading
        elif cur is not None and close and abs(prev.main_size - ln.main_size) < 0.6 and prev.bold == ln.bold \
                and not ln.bullet and ((cur.kind == HEADING and not DATE_RE.search(text) and not _FIELD.match(text))
                                       or (cur.kind in (PARAGRAPH, ITEM) and not _starts_new(cur, ln, prev))):
            cur.add(text, ln.page)  # a line in the style of the line above, close under it, goes on with it
        elif _is_heading_style(ln, body_size):
            if cur is not None and cur.kind == HEADING and close and not text[:1].isupper():
                cur.add(text, ln.page)
            else:
                blocks.append(_Block(HEADING, [text], [ln.page]))
                head_top = ln.y
        elif ln.bullet:
            blocks.append(_Block(ITEM, [text], [ln.page]))
        elif cur is not None and cur.kind in (PARAGRAPH, ITEM) and close and not _starts_new(cur, ln, prev):
            cur.add(text, ln.page)
        else:
            blocks.append(_Block(PARAGRAPH, [text], [ln.page], width=ln.x1 - ln.x0))
        prev = ln
        i += 1
    for b in blocks:  # larger print running on for sentences is a paragraph, not a heading
        if b.kind == HEADING and (len(" ".join(b.lines).split()) > 30 or b.lines[-1].rstrip()[-1:] in ".!"
                                  or re.search(r"[a-z][.!] [A-Z]", " ".join(b.lines))):
            b.kind, b.joins = PARAGRAPH, ["\n" if j == " " else j for j in b.joins]
    # in print of one size and weight, a heading shows only by standing alone: a short line
    # between blocks, capitalised, without closing punctuation
    full = max((ln.x1 - ln.x0 for ln in lines), default=0)
    for b in blocks[:-1] if not styled else []:
        if b.kind == PARAGRAPH and len(b.lines) == 1 and b.width <= 0.6 * full and _plain_heading(b.lines[0]):
            b.kind = HEADING
    return blocks


def _plain_heading(text: str) -> bool:
    words = text.split()
    return (0 < len(words) <= 12 and text[:1].isupper() and text[-1] not in _TERMINAL + ",”’\")"
            and not DATE_RE.search(text) and not _FIELD.match(text) and re.search(r"[A-Za-z]{3}", text) is not None)


def _starts_new(cur: _Block, ln: _Line, prev: _Line) -> bool:
    """A numbered paragraph, a change of print size, a new "Label: value" line or an outdented
    line after a finished sentence starts a new block."""
    if abs(ln.main_size - prev.main_size) > 1 or (_FIELD.match(ln.text) and _FIELD.match(cur.lines[-1])):
        return True
    ended = cur.lines[-1].rstrip()[-1:] in _TERMINAL + "”’\")"
    if cur.kind == ITEM:
        return ln.x0 < prev.x0 - 3 and ended or re.match(r"^\(?\d{1,3}[.)]\s", ln.text) is not None
    if ended and re.match(r"^\(?\d{1,3}(?:\.\d+)*[.)]?\s+\S", ln.text) and ln.x0 <= prev.x0 + 1:
        return True
    return ended and ln.x0 < prev.x0 - 3 and prev.x0 - ln.x0 > 0.5 * ln.size and len(cur.lines) > 1


# ---------------------------------------------------------------------------- the document

def read_layout(pages) -> tuple[str, tuple[int, ...], tuple[Block, ...]]:
    """(text, page starts, blocks) of pypdf ``pages`` read in reading order without furniture."""
    lines = [page_lines(p, n) for n, p in enumerate(pages, 1)]
    heights = [float(p.mediabox.height) for p in pages]
    sizes: Counter = Counter()
    for page in lines:
        for ln in page:
            sizes.update(ln.sizes)
    body = sizes.most_common(1)[0][0] if sizes else 12.0
    lines = remove_furniture(lines, heights)
    styled = any(_is_heading_style(ln, body) for page in lines for ln in page)
    per_page: list[tuple[list[_Block], list[_Block]]] = []
    for n, page in enumerate(lines, 1):
        body_lines, notes = split_footnotes(page, body)
        foot = [_footnote_block(note, n) for note in notes]
        per_page.append((page_blocks(body_lines, body, styled), foot))
    return _assemble(per_page, len(pages))


def _footnote_block(note: list[_Line], page: int) -> _Block:
    b = _Block(FOOTNOTE, [note[0].text.strip()], [page])
    for ln in note[1:]:
        b.add(ln.text.strip(), page)
    return b


def _assemble(per_page, n_pages: int) -> tuple[str, tuple[int, ...], tuple[Block, ...]]:
    ordered: list[_Block] = []
    for body, foot in per_page:
        if body and ordered and body[0].kind == PARAGRAPH:
            last = next((k for k in range(len(ordered) - 1, -1, -1) if ordered[k].kind != FOOTNOTE), None)
            if last is not None and ordered[last].ends_open():
                carried = ordered.pop(last)  # the previous page's footnotes stay before it
                for text, page in zip(body[0].lines, body[0].page_of_line):
                    carried.add(text, page)
                ordered.append(carried)
                body = body[1:]
        ordered += body + foot
    parts: list[str] = []
    pos = 0
    starts: dict[int, int] = {}
    blocks: list[Block] = []
    for b in ordered:
        if parts:
            parts.append("\n\n")
            pos += 2
        begin = pos
        for k, (text, page) in enumerate(zip(b.lines, b.page_of_line)):
            if k:
                parts.append(b.joins[k - 1])
                pos += len(b.joins[k - 1])
            starts.setdefault(page, pos)
            parts.append(text)
            pos += len(text)
        blocks.append(Block(b.kind, begin, pos))
    page_starts, nxt = [], pos
    for page in range(n_pages, 0, -1):  # a page without text starts where the next one does
        nxt = starts.get(page, nxt)
        page_starts.append(nxt)
    page_starts = page_starts[::-1]
    page_starts[0] = 0
    for k in range(1, len(page_starts)):
        page_starts[k] = max(page_starts[k], page_starts[k - 1])
    return "".join(parts), tuple(page_starts), tuple(blocks)
