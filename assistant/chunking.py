"""Cutting a letter into quotable sentences and embeddable passages.

Passages follow the letter's structure: they never cross a section heading, they are made
of whole paragraphs where those fit and of whole sentences where they do not, and none
is longer than the embedding model can read. Every sentence is a character span of the
letter's text, so a quote can always be checked against the letter.

A PDF comes with its blocks (``layout``): its headings, table rows (one quotable unit each),
list items and footnotes (a passage of their own) are taken as read; a text letter's structure
is read from its blank lines and short lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .config import ChunkSettings
from .layout import FOOTNOTE, HEADING, ITEM, ROW, Block
from .metadata import DATE_RE, evidence_bounds, sign_off_span

Span = tuple[int, int]

_PARA_BREAK = re.compile(r"\n[ \t\f]*\n\s*|\s*\f\s*")
_TAG = re.compile(r"<[^>]{0,400}>")
_TAG_TEXT = re.compile(r"(?:^|>)([^<>]+)(?=<|$)")
_BULLET = re.compile(r"^[ \t]*(?:[-•*▪◦·]|\(?[a-z0-9]{1,3}\)|\d+(?:\.\d+)*\.?)(?:[ \t]+)(?=\S)")
_CONTACT = re.compile(
    r"@[\w-]+\.|www\.|https?://|\b(?:Tel|Telephone|Textphone|Fax|Email|E-mail)\b|\b0\d{3,4}[ ]?\d{3}[ ]?\d{3,4}\b",
    re.IGNORECASE,
)
_ABBREV = {"e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "no", "cllr", "prof", "etc", "vs", "cf", "para", "approx", "ref"}
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_TERMINAL = ".!?:;"


@dataclass(frozen=True)
class Chunk:
    """One passage of a letter: whole sentences of one section, with their spans."""

    section: str | None
    sentences: tuple[Span, ...]

    @property
    def start(self) -> int:
        return self.sentences[0][0]

    @property
    def end(self) -> int:
        return self.sentences[-1][1]

    def to_dict(self) -> dict:
        return {"section": self.section, "sentences": [list(s) for s in self.sentences]}

    @classmethod
    def from_dict(cls, d: dict) -> "Chunk":
        return cls(section=d["section"], sentences=tuple(tuple(s) for s in d["sentences"]))


def clean(text: str) -> str:
    """A span's text as shown in a quote: whitespace folded, nothing else changed."""
    return " ".join(text.split())


def embed_text(text: str, chunk: Chunk) -> tuple[str, list[Span]]:
    """The string the embedder reads for ``chunk``, and each sentence's span inside it.

    The section heading leads, so a passage under "What needs to improve" says so.
    """
    out = f"{chunk.section}: " if chunk.section else ""
    spans = []
    for s, e in chunk.sentences:
        piece = clean(text[s:e])
        spans.append((len(out), len(out) + len(piece)))
        out += piece + " "
    return out.rstrip(), spans


def embed_texts(records) -> tuple[list[str], list[list[Span]]]:
    """``embed_text`` for every passage of ``records`` (letters, in order): the strings the
    embedder reads and each one's sentence spans."""
    texts, spans = [], []
    for r in records:
        for c in r.chunks:
            t, sp = embed_text(r.text, c)
            texts.append(t)
            spans.append(sp)
    return texts, spans


def chunk_letter(
    text: str,
    count_tokens: Callable[[Sequence[str]], list[int]],
    settings: ChunkSettings = ChunkSettings(),
    *,
    bounds: Span | None = None,
    layout: Sequence[Block] = (),
) -> list[Chunk]:
    """Cut ``text`` into passages. ``count_tokens`` is the embedder's own tokenizer count.

    ``layout`` is a PDF's blocks (``Document.blocks``): its headings, rows, items and footnotes
    are taken as they are; without it the structure is read from the text itself.
    """
    start, end = bounds if bounds is not None else evidence_bounds(text)
    signature = sign_off_span(text, start, end)
    # (section, sentences of one paragraph, a passage of its own)
    blocks: list[tuple[str | None, list[Span], bool]] = []
    section = None
    for kind, ps, pe in _layout_blocks(layout, start, end) if layout else _text_blocks(text, start, end):
        if signature and signature[0] <= ps < signature[1]:
            continue
        if kind == HEADING:
            section = _heading_text(text[ps:pe])
            continue
        if kind == ROW:
            units = [_strip(text, ps, pe)]
        elif kind in (ITEM, FOOTNOTE, "paragraph"):
            units = _sentences(text, ps, pe)
        else:
            units = _units(text, ps, pe)
        units = [u for u in units if _is_evidence(text[u[0]:u[1]])]
        if units:
            blocks.append((section, units, kind == FOOTNOTE))
    if not blocks:
        return []
    flat = [u for _, units, _ in blocks for u in units]
    sections = sorted({s for s, _, _ in blocks if s})
    counts = dict(zip(flat, count_tokens([clean(text[s:e]) for s, e in flat])))
    heading_tokens = dict(zip(sections, count_tokens([f"{s}:" for s in sections]))) if sections else {}
    limit = settings.max_tokens
    chunks: list[Chunk] = []
    pending: list[Span] = []
    pending_tokens, pending_section = 0, None

    def flush() -> None:
        nonlocal pending, pending_tokens
        if pending:
            chunks.append(Chunk(pending_section, tuple(pending)))
        pending, pending_tokens = [], 0

    for section, units, alone in blocks:
        overhead = heading_tokens.get(section, 0) + 2  # [CLS] and [SEP]
        units = _fit(text, units, counts, limit - overhead, count_tokens)
        para_tokens = sum(counts[u] for u in units)
        budget = min(settings.target_tokens, limit) - overhead
        if alone:  # a footnote is a passage of its own, never glued to the text around it
            flush()
            pending_section = None
            for group in _balanced_groups(units, counts, budget):
                chunks.append(Chunk(section, tuple(group)))
            continue
        if section != pending_section:
            flush()
            pending_section = section
        if pending and (pending_tokens >= settings.min_tokens or pending_tokens + para_tokens > budget):
            flush()
        if para_tokens <= budget:
            pending += units
            pending_tokens += para_tokens
            continue
        flush()
        for group in _balanced_groups(units, counts, budget):
            chunks.append(Chunk(section, tuple(group)))
    flush()
    return chunks


def _layout_blocks(layout: Sequence[Block], start: int, end: int) -> list[tuple[str, int, int]]:
    """A PDF's blocks inside ``start``..``end`` (clipped to it)."""
    out = []
    for b in layout:
        s, e = max(b.start, start), min(b.end, end)
        if e > s:
            out.append((b.kind, s, e))
    return out


def _text_blocks(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """A text letter's paragraphs, each a heading or a paragraph read line by line."""
    return [(HEADING if _is_heading(text[s:e]) else "text", s, e) for s, e in _paragraphs(text, start, end)]


def _paragraphs(text: str, start: int, end: int) -> list[Span]:
    spans, pos = [], start
    for m in _PARA_BREAK.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    spans = [_strip(text, s, e) for s, e in spans]
    spans = [piece for s, e in spans if e > s for piece in _split_heading_lines(text, s, e)]
    merged: list[Span] = []
    for s, e in spans:  # a sentence cut by a page break continues in lower case
        prev = merged[-1] if merged else None
        if prev and text[prev[1] - 1] not in _TERMINAL and text[s].islower() \
                and not _is_heading(text[prev[0]:prev[1]]):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _split_heading_lines(text: str, start: int, end: int) -> list[Span]:
    """PDF text often has no blank line around a heading: find heading lines inside a block.

    A line counts when it reads as a heading, follows the end of a sentence (or starts the
    block), is followed by a capitalised line, and is clearly shorter than the block's
    full lines (so the first line of a wrapped paragraph is not taken for one).
    """
    lines = [(m.start() + start, m.end() + start) for m in re.finditer(r"[^\n]+", text[start:end])]
    if len(lines) < 2:
        return [(start, end)]
    width = max(e - s for s, e in lines)
    cuts: list[Span] = []
    pos = start
    for i, (s, e) in enumerate(lines):
        line = text[s:e].strip()
        prev_end = text[lines[i - 1][1] - 1] if i else "."
        nxt = text[lines[i + 1][0]:lines[i + 1][1]].lstrip() if i + 1 < len(lines) else ""
        if (prev_end in _TERMINAL and nxt[:1].isupper() and len(line) <= 0.6 * width
                and "\t" not in line and _is_heading(line)):
            if s > pos:
                cuts.append(_strip(text, pos, s))
            cuts.append(_strip(text, s, e))
            pos = e
    if pos < end:
        cuts.append(_strip(text, pos, end))
    return [c for c in cuts if c[1] > c[0]]


def _strip(text: str, s: int, e: int) -> Span:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _is_heading(para: str) -> bool:
    if "\n" in para.strip() or "\t" in para or "<" in para:
        return False
    plain = para.strip().strip("*#_ ").strip()
    words = plain.split()
    if not words or len(plain) > 120 or DATE_RE.fullmatch(plain) or _CONTACT.search(plain):
        return False
    if plain[-1] in ".,;!?" or ". " in plain or (plain.endswith(":") and len(words) > 6):
        return False
    numbered = re.match(r"^\d+(?:\.\d+)*\s+\S", plain)
    if numbered:  # "3.4.1 **The experiences of children ... - Good**" is a heading in bold
        return len(words) <= (20 if "**" in para else 12)
    return len(words) <= 14 and plain[0].isupper() and not _BULLET.match(para)


def _heading_text(para: str) -> str:
    return clean(para.replace("*", "").replace("#", "")).strip(" :")


def _units(text: str, start: int, end: int) -> list[Span]:
    """Sentences (or table rows, list items, table cells) of one paragraph."""
    para = text[start:end]
    lines = [(m.start() + start, m.end() + start) for m in re.finditer(r"[^\n]+", para)]
    structured = len(lines) > 1 and any(
        "\t" in text[s:e] or _BULLET.match(text[s:e]) or _TAG.search(text[s:e]) for s, e in lines
    )
    if "\t" in para or _TAG.search(para):
        structured = True
    if not structured:
        bullet = _BULLET.match(para)
        if bullet and not para.lstrip()[:1].isdigit():
            start += bullet.end()
        return _sentences(text, start, end)
    blocks: list[Span] = []
    for s, e in lines:
        line = text[s:e]
        cont = blocks and not _BULLET.match(line) and "\t" not in line and not _TAG.search(line) \
            and line.lstrip()[:1].islower() and text[blocks[-1][1] - 1] not in _TERMINAL
        if cont:
            blocks[-1] = (blocks[-1][0], e)
        else:
            blocks.append((s, e))
    units: list[Span] = []
    for s, e in blocks:
        line = text[s:e]
        if _TAG.search(line):
            for m in _TAG_TEXT.finditer(line):
                us, ue = _strip(text, s + m.start(1), s + m.end(1))
                if ue - us >= 3 and re.search(r"[A-Za-z]{2}", text[us:ue]):
                    units.append((us, ue))
        elif "\t" in line:
            units.append(_strip(text, s, e))
        else:
            bullet = _BULLET.match(line)
            if bullet and not re.match(r"\s*\d", line):  # keep "3.1" numbering, drop "-" or "•"
                s += bullet.end()
            units += _sentences(text, s, e)
    return [u for u in units if u[1] > u[0]]


def _sentences(text: str, start: int, end: int) -> list[Span]:
    spans, pos = [], start
    for m in _END.finditer(text, start, end):
        if text[m.start()] == ".":
            word = re.search(r"([\w.]+)$", text[pos:m.start()])
            w = word.group(1).lower() if word else ""
            if w in _ABBREV or (len(w) == 1 and w.isalpha()):
                continue
        spans.append(_strip(text, pos, m.end()))
        pos = m.end()
    spans.append(_strip(text, pos, end))
    return [s for s in spans if s[1] > s[0]]


def _is_evidence(unit: str) -> bool:
    plain = unit.strip()
    return bool(re.search(r"[A-Za-z]{2}", plain)) and not _CONTACT.search(plain) and not DATE_RE.fullmatch(plain)


def _fit(text, units, counts, limit, count_tokens) -> list[Span]:
    """Split any sentence longer than ``limit`` tokens at word boundaries (never truncate)."""
    out = []
    for u in units:
        if counts[u] <= limit:
            out.append(u)
            continue
        words = [(m.start() + u[0], m.end() + u[0]) for m in re.finditer(r"\S+", text[u[0]:u[1]])]
        # one batch call: each word's own tokens (without the two special tokens)
        sizes = [max(1, c - 2) for c in count_tokens([text[s:e] for s, e in words])]
        pieces: list[list[Span]] = [[]]
        used = 2
        for w, size in zip(words, sizes):
            if pieces[-1] and used + size > limit:
                pieces.append([])
                used = 2
            pieces[-1].append(w)
            used += size
        for piece in pieces:
            span = (piece[0][0], piece[-1][1])
            counts[span] = count_tokens([clean(text[span[0]:span[1]])])[0]
            if counts[span] > limit:  # a tokenizer whose words interact: halve until it fits
                half = len(piece) // 2
                for sub in (piece[:half], piece[half:]):
                    sub_span = (sub[0][0], sub[-1][1])
                    counts[sub_span] = count_tokens([clean(text[sub_span[0]:sub_span[1]])])[0]
                    out.append(sub_span)
            else:
                out.append(span)
    return out


def _balanced_groups(units: list[Span], counts: dict, budget: int) -> list[list[Span]]:
    """Consecutive sentences in groups of roughly equal size, each within ``budget`` tokens."""
    total = sum(counts[u] for u in units)
    n = max(1, -(-total // budget))
    goal = total / n
    groups: list[list[Span]] = [[]]
    size = 0
    for u in units:
        c = counts[u]
        if groups[-1] and (size + c > budget or size + c / 2 > goal):
            groups.append([])
            size = 0
        groups[-1].append(u)
        size += c
    return groups
