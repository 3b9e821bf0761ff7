"""The web chat: ask in the browser, see the evidence, open the letter, add letters.

Only wiring and presentation live here; every answer comes from ``Assistant``.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from .answer import Answer, escape_md, human_date, source_line
from .engine import Assistant
from .errors import FilterError, QuestionError
from .facts import FRAMEWORKS
from .letters import SUFFIXES
from .question import Query, follow_up

log = logging.getLogger(__name__)

EXAMPLES = [
    "Which authorities had weak contingency planning?",
    "What did inspectors say about Dudley's assessments?",
    "How long was the CAMHS waiting list in Wirral?",
    "Where were audits failing to improve social work practice?",
]
KINDS = ["focused visit", "monitoring visit", "inspection", "joint targeted area inspection", "cabinet report"]
LETTER_COLUMNS = ["authority", "date", "kind", "visit", "lead inspector", "grades", "pages", "passages", "file",
                  "status"]
MAX_UPLOAD_MB = 50

CSS = """
#letter-view { max-height: 70vh; overflow-y: auto; white-space: pre-wrap; font-family: Georgia, serif;
               line-height: 1.5; padding: 0.8em; border: 1px solid #ddd; border-radius: 6px; }
#letter-view mark { background: #ffe066; padding: 0 2px; }
#letter-view mark.current { background: #ffb703; outline: 2px solid #fb8500; }
#letter-view .page { color: #888; font-size: 0.8em; display: block; margin: 0.8em 0 0.2em; }
.cite-list { font-size: 0.92em; }
"""
SCROLL_JS = "() => { const m = document.querySelector('#letter-view mark.current'); " \
            "if (m) { m.scrollIntoView({block: 'center'}); } }"


def render_answer(ans: Answer) -> str:
    """The chat message: the answer, then each citation with where it stands."""
    parts = [ans.answer]
    if ans.citations:
        parts.append("\n**Sources**\n")
        for c in ans.citations:
            quote = c.quote if len(c.quote) <= 160 else c.quote[:157].rsplit(" ", 1)[0] + " …"
            parts.append(f"{c.n}. {escape_md(source_line(c))}: “{escape_md(quote)}”")
    return "\n".join(parts)


def letter_html(text: str, spans: list[tuple[int, int]], current: int | None, page_starts) -> str:
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
            out.append(f'<span class="page">— page {i} —</span>')
    out.append(html.escape(text[pos:]))
    if page_starts:
        out.insert(0, '<span class="page">— page 1 —</span>')
    return "".join(out).replace("\f", "")


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
    if dest.exists():
        if dest.read_bytes() == src.read_bytes():
            return name, "already in the corpus"
        stem, suffix = dest.stem, dest.suffix
        n = 2
        while (corpus / f"{stem}-{n}{suffix}").exists():
            n += 1
        dest = corpus / f"{stem}-{n}{suffix}"
    corpus.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest.name, "saved"


def letters_table(assistant: Assistant) -> list[list]:
    """One row per letter (LETTER_COLUMNS): its facts, size and whether it was indexed."""
    from .facts import AREA_LABELS

    rows = []
    for e in assistant.letters():
        m = e["meta"]
        visits = " to ".join(dict.fromkeys(human_date(d) for d in m.get("visit_dates") or []))
        grades = "; ".join(f"{AREA_LABELS.get(a, a)}: {g}" for a, g in (m.get("judgements") or {}).items())
        kind = ", ".join(b for b in (m.get("kind"), m.get("framework")) if b)
        rows.append([m.get("authority") or "(not recognised)", m.get("date") or "", kind, visits,
                     (m.get("inspectors") or [""])[0], grades, e.get("pages") or "", e["passages"], e["path"],
                     "indexed"])
    for f in assistant.failed():
        rows.append(["", "", "", "", "", "", "", 0, f["path"], f"failed: {f['reason']}"])
    return rows


def build_app(assistant: Assistant, corpus: Path, *, max_upload_mb: int = MAX_UPLOAD_MB):
    """The Gradio Blocks app for one assistant and its corpus folder."""
    def ask_api(question: str) -> dict:
        """Answer a question; returns the JSON contract of ``Answer.to_dict()``."""
        try:
            return assistant.ask(question).to_dict()
        except QuestionError as exc:  # said to the caller as it is (not a generic AppError)
            raise gr.Error(str(exc)) from None

    def respond(message, history, previous, authorities, since, until, kind, judgement=None, framework=None):
        message = (message or "").strip()
        if not message:
            return history, previous, gr.update(), "", None, gr.update()
        try:
            query = follow_up(assistant.read(message), Query(**previous) if previous else None)
        except QuestionError as exc:
            history = list(history or []) + [{"role": "user", "content": escape_md(message[:300])},
                                             {"role": "assistant", "content": escape_md(str(exc))}]
            return history, previous, gr.update(), "", None, gr.update()
        filters = (authorities or None, since or None, until or None, kind or None, (judgement or "").strip() or None,
                   framework or None)
        try:
            ans = assistant.ask(message, *filters[:4], query=query, judgement=filters[4], framework=filters[5])
        except FilterError as exc:
            history = list(history or []) + [{"role": "user", "content": escape_md(message)},
                                             {"role": "assistant", "content": escape_md(str(exc))}]
            return history, previous, gr.update(choices=[], value=None), "", None, gr.update()
        history = list(history or []) + [{"role": "user", "content": escape_md(message)},
                                         {"role": "assistant", "content": render_answer(ans)}]
        reading = "**How I read it:** " + escape_md(
            query.with_filters(*filters[:4], judgement=filters[4], framework=filters[5]).describe())
        choices = [f"[{c.n}] {c.authority or '?'}, {human_date(c.date) or 'undated'} — {c.quote[:70]}…"
                   for c in ans.citations]
        last = {"answer": ans.to_dict()}
        return (history, query.to_dict(), gr.update(choices=choices, value=None), reading, last,
                _download(ans))

    def _download(ans: Answer):
        path = Path(tempfile.mkdtemp(prefix="answer-")) / "answer.md"
        path.write_text(ans.to_markdown(), encoding="utf-8")
        return str(path)

    def show_citation(choice, last):
        if not choice or not last:
            return gr.update()
        n = int(choice[1:choice.index("]")])
        cites = last["answer"]["citations"]
        c = next(c for c in cites if c["n"] == n)
        snap = assistant.snapshot
        number = next((i for i, e in enumerate(snap.letters) if e["path"] == c["letter"]), None)
        if number is None:
            return "<p>That letter is no longer indexed.</p>"
        rec = snap.record(number)
        spans = [(x["start"], x["end"]) for x in cites if x["letter"] == c["letter"]]
        head = html.escape(", ".join(str(b) for b in (c["authority"], c["kind"], human_date(c["date"]),
                                                       c["page"] and f"page {c['page']}", c["letter"]) if b))
        return f"<h4>{head}</h4><div id='letter-view'>{letter_html(rec.text, spans, (c['start'], c['end']), rec.page_starts)}</div>"

    def reindex(progress=gr.Progress()):
        report = assistant.sync(corpus, progress=False,  # Assistant.sync runs one sync at a time
                                on_progress=lambda d, t: progress(d / max(t, 1), desc="Embedding"),
                                on_wait=lambda message: progress(0, desc=f"Waiting: {message}"))
        return "```\n" + report.summary() + "\n```", letters_table(assistant), gr.update(choices=assistant.authorities())

    def upload(files, progress=gr.Progress()):
        if not files:
            return "No files chosen.", letters_table(assistant), gr.update()
        lines = []
        for f in files:
            name, what = save_upload(Path(f if isinstance(f, str) else f.name), corpus, max_upload_mb)
            lines.append(f"- {html.escape(name)}: {what}")
        summary, table, auth = reindex(progress)
        return "\n".join(lines) + "\n\n" + summary, table, auth

    with gr.Blocks(title="Inspection letters assistant") as app:
        gr.Markdown("## Inspection letters assistant\nAsk about the letters; every answer quotes them, "
                    "with the letter, date, section and page.")
        previous = gr.State(None)
        last = gr.State(None)
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    empty = not assistant.letters()
                    chatbot = gr.Chatbot(
                        label="Answers", height=520, sanitize_html=True, allow_tags=False,
                        examples=[{"text": q} for q in EXAMPLES],
                        placeholder=("**No letters yet.** Add .pdf or .txt letters in the Letters tab "
                                     "(or the corpus folder) and press Re-index." if empty else
                                     "Ask about the letters, or pick an example."),
                        elem_id="chat")
                    with gr.Row():
                        box = gr.Textbox(placeholder="e.g. Which authorities had weak contingency planning?",
                                         show_label=False, scale=5, elem_id="question")
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    reading = gr.Markdown(elem_id="reading")
                    cite = gr.Radio(label="Open a quote in its letter", choices=[], elem_id="citations",
                                    elem_classes=["cite-list"])
                    download = gr.DownloadButton("Download answer (Markdown)", value=None, elem_id="download")
                with gr.Column(scale=2):
                    with gr.Accordion("Filters", open=False):
                        f_auth = gr.Dropdown(choices=assistant.authorities(), multiselect=True, label="Authority")
                        f_since = gr.Textbox(label="From (YYYY-MM-DD)")
                        f_until = gr.Textbox(label="To (YYYY-MM-DD)")
                        f_kind = gr.Dropdown(choices=[""] + KINDS, value="", label="Kind of letter")
                        f_judged = gr.Textbox(label="Judged", placeholder="e.g. inadequate for help and protection")
                        f_framework = gr.Dropdown(choices=[("", "")] + [(v, k) for k, v in FRAMEWORKS.items()],
                                                  value="", label="Inspection framework")
                    viewer = gr.HTML("<p>Pick a quote to see it in its letter.</p>", elem_id="viewer")
        with gr.Tab("Letters"):
            table = gr.Dataframe(headers=LETTER_COLUMNS,
                                 value=letters_table(assistant), interactive=False, wrap=True)
            files = gr.File(label=f"Add letters (.pdf or .txt, up to {max_upload_mb} MB each)",
                            file_count="multiple", file_types=[".pdf", ".txt"])
            with gr.Row():
                add = gr.Button("Add and index", variant="primary")
                resync = gr.Button("Re-index the folder")
            report = gr.Markdown()

        inputs = [box, chatbot, previous, f_auth, f_since, f_until, f_kind, f_judged, f_framework]
        outputs = [chatbot, previous, cite, reading, last, download]
        send.click(respond, inputs, outputs, api_visibility="private").then(lambda: "", None, box)
        box.submit(respond, inputs, outputs, api_visibility="private").then(lambda: "", None, box)
        def pick_example(evt: gr.SelectData) -> str:
            return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value)

        chatbot.example_select(pick_example, None, box, api_visibility="private").then(
            respond, inputs, outputs, api_visibility="private").then(lambda: "", None, box)
        cite.change(show_citation, [cite, last], viewer, api_visibility="private").then(None, None, None, js=SCROLL_JS)
        add.click(upload, files, [report, table, f_auth], api_visibility="private")
        resync.click(reindex, None, [report, table, f_auth], api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return app
