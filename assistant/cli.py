"""Command line: ``assistant index | ask | timeline | letters | eval | bench | watch``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

from .config import default_corpus_dir, default_index_dir
from .errors import AssistantError


def _formats(p, what: str, csv_rows: str) -> None:
    """--json, --csv or --md (one of them) for a view printed whole, and --index."""
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=f"print {what} as JSON")
    fmt.add_argument("--csv", action="store_true", help=f"print {what} as CSV, {csv_rows}")
    fmt.add_argument("--md", action="store_true", help=f"print {what} as Markdown")
    _index_arg(p)


def _index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=None,
                   help="index folder (default: $ASSISTANT_INDEX or index/)")
    p.add_argument("--model", default=None,
                   help="sentence-transformers model name or folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default=None,
                   help="how to run the model (default: $ASSISTANT_BACKEND or torch)")


def _bench_args(b: argparse.ArgumentParser, synthetic: bool = True) -> None:
    if synthetic:
        b.add_argument("--letters", default="100,1000", help="collection sizes, comma-separated (default 100,1000)")
        b.add_argument("--tool", type=Path, default=Path("../shared/tools/make_corpus.py"),
                       help="the synthetic letter generator (default ../shared/tools/make_corpus.py)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.add_argument("--model", default=None)
    b.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default=None)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="assistant", description="Cited answers from inspection letters.")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show diagnostic messages and model-loading progress")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="bring the index up to date with a folder of letters")
    p.add_argument("corpus", nargs="?", type=Path, default=None, help="letters folder (default: corpus/)")
    p.add_argument("--rebuild", action="store_true", help="start over instead of updating")
    p.add_argument("--max-pages", type=int, default=None, help="skip PDFs longer than this (default 300)")
    p.add_argument("--json", action="store_true", help="print the sync report as JSON")
    p.add_argument("--no-wait", action="store_true",
                   help="exit at once if another process is updating the index (default: wait for it)")
    _index_arg(p)

    p = sub.add_parser("watch", help="keep the index in step with a folder as letters arrive, change or go")
    p.add_argument("corpus", nargs="?", type=Path, default=None, help="letters folder (default: corpus/)")
    _index_arg(p)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question")
    p.add_argument("--authority", action="append", help="only letters about this authority (repeatable)")
    p.add_argument("--since", help="only letters dated on or after YYYY-MM-DD (the letter's date, "
                                   "else its visit's first day)")
    p.add_argument("--until", help="only letters dated on or before YYYY-MM-DD")
    p.add_argument("--undated", action="store_true", help="with --since/--until: also check letters with no date")
    p.add_argument("--kind", help="only letters of this kind (focused visit, monitoring visit, ...)")
    p.add_argument("--judgement", help='only letters with this judgement, e.g. "inadequate for help and protection"')
    p.add_argument("--framework", help="only inspections under this framework (sif, ilacs_standard, ilacs_short, "
                                       "april_2026)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    _index_arg(p)

    p = sub.add_parser("compare", help="authorities side by side on one theme, every cell quoted")
    p.add_argument("authorities", nargs="+", metavar="AUTHORITY", help="two or more authorities")
    p.add_argument("--theme", required=True, help='what to compare them on, e.g. "care leavers"')
    p.add_argument("--since", help="each letter dated on or after YYYY-MM-DD (default: each one's latest letter)")
    p.add_argument("--until", help="each letter dated on or before YYYY-MM-DD")
    _formats(p, "the table", "one line per quote")

    p = sub.add_parser("timeline", help="one authority's letters over time: grades, what needs to improve, "
                                        "whether a later letter says it improved")
    p.add_argument("authority")
    p.add_argument("--theme", help="also quote what each letter says on this theme")
    _formats(p, "the timeline", "one row per item to improve")

    p = sub.add_parser("letters", help="list the indexed letters and their facts (authority, dates, grades)")
    p.add_argument("--index", type=Path, default=None, help="index folder (default: $ASSISTANT_INDEX or index/)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per letter")

    p = sub.add_parser("eval", help="score the assistant on a question set")
    p.add_argument("questions", type=Path, help="JSON lines file of questions")
    p.add_argument("--json", action="store_true")
    _index_arg(p)

    p = sub.add_parser("bench", help="print benchmark figures")
    bsub = p.add_subparsers(dest="bench", required=True)
    b = bsub.add_parser("scifact", help="retrieval quality on BEIR SciFact (nDCG@10, Recall@100)")
    b.add_argument("folder", type=Path, help="the SciFact folder (corpus.jsonl.gz, queries, qrels)")
    _bench_args(b, synthetic=False)
    b = bsub.add_parser("speed", help="build, query and start-up figures on synthetic letters")
    _bench_args(b)
    b.add_argument("--questions", type=int, default=50)
    b.add_argument("--keep", type=Path, help="build each index in KEEP/index-N and keep it; a later run "
                                             "with the same KEEP reuses it and measures questions only")
    b = bsub.add_parser("compare", help="a 5-authority compare on synthetic letters: median and p95")
    _bench_args(b)
    b.set_defaults(letters="1000")
    b.add_argument("--authorities", type=int, default=5)
    b.add_argument("--repeats", type=int, default=20)
    b.add_argument("--keep", type=Path, help="the index is KEEP/index-N (as `bench speed --keep` builds it), "
                                             "built there when missing and reused after")
    b = bsub.add_parser("timeline", help="an authority's timeline (six letters) among synthetic letters: "
                                         "median and p95")
    b.add_argument("--letters", type=int, default=1000, help="synthetic letters beside the six (default 1000)")
    b.add_argument("--tool", type=Path, default=Path("../shared/tools/make_corpus.py"),
                   help="the synthetic letter generator (default ../shared/tools/make_corpus.py)")
    b.add_argument("--reports", type=Path, default=Path("../shared/real-reports/pdf"),
                   help="the real reports (default ../shared/real-reports/pdf)")
    b.add_argument("--keep", type=Path, help="keep the letters and index in KEEP/timeline-N; a later run only times")
    b.add_argument("--repeats", type=int, default=20)
    b.add_argument("--model", default=None)
    b.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default=None)
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("stance-head", help="what the judge's stance head adds to indexing: embedding a "
                                             "folder's passages with and without it (medians)")
    b.add_argument("corpus", type=Path, nargs="?", default=Path("corpus"), help="letters (default corpus/)")
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--model", default=None)
    b.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default=None)
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("search", help="exact against HNSW search: time per question and recall, by size")
    b.add_argument("--index", type=Path, default=None, help="the index whose vectors to use (default: index/)")
    b.add_argument("--sizes", default="100000,300000,600000", help="passage counts, comma-separated")
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("layout", help="how PDFs are read: furniture left, headings, judgement rows, failures")
    b.add_argument("folder", type=Path, help="a folder of PDFs, or one with pdf/ and reports.csv")
    b.add_argument("--dev", default="", help="development authorities (reports.csv names, comma-separated): "
                                            "figures for them and for the rest apart")
    b.add_argument("--workers", type=int, default=None, help="reports read at once (default: CPU count)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("load", help="concurrent clients asking the web app over HTTP (loopback): "
                                     "requests, errors, p50/p95 per client count")
    b.add_argument("--clients", default="1,5,20", help="client counts, comma-separated (default 1,5,20)")
    b.add_argument("--seconds", type=float, default=60.0, help="how long each client count runs (default 60)")
    b.add_argument("--corpus", type=Path, default=None, help="letters to serve (a copy is used; default corpus/)")
    b.add_argument("--index", type=Path, default=None, help="an index of them to start from (default index/)")
    b.add_argument("--deletion-copies", type=int, default=20,
                   help="letters added while one is deleted, to time the deletion (default 20; 0 skips it)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("ask", help="a one-off `assistant ask` in a fresh process: quick start against torch")
    b.add_argument("--question", default="How long was the CAMHS waiting list in Wirral?")
    b.add_argument("--index", type=Path, default=None, help="the index to ask (default: index/)")
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("reindex", help="time to add / remove one letter and to sync with no change")
    _bench_args(b)
    b.add_argument("--repeats", type=int, default=3)
    b = bsub.add_parser("facts", help="facts read from real reports against their published scrape (reports.csv)")
    b.add_argument("folder", type=Path, help="folder with reports.csv and the reports (in pdf/)")
    b.add_argument("--held-back", help="authorities (as in reports.csv, ;-separated) kept out of development "
                                       "(default: every third in alphabetical order)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b = bsub.add_parser("real-reports", help="index a folder of real reports and time questions on it")
    b.add_argument("folder", type=Path, help="folder with the reports (in pdf/ or directly)")
    _bench_args(b, synthetic=False)
    b.add_argument("--keep", type=Path, help="build the index in KEEP and keep it (a later run reuses it and "
                                             "measures questions only)")
    b = bsub.add_parser("labelled", help="the answering engine on the judge's labelled questions and reports: "
                                         "reports listed against the labels")
    b.add_argument("--index", type=Path, required=True, help="an index of the labelled reports "
                                                             "(assistant index ../shared/real-reports/pdf --index DIR)")
    b.add_argument("--data", type=Path, default=Path("data/judge"), help="labelled data (default data/judge)")
    b.add_argument("--scorer", choices=("letters", "alone", "veto", "rules"), default="letters",
                   help="letters: the judge's letter model decides each letter, beside the rules' bars; alone: the letter "
                        "model decides alone; veto: its stance model vetoes the "
                        "opposite polarity; rules: no judge (judges are trained without the authorities they answer)")
    b.add_argument("--leave-out", action="append", default=[], metavar="SET",
                   help="judges trained without this label set (as `train judge --leave-out`); the labels scored "
                        "against are all of them")
    b.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("train", help="train a learned part on labelled data")
    tsub = p.add_subparsers(dest="part", required=True)
    t = tsub.add_parser("judge", help="the evidence judge, from data/judge (figures cross-validated by authority)")
    t.add_argument("--data", type=Path, default=Path("data/judge"), help="labelled data (default data/judge)")
    t.add_argument("--out", type=Path, default=None, help="where to write the model (.npz); default: only print figures")
    t.add_argument("--index", type=Path, default=None,
                   help="an index of the labelled reports: also train the letter model on the engine's reading of them")
    t.add_argument("--hold-out", choices=("authority", "topic"), default="authority",
                   help="cross-validate by authority (default) or by topic (topics nobody labelled)")
    t.add_argument("--leave-out", action="append", default=[], metavar="SET",
                   help="do not train on this label set (the files <authority>.SET.jsonl; e.g. pooled)")
    t.add_argument("--model", default=None)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return {"index": _index, "watch": _watch, "ask": _ask, "eval": _eval, "bench": _bench,
                "letters": _letters, "train": _train, "compare": _compare, "timeline": _timeline}[args.command](args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _index(args) -> int:
    from .embedding import load_embedder
    from .indexing import sync
    from .letters import MAX_PAGES

    corpus = args.corpus or default_corpus_dir()
    index = args.index or default_index_dir()
    report = sync(corpus, index, load_embedder(args.model, args.backend), rebuild=args.rebuild,
                  max_pages=args.max_pages or MAX_PAGES, progress=not args.json, wait=not args.no_wait)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0


def _watch(args) -> int:
    import time

    from .engine import Assistant
    from .watch import keep_in_sync

    corpus = args.corpus or default_corpus_dir()
    assistant = Assistant.open(args.index or default_index_dir(), model=args.model, backend=args.backend,
                               allow_empty=True)
    print(assistant.sync(corpus).summary(), flush=True)
    watcher = keep_in_sync(assistant, corpus)
    print(f"watching {corpus}/ for letters (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        watcher.stop()


def _open(args):
    from .engine import Assistant

    return Assistant.open(args.index or default_index_dir(), model=args.model, backend=args.backend)


def _ask(args) -> int:
    from .question import Query

    Query("", "").with_filters(judgement=args.judgement, framework=args.framework)  # a typo fails before the model loads
    assistant = _open(args)
    answer = assistant.ask(args.question, authority=args.authority, since=args.since, until=args.until,
                           kind=args.kind, undated=args.undated or None, judgement=args.judgement,
                           framework=args.framework)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(format_answer(answer))
    return 0


def _compare(args) -> int:
    from . import compare
    from .question import parse_day

    parse_day(args.since, "--since"), parse_day(args.until, "--until")  # a typo fails before the model loads
    result = _open(args).compare(args.authorities, args.theme, since=args.since, until=args.until)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(compare.to_csv(result))
    else:
        print(compare.to_document(result) if args.md else compare.to_text(result))
    return 0


def _timeline(args) -> int:
    from .timeline import build_timeline

    t = build_timeline(_open(args), args.authority, args.theme)
    if args.json:
        print(json.dumps(t.to_dict(), indent=2, ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(t.to_csv())
    elif args.md:
        sys.stdout.write(t.to_markdown())
    else:
        from .answer import Answer

        print(format_answer(Answer("", True, t.to_markdown(), [t.authority], {}, t.citations())))
    return 0


def format_answer(answer) -> str:
    """An answer for a terminal: plain text (no Markdown marks), each quote once, then what
    each [n] stands for; an abstention's closest passages marked as not clearly about it."""
    import re
    import textwrap

    from .answer import NOT_CLEARLY, source_name, unescape_md

    width = min(100, shutil.get_terminal_size((100, 24)).columns)
    lines = []
    for line in answer.answer.splitlines():
        line = re.sub(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*", r"\1", line)
        line = re.sub(r"^_(.+)_$", r"\1", line)
        indent = "  " if line.startswith("- ") else ""
        lines += textwrap.wrap(unescape_md(line), width, subsequent_indent=indent) or [""]
    if answer.citations:
        lines += ["", "Sources"]
        for c in answer.citations:
            where = source_name(c) + (f", section “{c.section}”" if c.section else "")
            lines += textwrap.wrap(f"[{c.n}] {where} ({c.letter})", width, subsequent_indent="    ")
    if answer.nearby:
        lines += ["", NOT_CLEARLY + ":"]
        for c in answer.nearby:
            lines += textwrap.wrap(f"- “{c.quote}” — {source_name(c)} ({c.letter})", width,
                                   subsequent_indent="  ")
    return "\n".join(lines)


def _letters(args) -> int:
    from .facts import FACTS_VERSION
    from .metadata import catalogue_row
    from .store import IndexFolder

    folder = IndexFolder(args.index or default_index_dir())
    manifest = folder.read_manifest()
    rows = [catalogue_row(e) for e in manifest["letters"]]
    failed = [{"letter": f["path"], "failed": f["reason"]} for f in manifest.get("failed", [])]
    if manifest.get("letter_facts") != FACTS_VERSION:
        print(f"note: these facts were read by another version; run `assistant index --index {folder.root}` "
              "to read them again (nothing is embedded again)", file=sys.stderr)
    if args.json:
        print(json.dumps(rows + failed, indent=2, ensure_ascii=False))
        return 0
    from .facts import AREA_LABELS

    for r in rows:
        visits = " to ".join(dict.fromkeys(r["visit_dates"] or [])) or "-"
        lead = (r["inspectors"] or ["-"])[0]
        print(f"{r['letter']}\n  {r['authority'] or 'authority not recognised'} · {r['kind'] or 'kind unknown'}"
              f"{' · ' + r['framework'] if r['framework'] else ''} · visit {visits} · lead inspector {lead}"
              f"{' · dated ' + r['date'] if r['date'] else ''} · {r['pages'] or '-'} pages, {r['passages']} passages")
        for area, grade in r["judgements"].items():
            print(f"    {AREA_LABELS.get(area, area)}: {grade}")
        if r["previous_judgement"]:
            p = r["previous_judgement"]
            print(f"    previously judged {p['grade']}{' (' + p['when'] + ')' if p.get('when') else ''}")
    for f in failed:
        print(f"{f['letter']}\n  FAILED: {f['failed']}")
    print(f"{len(rows)} letters indexed, {len(failed)} failed")
    return 0


def _eval(args) -> int:
    from .evaluate import TARGETS, evaluate, format_report, load_questions

    metrics = evaluate(_open(args), load_questions(args.questions))
    if args.json:
        print(json.dumps({k: v for k, v in metrics.items()}, indent=2))
    else:
        print(format_report(metrics))
    return 0 if all(metrics[k] >= t for k, t in TARGETS.items()) else 1


def _bench(args) -> int:
    from . import bench
    from .embedding import load_embedder

    def sizes(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x.strip()]

    one_per_line = False  # bench speed --json: one object per collection size, a line each
    if args.bench == "ask":
        results = _bench_ask(args)
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            for name, r in results["runs"].items():
                print(f"{name:>28}: median {r['median']:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in r['seconds'])})")
            print(f"{'quick / torch':>28}: {results['ratio']:.2f}")
        return 0
    if args.bench == "compare":
        r = bench.bench_compare(args.tool, sizes(args.letters)[0], load_embedder(args.model, args.backend),
                                authorities=args.authorities, repeats=args.repeats, keep=args.keep)
        print(json.dumps(r, indent=2)) if args.json else bench.print_compare(r)
        return 0
    if args.bench == "scifact":
        results, show = bench.bench_scifact(args.folder, load_embedder(args.model, args.backend)), bench.print_scifact
    elif args.bench == "speed":
        results = bench.bench_speed(args.tool, sizes(args.letters), load_embedder(args.model, args.backend),
                                    questions=args.questions, keep=args.keep,
                                    backend=args.backend or os.environ.get("ASSISTANT_BACKEND") or "torch")
        show, one_per_line = bench.print_speed, True
    elif args.bench in ("facts", "real-reports", "labelled"):
        from . import bench_reports

        if args.bench == "labelled":
            results = bench_reports.bench_labelled(args.index, args.data, scorer=args.scorer,
                                                     leave_out=tuple(args.leave_out))
            show = bench_reports.print_labelled
        elif args.bench == "facts":
            held = [a.strip() for a in args.held_back.split(";")] if args.held_back else None
            results, show = bench_reports.bench_facts(args.folder, held), bench_reports.print_facts
        else:
            results = bench_reports.bench_real_reports(args.folder, load_embedder(args.model, args.backend),
                                                       keep=args.keep)
            show = bench_reports.print_real_reports
    elif args.bench == "load":
        results = bench.bench_load(sizes(args.clients), args.seconds, corpus=args.corpus or default_corpus_dir(),
                                   index=args.index or default_index_dir(), deletion_copies=args.deletion_copies)
        show = bench.print_load
    elif args.bench == "timeline":
        results = bench.bench_timeline(args.tool, args.letters, load_embedder(args.model, args.backend),
                                       reports=args.reports, keep=args.keep, repeats=args.repeats)
        show = bench.print_timeline
    elif args.bench == "stance-head":
        results = bench.bench_stance_head(args.corpus, load_embedder(args.model, args.backend), args.repeats)
        show = bench.print_stance_head
    elif args.bench == "search":
        results, show = bench.bench_search(args.index or default_index_dir(), sizes(args.sizes)), bench.print_search
    elif args.bench == "layout":
        dev = [d for d in args.dev.split(",") if d.strip()]
        results, show = bench.bench_layout(args.folder, dev, args.workers), bench.print_layout
    else:  # reindex
        results = bench.bench_reindex(args.tool, sizes(args.letters), load_embedder(args.model, args.backend),
                                      repeats=args.repeats)
        show = bench.print_reindex
    if args.json and one_per_line:
        for r in results:
            print(json.dumps(r))
    elif args.json:
        print(json.dumps(results, indent=2))
    else:
        show(results)
    return 0


def _bench_ask(args) -> dict:
    """Wall time of `assistant ask QUESTION` in fresh processes, with the quick question model
    and with torch (ASSISTANT_QUICK_QUESTIONS=0), alternating; medians and their ratio."""
    import statistics
    import subprocess
    import time

    command = [sys.executable, "-m", "assistant.cli", "ask", args.question,
               "--index", str(args.index or default_index_dir())]
    runs: dict[str, list[float]] = {"quick (onnxruntime)": [], "torch (sentence-transformers)": []}
    for _ in range(args.repeats):
        for name, quick in (("quick (onnxruntime)", "1"), ("torch (sentence-transformers)", "0")):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "ASSISTANT_QUICK_QUESTIONS": quick})
            runs[name].append(time.perf_counter() - started)
    medians = {k: statistics.median(v) for k, v in runs.items()}
    return {"command": " ".join(command), "runs": {k: {"median": medians[k], "seconds": v} for k, v in runs.items()},
            "ratio": medians["quick (onnxruntime)"] / medians["torch (sentence-transformers)"]}


def _train(args) -> int:
    from .embedding import load_embedder
    from .training import agreement, train_judge

    figures, _, _ = train_judge(args.data, args.out, load_embedder(args.model), index=args.index,
                                hold_out=args.hold_out, leave_out=tuple(args.leave_out))
    for name, n, observed, kappa in agreement(args.data):
        print(f"labellers' agreement, {name} ({n} sentences labelled twice): {observed:.3f}, Cohen's kappa {kappa:.3f}")
    print("\n".join(figures.lines()))
    if args.out:
        print(f"model written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
