"""The web chat: ask in the browser, click a citation to see it in its letter (or on the
original page), manage the letters, download answers.

Only wiring and presentation live here; every answer comes from ``Assistant``.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from . import corrections
from .answer import NOT_CLEARLY, Answer, Citation, escape_md, human_date, letter_name, source_name
from .engine import Assistant
from .errors import AssistantError, QuestionError
from .compare import THEMES
from .facts import AREA_LABELS, FRAMEWORKS
from .letters import SUFFIXES, page_at
from .metadata import KINDS
from .question import Query, follow_up

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which authorities had weak contingency planning?",
    "What did inspectors say about Dudley's assessments?",
    "How long was the CAMHS waiting list in Wirral?",
    "Where were audits failing to improve social work practice?",
]
MAX_UPLOAD_MB = 50
#: How often an open page checks whether the index changed (a letter dropped in the folder).
REFRESH_SECONDS = 3
HISTORY_KEY = "inspection-letters-chat"

#: The Letters tab's columns: (header, value from a manifest entry). Another column (a grade,
#: the framework) is one more line here, read from the letter's facts.
COLUMNS = [
    ("authority", lambda e: e["meta"].get("authority") or "(not recognised)"),
    ("date", lambda e: e["meta"].get("date") or ""),
    ("kind", lambda e: ", ".join(b for b in (e["meta"].get("kind"), e["meta"].get("framework")) if b)),
    ("visit", lambda e: " to ".join(dict.fromkeys(human_date(d) for d in e["meta"].get("visit_dates") or []))),
    ("lead inspector", lambda e: (e["meta"].get("inspectors") or [""])[0]),
    ("grades", lambda e: "; ".join(f"{AREA_LABELS.get(a, a)}: {g}"
                                   for a, g in (e["meta"].get("judgements") or {}).items())),
    ("pages", lambda e: e.get("pages") or ""),
    ("passages", lambda e: e["passages"]),
    ("corrected", lambda e: ", ".join(e["meta"].get("corrected") or [])),
    ("file", lambda e: e["path"]),
]
LETTER_COLUMNS = [h for h, _ in COLUMNS] + ["status"]

CSS = """
#letter-view { max-height: 70vh; overflow-y: auto; white-space: pre-wrap; font-family: Georgia, serif;
               line-height: 1.5; padding: 0.8em; border: 1px solid #ddd; border-radius: 6px; }
#letter-view mark { background: #ffe066; padding: 0 2px; }
#letter-view mark.current { background: #ffb703; outline: 2px solid #fb8500; }
#letter-view .page { color: #888; font-size: 0.8em; display: block; margin: 0.8em 0 0.2em; }
#page-view img { width: 100%; height: auto; border: 1px solid #ddd; }
#chat a[href^="#q="] { font-weight: 600; text-decoration: none; padding: 0 1px; }
#compare-table th, #compare-table td { word-break: normal; overflow-wrap: normal; hyphens: auto; }
#compare-table td:last-child { min-width: 45%; }
.offscreen { position: absolute !important; left: -10000px !important; width: 1px; height: 1px; overflow: hidden; }
#t-letter-view { max-height: 70vh; overflow-y: auto; white-space: pre-wrap; font-family: Georgia, serif;
                 line-height: 1.5; padding: 0.8em; border: 1px solid #ddd; border-radius: 6px; }
#t-letter-view mark { background: #ffe066; padding: 0 2px; }
#t-letter-view mark.current { background: #ffb703; outline: 2px solid #fb8500; }
#t-letter-view .page { color: #888; font-size: 0.8em; display: block; margin: 0.8em 0 0.2em; }
#t-text a[href^="#q="] { font-weight: 600; text-decoration: none; padding: 0 1px; }
"""
#: Citation links (#q=<letter id>:<start>:<end>) open the quote in the viewer instead of navigating.
JS = """
() => {
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href*="#q="]');
    if (!a) return;
    ev.preventDefault(); ev.stopPropagation();
    const pre = a.closest('#compare-table') ? 'cmp-' : a.closest('#history-tab') ? 't-' : '';  // each view has its own viewer
    const box = document.querySelector('#' + pre + 'cite-target textarea, #' + pre + 'cite-target input');
    if (!box) return;
    box.value = a.getAttribute('href').split('#q=')[1];
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => document.querySelector('#' + pre + 'cite-open').click(), 60);
  }, true);
}
"""
SCROLL_TO_QUOTE = "() => { setTimeout(() => { const m = document.querySelector('#letter-view mark.current'); " \
                  "if (m) { m.scrollIntoView({block: 'center'}); } }, 100); }"
#: The date boxes as typed: the date picker drops text it cannot read ("June 2019"), which would
#: leave the filter silently off; the raw text goes to the server, which says what is wrong.
RAW_DATES = """(...args) => {
  const raw = (id) => { const el = document.querySelector('#' + id + ' input'); return el ? el.value : null; };
  args[SINCE] = raw('f-since'); args[UNTIL] = raw('f-until');
  return args;
}"""
#: A new answer is shown from its start, not scrolled to its end.
SCROLL_TO_ANSWER = """() => { setTimeout(() => {
  const bots = document.querySelectorAll('#chat .message-row.bot-row, #chat .bot-row, #chat [data-testid="bot"]');
  const last = bots[bots.length - 1];
  if (last) { last.scrollIntoView({block: 'start'}); }
}, 150); }"""


# ------------------------------------------------------------------ answers
def cite_target(c: Citation, letters: list[dict]) -> str:
    """The link target of a citation: the letter's index id and the quote's span."""
    sha = next((e["sha256"] for e in letters if e["path"] == c.letter or c.letter in e.get("aliases", [])), "")
    return f"{sha}:{c.start}:{c.end}"


def render_answer(ans: Answer, letters: list[dict] | None = None) -> str:
    """The chat message: the answer with each [n] a link to its quote in the letter, then what
    each number stands for (by name; the quotes are in the answer already)."""
    letters = letters or []
    targets = {c.n: cite_target(c, letters) for c in ans.citations}

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        return f"[\\[{n}\\]](#q={targets[n]})" if n in targets else m.group(0)

    parts = [re.sub(r"(?<!\\)\[(\d+)\]", link, ans.answer)]
    if ans.citations:
        parts.append("\n**Sources** · click a number to open the letter at the quote\n")
        for c in ans.citations:
            parts.append(f"- [\\[{c.n}\\]](#q={targets[c.n]}) {escape_md(source_name(c))}")
    if ans.nearby:
        parts.append(f"\n**{NOT_CLEARLY}:**\n")
        for c in ans.nearby:
            parts.append(f"- “{escape_md(c.quote)}” [(open)](#q={cite_target(c, letters)}) — "
                         f"{escape_md(source_name(c))}")
    return "\n".join(parts)


def letter_html(text: str, spans: list[tuple[int, int]], current: tuple[int, int] | None, page_starts) -> str:
    """The letter as escaped text, quoted spans marked, page numbers shown (for PDFs)."""
    marks = sorted(set(spans))
    breaks = [p for p in page_starts[1:]] if page_starts else []
    events = sorted([(s, "open", i) for i, (s, e) in enumerate(marks)] + [(e, "close", i) for i, (s, e) in enumerate(marks)]
                    + [(b, "page", n + 2) for n, b in enumerate(breaks)], key=lambda x: (x[0], x[1] != "close"))
    out, pos = [], 0
    for at, what, i in events:
        out.append(html.escape(text[pos:at]))
        pos = at
        if what == "open":
            cls = ' class="current"' if current is not None and marks[i] == current else ""
            out.append(f"<mark{cls}>")
        elif what == "close":
            out.append("</mark>")
        else:
            out.append(f'<span class="page">page {i}</span>')
    out.append(html.escape(text[pos:]))
    if page_starts:
        out.insert(0, '<span class="page">page 1</span>')
    return "".join(out).replace("\f", "")


_TARGET = re.compile(r"^([0-9a-f]{64}):(\d{1,9}):(\d{1,9})$")


def open_quote(assistant: Assistant, target: str) -> tuple[dict | None, str]:
    """The viewer for a citation link: (view state, letter-text HTML). Only indexed letters,
    by index id; anything else gets a short message."""
    m = _TARGET.match((target or "").strip())
    snap = assistant.snapshot
    number = None
    if m and snap is not None:
        number = next((i for i, e in enumerate(snap.letters) if e["sha256"] == m.group(1)), None)
    if number is None:
        return None, "<p>That letter is no longer indexed.</p>"
    entry, rec = snap.letters[number], snap.record(number)
    start, end = int(m.group(2)), int(m.group(3))
    if not 0 <= start < end <= len(rec.text):
        return None, "<p>That quote is not in the letter any more.</p>"
    page = page_at(rec.page_starts, start)
    head = html.escape(letter_name(entry["meta"]) + (f" · p. {page}" if page else ""))
    view = {"id": entry["sha256"], "page": page, "pages": entry.get("pages") or 0,
            "quote": rec.text[start:end], "pdf": entry["path"].lower().endswith(".pdf"), "title": head}
    body = letter_html(rec.text, [(start, end)], (start, end), rec.page_starts)
    return view, (f"<h4 id='letter-head'>{head}</h4><p><small>{html.escape(entry['path'])}</small></p>"
                  f"<div id='letter-view'>{body}</div>")


def page_html(assistant: Assistant, corpus: Path, view: dict | None) -> str:
    """The original page for the viewer: an image of the PDF page with the quote marked."""
    from .pages import PageError, letter_file, render_page

    if not view:
        return "<p>Click a citation number to see its page.</p>"
    if not view.get("pdf") or not view.get("page"):
        return "<p>This letter is a text file: there is no original page to show.</p>"
    try:
        path = letter_file(assistant.letters(), corpus, view["id"])
        image = render_page(path, int(view["page"]), view.get("quote"))
    except PageError as exc:
        return f"<p>{html.escape(str(exc))}</p>"
    data = base64.b64encode(image.png).decode()
    note = "the quote is marked" if image.marks else "the quote is on another page"
    return (f"<p id='page-caption'>{view['title']} · page {view['page']} of {view['pages']} · {note}</p>"
            f"<img id='page-image' alt='page {view['page']}' src='data:image/png;base64,{data}'>")


def _answer_files(ans: Answer) -> tuple[str, str]:
    folder = Path(tempfile.mkdtemp(prefix="answer-"))
    (folder / "answer.md").write_text(ans.to_markdown(), encoding="utf-8")
    (folder / "answer.csv").write_text(ans.to_csv(), encoding="utf-8")
    return str(folder / "answer.md"), str(folder / "answer.csv")


def _saved_files(md: str, csv: str) -> tuple[str, str]:
    folder = Path(tempfile.mkdtemp(prefix="answer-"))
    (folder / "answer.md").write_text(md, encoding="utf-8")
    (folder / "answer.csv").write_text(csv, encoding="utf-8")
    return str(folder / "answer.md"), str(folder / "answer.csv")


def compare_view(assistant: Assistant, authorities, theme, since, until) -> tuple[str, dict | None]:
    """The Compare tab: (Markdown table with each [n] a link to its quote, the JSON shown)."""
    from . import compare

    try:
        result = assistant.compare(list(authorities or []), theme or "", since=since or None, until=until or None)
    except AssistantError as exc:
        return f"**Cannot compare:** {escape_md(str(exc))}", None
    letters = assistant.letters()

    def link(c: dict) -> str:
        return cite_target(Citation(**c), letters)

    return f"**{escape_md(compare.compare_title(result))}**\n\n" + compare.to_markdown(result, link), result


def _compare_files(result: dict) -> tuple[str, str]:
    from . import compare

    folder = Path(tempfile.mkdtemp(prefix="compare-"))
    (folder / "compare.md").write_text(compare.to_document(result), encoding="utf-8")
    (folder / "compare.csv").write_text(compare.to_csv(result), encoding="utf-8")
    return str(folder / "compare.md"), str(folder / "compare.csv")


# ------------------------------------------------------------------ letters
def safe_name(name: str) -> str:
    """A file name that stays inside the corpus folder: no folders, no hidden files, plain characters."""
    base = Path(name.replace("\\", "/")).name.strip()
    if base.startswith("."):
        raise ValueError(f"{name!r}: hidden files are not accepted")
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    if not base:
        raise ValueError(f"{name!r} is not a usable file name")
    return base


def save_upload(src: Path, corpus: Path, max_mb: int = MAX_UPLOAD_MB) -> tuple[str, str]:
    """Copy one uploaded file into the corpus. Returns (name, what happened)."""
    name = safe_name(src.name)
    if Path(name).suffix.lower() not in SUFFIXES:
        return name, "refused: only .pdf and .txt letters are accepted"
    size = src.stat().st_size
    if size > max_mb * 1024 * 1024:
        return name, f"refused: {size / 1e6:.0f} MB is over the {max_mb} MB limit"
    dest = corpus / name
    taken = os.path.lexists  # a link counts as taken, even a broken one: never written through
    if taken(dest):
        if not dest.is_symlink() and dest.is_file() and dest.read_bytes() == src.read_bytes():
            return name, "already in the corpus"
        stem, suffix = dest.stem, dest.suffix
        n = 2
        while taken(corpus / f"{stem}-{n}{suffix}"):
            n += 1
        dest = corpus / f"{stem}-{n}{suffix}"
    corpus.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as inp, open(dest, "xb") as out:  # "x": fails rather than follow a link made meanwhile
        shutil.copyfileobj(inp, out)
    return dest.name, "saved"


def letters_table(assistant: Assistant) -> list[list]:
    """One row per indexed letter (by authority, then date), then the files that failed."""
    entries = sorted(assistant.letters(), key=lambda e: ((e["meta"].get("authority") or "~").lower(),
                                                          e["meta"].get("date") or ""))
    rows = [[fn(e) for _, fn in COLUMNS] + ["indexed"] for e in entries]
    for f in assistant.failed():
        rows.append(["" for _ in COLUMNS[:-1]] + [f["path"], f"failed: {f['reason']}"])
    return rows


def letter_choices(assistant: Assistant) -> list[tuple[str, str]]:
    """(label, index id) for each indexed letter, for the correct/remove picker."""
    entries = sorted(assistant.letters(), key=lambda e: ((e["meta"].get("authority") or "~").lower(),
                                                          e["meta"].get("date") or ""))
    return [(f"{letter_name(e['meta'])} ({e['path']})", e["sha256"]) for e in entries]


def _downloads(markdown: str, csv: str, prefix: str):
    """A view's two download buttons (Markdown, CSV), off until there is something to download."""
    return tuple(gr.DownloadButton(f"Download {label}", value=None, interactive=False, size="sm",
                                   elem_id=f"{prefix}download-{kind}") for label, kind in ((markdown, "md"), (csv, "csv")))


def _citation_opener(prefix: str):
    """A view's hidden box and button through which a clicked [n] (see JS) opens its quote."""
    return (gr.Textbox(elem_id=f"{prefix}cite-target", elem_classes=["offscreen"], show_label=False, container=False),
            gr.Button("open", elem_id=f"{prefix}cite-open", elem_classes=["offscreen"]))


def _state_key(assistant: Assistant):
    snap = assistant.snapshot
    return None if snap is None else f"{snap.generation}:{id(snap)}"


# ------------------------------------------------------------------ an authority's history
def timeline_view(assistant: Assistant, authority: str, theme: str | None) -> tuple[str, str, str, str]:
    """The authority page for ``authority``: (grade chart HTML, timeline Markdown with citation
    links, Markdown file, CSV file). Raises AssistantError (an unknown authority) as it is."""
    from .timeline import build_timeline, grade_chart_svg

    t = build_timeline(assistant, authority, (theme or "").strip() or None)
    ans = Answer("", True, t.to_markdown(heading=False), [t.authority], {}, t.citations())
    folder = Path(tempfile.mkdtemp(prefix="timeline-"))
    name = safe_name(t.authority.lower().replace(" ", "-")) or "timeline"
    (folder / f"{name}-timeline.md").write_text(t.to_markdown(), encoding="utf-8")
    (folder / f"{name}-timeline.csv").write_text(t.to_csv(), encoding="utf-8")
    chart = grade_chart_svg(t) or "<p>No grades are printed in these letters.</p>"
    return (chart, render_answer(ans, assistant.letters()), str(folder / f"{name}-timeline.md"),
            str(folder / f"{name}-timeline.csv"))


# ------------------------------------------------------------------ the app
def build_app(assistant: Assistant, corpus: Path, *, max_upload_mb: int = MAX_UPLOAD_MB):
    """The Gradio Blocks app for one assistant and its corpus folder."""
    corpus = Path(corpus)

    def ask_api(question: str) -> dict:
        """Answer a question; returns the JSON contract of ``Answer.to_dict()``."""
        try:
            return assistant.ask(question).to_dict()
        except QuestionError as exc:  # said to the caller as it is (not a generic AppError)
            raise gr.Error(str(exc)) from None

    def compare_api(authorities: list[str], theme: str, since: str | None = None, until: str | None = None) -> dict:
        """Authorities side by side on a theme; returns the JSON of ``Assistant.compare``."""
        try:
            return assistant.compare(authorities, theme, since=since, until=until)
        except AssistantError as exc:  # an unknown name, no theme, a bad date: said as it is
            raise gr.Error(str(exc)) from None

    def run_compare(authorities, theme, since, until):
        table, result = compare_view(assistant, authorities, theme, since, until)
        if result is None:
            off = gr.update(value=None, interactive=False)
            return table, off, off
        md, csv = _compare_files(result)
        return table, gr.update(value=md, interactive=True), gr.update(value=csv, interactive=True)

    def timeline_api(authority: str, theme: str | None = None) -> dict:
        """One authority's timeline; returns the JSON of ``Assistant.timeline``."""
        try:
            return assistant.timeline(authority, theme or None)
        except AssistantError as exc:  # an unknown authority: said to the caller as it is
            raise gr.Error(str(exc)) from None

    def show_timeline(authority, theme):
        if not authority:
            return gr.skip(), "Pick an authority.", gr.skip(), gr.skip()
        try:
            chart, text, md, csv = timeline_view(assistant, authority, theme)
        except AssistantError as exc:
            return "", f"**{escape_md(str(exc))}**", gr.update(value=None, interactive=False), \
                gr.update(value=None, interactive=False)
        return chart, text, gr.update(value=md, interactive=True), gr.update(value=csv, interactive=True)

    def history_quote(target):
        """The authority page's viewer: the letter at the quote (its own element ids)."""
        return open_quote(assistant, target)[1].replace("id='letter-", "id='t-letter-")

    def respond(message, history, previous, saved, authorities, since, until, undated, kind, judged, framework):
        message = (message or "").strip()
        history = list(history or [])
        if not message:
            return history, previous, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            query = follow_up(assistant.read(message), Query(**previous) if previous else None)
        except QuestionError as exc:  # too long, not text: said in the chat
            history += [{"role": "user", "content": escape_md(message[:300])},
                        {"role": "assistant", "content": escape_md(str(exc))}]
            return history, previous, gr.skip(), "", gr.skip(), gr.skip(), ""
        try:
            ans = assistant.ask(message, authority=authorities or None, since=since, until=until,
                                kind=kind or None, undated=bool(undated), query=query,
                                judgement=(judged or "").strip() or None, framework=framework or None)
        except AssistantError as exc:  # a filter that cannot be used: say so, keep the question
            gr.Warning(str(exc))
            return history, previous, gr.skip(), f"**Cannot use the filters:** {escape_md(str(exc))}", \
                gr.skip(), gr.skip(), gr.skip()
        history += [{"role": "user", "content": escape_md(message)},
                    {"role": "assistant", "content": render_answer(ans, assistant.letters())}]
        reading = "**How I read it:** " + escape_md(Query(**ans.query).describe() if ans.query else "")
        md, csv = _answer_files(ans)
        saved = {"history": history, "previous": ans.query or None, "md": ans.to_markdown(), "csv": ans.to_csv()}
        return (history, ans.query or None, saved, reading, gr.update(value=md, interactive=True),
                gr.update(value=csv, interactive=True), "")

    def restore(saved):
        """A reload: the conversation and its last answer's downloads come back from the browser."""
        saved = saved or {}
        history = saved.get("history") or []
        if not history:
            return [], None, gr.skip(), gr.skip()
        if saved.get("md"):
            md, csv = _saved_files(saved["md"], saved.get("csv", ""))
            return history, saved.get("previous"), gr.update(value=md, interactive=True), \
                gr.update(value=csv, interactive=True)
        return history, saved.get("previous"), gr.skip(), gr.skip()

    def clear_history():
        return [], None, {}, "", gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)

    def show_quote(target):
        view, text = open_quote(assistant, target)
        return view, text, page_html(assistant, corpus, view)

    def turn_page(view, step):
        if not view or not view.get("pdf") or not view.get("page"):
            return view, gr.skip()
        page = min(max(1, int(view["page"]) + step), int(view.get("pages") or 1))
        view = {**view, "page": page}
        return view, page_html(assistant, corpus, view)

    def refreshed(seen=None, message: str | None = None):
        """Every view of the letters, brought up to date (after a sync of any kind)."""
        key = _state_key(assistant)
        if seen is not None and key == seen:
            return (gr.skip(),) * 7
        n, failed = len(assistant.letters()), len(assistant.failed())
        summary = (f"**{n} letter{'s' * (n != 1)} indexed** from {len(assistant.authorities())} authorities"
                   + (f"; {failed} file{'s' * (failed != 1)} could not be read" if failed else "") + ".")
        return (key, gr.update(value=letters_table(assistant)), gr.update(choices=assistant.authorities()),
                gr.update(choices=letter_choices(assistant)), summary, gr.skip() if message is None else message,
                gr.update(choices=assistant.authorities()))

    def tick(seen):
        assistant.refresh()  # a sync by another process shows here too; a file stat when nothing changed
        return refreshed(seen)

    def reindex(progress=gr.Progress()):
        report = assistant.sync(corpus, progress=False,  # Assistant.sync runs one sync at a time
                                on_progress=lambda d, t: progress(d / max(t, 1), desc="Embedding"),
                                on_wait=lambda message: progress(0, desc=f"Waiting: {message}"))
        return report.summary()

    def upload(files, progress=gr.Progress()):
        if not files:
            return refreshed(message="No files chosen.")
        lines = []
        for f in files:
            name, what = save_upload(Path(f if isinstance(f, str) else f.name), corpus, max_upload_mb)
            lines.append(f"- {html.escape(name)}: {what}")
        summary = reindex(progress)
        return refreshed(message="\n".join(lines) + "\n\n```\n" + summary + "\n```")

    def resync(progress=gr.Progress()):
        return refreshed(message="```\n" + reindex(progress) + "\n```")

    def pick_letter(letter_id):
        entry = next((e for e in assistant.letters() if e["sha256"] == letter_id), None)
        if entry is None:
            return "", "", None
        m = entry["meta"]
        return m.get("authority") or "", m.get("date") or "", m.get("kind")

    def pick_row(evt: gr.SelectData):
        row = evt.row_value if isinstance(evt.row_value, list) else []
        path = row[len(COLUMNS) - 1] if len(row) >= len(COLUMNS) else None
        entry = next((e for e in assistant.letters() if e["path"] == path), None)
        return entry["sha256"] if entry else gr.skip()

    def correct(letter_id, authority, date, kind):
        entry = next((e for e in assistant.letters() if e["sha256"] == letter_id), None)
        if entry is None:
            return refreshed(message="Choose a letter first.")
        try:
            fixed = corrections.save(corpus, letter_id, entry["path"],
                                     {"authority": authority, "date": date, "kind": kind or ""})
        except AssistantError as exc:
            return refreshed(message=f"**Not saved:** {escape_md(str(exc))}")
        assistant.sync(corpus, progress=False)
        what = ", ".join(f"{k} “{v}”" for k, v in fixed.items()) or "none (as read from the letter)"
        return refreshed(message=f"Saved. Corrections for {escape_md(entry['path'])}: {escape_md(what)}. "
                                 "They are kept in the letters folder (.corrections.json) and used by "
                                 "filters and answers.")

    def remove(letter_id):
        entry = next((e for e in assistant.letters() if e["sha256"] == letter_id), None) if letter_id else None
        if entry is None:
            return refreshed(message="Not removed: choose a letter and confirm.")
        moved = [corrections.remove(corpus, p) for p in [entry["path"], *entry.get("aliases", [])]
                 if (corpus / p).is_file()]
        assistant.sync(corpus, progress=False)
        where = ", ".join(str(m.relative_to(corpus.resolve())) for m in moved)
        return refreshed(message=f"Removed {escape_md(letter_name(entry['meta']))} from the index. The file is "
                                 f"kept in the letters folder at {escape_md(where)}: move it back to restore it.")

    with gr.Blocks(title="Inspection letters assistant") as app:
        gr.Markdown("## Inspection letters assistant\nAsk about the letters; every answer quotes them. "
                    "Click a number like [1] to open the letter at the quote.")
        previous = gr.State(None)
        view = gr.State(None)
        seen = gr.State(None)
        saved = gr.BrowserState({}, storage_key=HISTORY_KEY)
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3, min_width=320):
                    empty = not assistant.letters()
                    chatbot = gr.Chatbot(
                        label="Answers", height=560, sanitize_html=True, allow_tags=False, autoscroll=False,
                        examples=[{"text": q} for q in EXAMPLES],
                        placeholder=("**No letters yet.** Add .pdf or .txt letters in the Letters tab "
                                     "(or the corpus folder) and press Re-index." if empty else
                                     "Ask about the letters, or pick an example."),
                        elem_id="chat")
                    with gr.Row():
                        box = gr.Textbox(placeholder="e.g. Which authorities had weak contingency planning?",
                                         show_label=False, scale=5, elem_id="question", min_width=200)
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask", min_width=60)
                    reading = gr.Markdown(elem_id="reading")
                    with gr.Accordion("Filters", open=False, elem_id="filters"):
                        with gr.Row():
                            f_auth = gr.Dropdown(choices=assistant.authorities(), multiselect=True,
                                                 label="Authority", elem_id="f-authority")
                            f_kind = gr.Dropdown(choices=[""] + list(KINDS), value="", label="Kind of letter",
                                                 elem_id="f-kind")
                        with gr.Row():
                            f_since = gr.DateTime(label="From", include_time=False, type="string",
                                                  elem_id="f-since")
                            f_until = gr.DateTime(label="To", include_time=False, type="string",
                                                  elem_id="f-until")
                        f_undated = gr.Checkbox(label="Also check letters with no date", elem_id="f-undated")
                        with gr.Row():
                            f_judged = gr.Textbox(label="Judged", placeholder="e.g. inadequate for help and protection",
                                                  elem_id="f-judged")
                            f_framework = gr.Dropdown(choices=[("", "")] + [(v, k) for k, v in FRAMEWORKS.items()],
                                                      value="", label="Inspection framework", elem_id="f-framework")
                        gr.Markdown("Dates go by the letter's date, or the first day of its visit when the "
                                    "letter has none. Type YYYY-MM-DD or pick from the calendar.")
                    with gr.Row():
                        download_md, download_csv = _downloads("answer (Markdown)", "quotes (CSV)", "")
                        forget = gr.Button("Clear conversation", size="sm", elem_id="clear")
                with gr.Column(scale=2, min_width=320):
                    with gr.Tab("Letter text"):
                        viewer = gr.HTML("<p>Click a citation number such as [1] to see the quote in its letter.</p>",
                                         elem_id="viewer")
                    with gr.Tab("Original page", elem_id="page-tab"):
                        with gr.Row():
                            prev_page = gr.Button("◀ Previous page", size="sm", elem_id="prev-page")
                            next_page = gr.Button("Next page ▶", size="sm", elem_id="next-page")
                        page_view = gr.HTML("<p>Click a citation number to see its page.</p>", elem_id="page-view")
                    cite_target, cite_open = _citation_opener("")
        with gr.Tab("Compare", elem_id="compare-tab"):
            with gr.Row():
                with gr.Column(scale=3, min_width=320):
                    with gr.Row():
                        k_auth = gr.Dropdown(choices=assistant.authorities(), multiselect=True,
                                             label="Authorities", elem_id="compare-authorities")
                        k_theme = gr.Dropdown(choices=list(THEMES), value=None, allow_custom_value=True,
                                              label="Theme (pick or type)", elem_id="compare-theme")
                    with gr.Row():
                        k_since = gr.DateTime(label="From (optional: every letter in the dates)",
                                              include_time=False, type="string", elem_id="compare-since")
                        k_until = gr.DateTime(label="To", include_time=False, type="string", elem_id="compare-until")
                    k_go = gr.Button("Compare", variant="primary", elem_id="compare-go")
                    k_table = gr.Markdown("Pick two or more authorities and a theme. Each authority's latest "
                                          "letter is read (or each letter between the dates).",
                                          elem_id="compare-table")
                    with gr.Row():
                        k_md, k_csv = _downloads("table (Markdown)", "table (CSV)", "compare-")
                with gr.Column(scale=2, min_width=320):
                    with gr.Tab("Letter text"):
                        k_viewer = gr.HTML("<p>Click a number such as [1] to see the quote in its letter.</p>",
                                           elem_id="compare-viewer")
                    with gr.Tab("Original page", elem_id="compare-page-tab"):
                        k_page = gr.HTML("<p>Click a number to see its page.</p>", elem_id="compare-page")
                    k_target, k_open = _citation_opener("cmp-")
        with gr.Tab("Authority history", elem_id="history-tab"):
            with gr.Row():
                t_auth = gr.Dropdown(choices=assistant.authorities(), value=None, label="Authority",
                                     elem_id="t-authority")
                t_theme = gr.Dropdown(choices=["", *THEMES], value="", allow_custom_value=True,
                                      label="Theme (optional: pick or type)", elem_id="t-theme")
                t_show = gr.Button("Show history", variant="primary", elem_id="t-show")
            with gr.Row():
                with gr.Column(scale=3, min_width=320):
                    t_chart = gr.HTML(elem_id="t-chart")
                    t_text = gr.Markdown("Pick an authority to see every letter about it in date order, what each "
                                         "says needs to improve, and whether a later letter says it improved.",
                                         elem_id="t-text")
                    with gr.Row():
                        t_md, t_csv = _downloads("history (Markdown)", "history (CSV)", "t-")
                with gr.Column(scale=2, min_width=320):
                    t_viewer = gr.HTML("<p>Click a citation number such as [1] to see the quote in its letter.</p>",
                                       elem_id="t-viewer")
                    t_cite_target, t_cite_open = _citation_opener("t-")
        with gr.Tab("Letters"):
            letters_summary = gr.Markdown(elem_id="letters-summary")
            table = gr.Dataframe(headers=LETTER_COLUMNS, value=letters_table(assistant),
                                 interactive=False, wrap=True, show_search="search", elem_id="letters-table",
                                 max_height=480)
            with gr.Accordion("Add letters", open=True):
                files = gr.File(label=f"Add letters (.pdf or .txt, up to {max_upload_mb} MB each)",
                                file_count="multiple", file_types=[".pdf", ".txt"], elem_id="upload")
                with gr.Row():
                    add = gr.Button("Add and index", variant="primary", elem_id="add")
                    resync_btn = gr.Button("Re-index the folder", elem_id="reindex")
            with gr.Accordion("Correct or remove a letter", open=True):
                gr.Markdown("Pick a letter (or click its row). Corrections are kept beside the letters and used "
                            "by filters and answers; an empty field goes back to what was read from the letter.")
                pick = gr.Dropdown(choices=letter_choices(assistant), label="Letter", elem_id="manage-letter")
                with gr.Row():
                    c_auth = gr.Textbox(label="Authority", elem_id="c-authority")
                    c_date = gr.Textbox(label="Date (YYYY-MM-DD)", elem_id="c-date")
                    c_kind = gr.Dropdown(choices=[""] + list(KINDS), value="", label="Kind", elem_id="c-kind")
                with gr.Row():
                    save_fix = gr.Button("Save correction", elem_id="save-correction")
                    drop = gr.Button("Remove letter…", variant="stop", elem_id="remove")
            report = gr.Markdown(elem_id="letters-report")
        timer = gr.Timer(REFRESH_SECONDS)

        everywhere = [seen, table, f_auth, pick, letters_summary, report, t_auth]
        inputs = [box, chatbot, previous, saved, f_auth, f_since, f_until, f_undated, f_kind, f_judged, f_framework]
        # the question box is emptied in the same update as the answer (a separate step after it
        # could empty a question typed meanwhile); kept when the filters cannot be used
        outputs = [chatbot, previous, saved, reading, download_md, download_csv, box]
        raw_dates = RAW_DATES.replace("SINCE", str(inputs.index(f_since))).replace("UNTIL", str(inputs.index(f_until)))
        for trigger in (send.click, box.submit):
            trigger(respond, inputs, outputs, api_visibility="private", js=raw_dates).then(
                None, None, None, js=SCROLL_TO_ANSWER)

        def pick_example(evt: gr.SelectData) -> str:
            return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value)

        chatbot.example_select(pick_example, None, box, api_visibility="private").then(
            respond, inputs, outputs, api_visibility="private", js=raw_dates).then(
            None, None, None, js=SCROLL_TO_ANSWER)
        forget.click(clear_history, None, [chatbot, previous, saved, reading, download_md, download_csv],
                     api_visibility="private")
        cite_open.click(show_quote, cite_target, [view, viewer, page_view], api_visibility="private").then(
            None, None, None, js=SCROLL_TO_QUOTE)
        t_cite_open.click(history_quote, t_cite_target, t_viewer, api_visibility="private").then(
            None, None, None, js=SCROLL_TO_QUOTE.replace("#letter-view", "#t-letter-view"))
        for trigger in (t_show.click, t_auth.change):
            trigger(show_timeline, [t_auth, t_theme], [t_chart, t_text, t_md, t_csv], api_visibility="private")
        prev_page.click(lambda v: turn_page(v, -1), view, [view, page_view], api_visibility="private")
        next_page.click(lambda v: turn_page(v, +1), view, [view, page_view], api_visibility="private")

        add.click(upload, files, everywhere, api_visibility="private").then(lambda: None, None, files,
                                                                            api_visibility="private")
        resync_btn.click(resync, None, everywhere, api_visibility="private")
        pick.change(pick_letter, pick, [c_auth, c_date, c_kind], api_visibility="private")
        table.select(pick_row, None, pick, api_visibility="private")
        save_fix.click(correct, [pick, c_auth, c_date, c_kind], everywhere, api_visibility="private")
        drop.click(remove, pick, everywhere, api_visibility="private",
                   js="(id) => { const el = document.querySelector('#manage-letter input'); "
                      "const name = el ? el.value : 'this letter'; "
                      "return (id && confirm('Remove ' + name + ' from the index? The file is moved to the "
                      ".removed folder inside the letters folder, not deleted.')) ? id : null; }")
        # a cheap check (a file stat; more only when the index changed): never waits behind questions
        timer.tick(tick, seen, everywhere, api_visibility="private", show_progress="hidden", concurrency_limit=None)
        app.load(lambda: refreshed(None), None, everywhere, api_visibility="private")
        app.load(restore, saved, [chatbot, previous, download_md, download_csv], api_visibility="private")
        gr.api(ask_api, api_name="ask")
        k_dates = RAW_DATES.replace("f-since", "compare-since").replace("f-until", "compare-until")
        k_go.click(run_compare, [k_auth, k_theme, k_since, k_until], [k_table, k_md, k_csv], api_visibility="private",
                   js=k_dates.replace("SINCE", "2").replace("UNTIL", "3"))
        k_open.click(lambda t: show_quote(t)[1:], k_target, [k_viewer, k_page], api_visibility="private").then(
            None, None, None, js=SCROLL_TO_QUOTE)
        # the authorities on offer follow the index (seen changes whenever the index does)
        seen.change(lambda: gr.update(choices=assistant.authorities()), None, k_auth, api_visibility="private")
        gr.api(compare_api, api_name="compare")
        gr.api(timeline_api, api_name="timeline")
    return app
