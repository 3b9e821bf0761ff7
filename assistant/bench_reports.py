"""Benchmarks on a folder of real Ofsted reports with a published scrape of their facts.

``assistant bench facts DIR`` reads every report in ``DIR/pdf`` and compares the facts read
from it (authority, first and last inspection day, lead inspector, judgement grades,
framework) with ``DIR/reports.csv``, for the development authorities and for the held-back
ones separately, and lists every disagreement beside what the report itself prints.

``assistant bench real-reports DIR`` indexes the same reports (reading against embedding
time, pages per second) and times questions on them (p50/p95).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .authorities import canonical_name
from .facts import GRADE_RE, normal_grade

#: reports.csv grade columns -> judgement area keys.
GRADE_COLUMNS = {
    "overall_effectiveness_grade": "overall_effectiveness",
    "impact_of_leaders_grade": "impact_of_leaders",
    "help_and_protection_grade": "help_and_protection",
    "in_care_grade": "in_care",
    "care_leavers_grade": "care_leavers",
}
GRADES = ("outstanding", "good", "requires improvement", "inadequate")
CSV_FRAMEWORKS = {"standard": "ilacs_standard", "short": "ilacs_short"}


def held_back_default(authorities: list[str]) -> list[str]:
    """The authorities kept out of development: every third in alphabetical order (3rd, 6th, ...)."""
    return [a for i, a in enumerate(sorted(set(authorities))) if i % 3 == 2]


def _csv_authority(name: str) -> str:
    return canonical_name(name.replace("&", "and")).lower()


def _person_key(name: str | None) -> str:
    """Names compared as a reader would: accents, case and spaces around hyphens aside."""
    if not name:
        return ""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"\s*-\s*", "-", " ".join(plain.split())).casefold()


def _csv_day(text: str) -> str | None:
    try:
        return dt.datetime.strptime(text.strip(), "%d/%m/%Y").date().isoformat()
    except ValueError:
        return None


def _csv_published(text: str) -> str | None:
    try:
        return dt.datetime.strptime(text.strip(), "%d/%m/%y").date().isoformat()
    except ValueError:
        return None


def read_reports(folder: Path, workers: int = 2) -> dict[str, tuple]:
    """{file name: (meta, text) or (None, failure reason)} for every file in ``folder``."""
    from .errors import LetterError
    from .letters import read_document
    from .metadata import parse_metadata

    def one(path: Path):
        try:
            doc = read_document(path)
        except LetterError as exc:
            return path.name, (None, str(exc))
        return path.name, (parse_metadata(doc.text), doc.text)

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".pdf", ".txt"))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # each PDF is parsed in its own process
        return dict(pool.map(one, paths))


def _printed(meta, text: str, fact: str) -> str | None:
    span = (meta.spans or {}).get(fact)
    return " ".join(text[span[0]:span[1]].split()) if span else None


def bench_facts(folder: Path, held_back: list[str] | None = None, workers: int = 2) -> dict:
    """Compare the facts read from each report with reports.csv. Returns figures and disagreements."""
    folder = Path(folder)
    with open(folder / "reports.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    held = set(held_back if held_back is not None else held_back_default([r["local_authority"] for r in rows]))
    started = time.perf_counter()
    read = read_reports(folder / "pdf" if (folder / "pdf").is_dir() else folder, workers)
    seconds = time.perf_counter() - started
    groups = {"development": _tally(), "held back": _tally()}
    disagreements, failed = [], []
    for row in rows:
        name = row["file"]
        group = groups["held back" if row["local_authority"] in held else "development"]
        meta, text = read.get(name, (None, "not in the folder"))
        if meta is None:
            failed.append({"file": name, "reason": text})
            continue

        def check(fact: str, want, got, printed_fact: str) -> None:
            ok = want == got
            group[fact][0] += ok
            group[fact][1] += 1
            if not ok:
                disagreements.append({"file": name, "authority": row["local_authority"], "fact": fact,
                                      "csv": want, "report": got,
                                      "printed": _printed(meta, text, printed_fact),
                                      "held_back": row["local_authority"] in held})

        check("authority", _csv_authority(row["local_authority"]), (meta.authority or "").lower(), "authority")
        first, last = _csv_day(row["inspection_start_date"]), _csv_day(row["inspection_end_date"])
        visits = meta.visit_dates or (None, None)
        if first:
            check("first day", first, visits[0], "visit_dates")
        if last:
            check("last day", last, visits[-1], "visit_dates")
        if row["inspector_name"].strip():
            lead = (meta.inspectors or [None])[0]
            want = _person_key(row["inspector_name"])
            check("lead inspector", want, _person_key(lead) or None, "inspectors")
            if _person_key(lead) == want and lead != row["inspector_name"].strip():
                group["names spelt differently"].append((row["inspector_name"].strip(), lead))
        for column, key in GRADE_COLUMNS.items():
            want = row.get(column, "").strip().lower()
            if want in GRADES:
                check("grades", want, (meta.judgements or {}).get(key), f"judgements.{key}")
        published = _csv_published(row.get("publication_date", ""))
        if meta.date and published:  # only reports that print their publication date
            check("publication date", published, meta.date, "date")
        fw = CSV_FRAMEWORKS.get(row.get("inspection_framework", "").strip().lower())
        if fw:
            check("framework", fw, meta.framework, "visit_dates")
    return {"reports": len(rows), "read": len(rows) - len(failed), "seconds_reading": round(seconds, 1),
            "held_back_authorities": sorted(held), "figures": {g: _figures(t) for g, t in groups.items()},
            "all": _figures(_merge(groups.values())), "failed": failed, "disagreements": disagreements,
            "names_spelt_differently": sorted({p for t in groups.values() for p in t["names spelt differently"]})}


FACTS = ("authority", "first day", "last day", "lead inspector", "grades", "framework", "publication date")


def _tally() -> dict:
    return {**{f: [0, 0] for f in FACTS}, "names spelt differently": []}


def _merge(tallies) -> dict:
    out = _tally()
    for t in tallies:
        for f in FACTS:
            out[f][0] += t[f][0]
            out[f][1] += t[f][1]
    return out


def _figures(t: dict) -> dict:
    return {f: {"agree": t[f][0], "of": t[f][1], "share": round(t[f][0] / t[f][1], 4) if t[f][1] else None}
            for f in FACTS}


def print_facts(r: dict) -> None:
    print(f"{r['read']} of {r['reports']} reports read ({r['seconds_reading']} s); "
          f"{len(r['failed'])} failed:")
    for f in r["failed"]:
        print(f"  FAILED {f['file']}: {f['reason']}")
    print(f"held-back authorities: {', '.join(r['held_back_authorities'])}")
    print(f"\n{'fact':<16}" + "".join(f"{g:>24}" for g in [*r["figures"], "all"]))
    for fact in FACTS:
        cells = []
        for fig in [*r["figures"].values(), r["all"]]:
            c = fig[fact]
            cells.append(f"{c['agree']}/{c['of']} ({100 * c['share']:.1f}%)" if c["of"] else "-")
        print(f"{fact:<16}" + "".join(f"{c:>24}" for c in cells))
    if r["disagreements"]:
        print("\nDisagreements with reports.csv (what the report prints beside the scrape):")
        for d in r["disagreements"]:
            print(f"  {d['file']} {d['authority']}{' (held back)' if d['held_back'] else ''}: {d['fact']}: "
                  f"csv {d['csv']!r}, read {d['report']!r}; printed: {d['printed']!r}")
    if r["names_spelt_differently"]:
        print("\nSame lead inspector, spelt differently in the scrape (counted as agreeing):")
        for want, got in r["names_spelt_differently"]:
            print(f"  csv {want!r}, report {got!r}")


#: Questions about the letters' facts, asked of the real reports beside the topic questions.
FACT_TEMPLATES = ["Who led the {y} inspection of {a}?", "When was {a} inspected?",
                  "What was {a}'s overall effectiveness judgement?",
                  "Which authorities were judged inadequate for overall effectiveness?",
                  "Which authorities' care leavers services require improvement?",
                  "Which authorities had previously been judged inadequate?"]


def bench_real_reports(folder: Path, embedder, *, keep: Path | None = None, questions: int = 60) -> dict:
    """Index the reports in ``folder`` (reading against embedding time, pages per second) and
    time ``questions`` questions on them (p50/p95, topic and fact questions apart)."""
    import os
    import shutil
    import tempfile

    import numpy as np

    from .bench import speed_questions
    from .engine import Assistant
    from .indexing import sync

    folder = Path(folder)
    corpus = folder / "pdf" if (folder / "pdf").is_dir() else folder
    tmp = None
    index = Path(keep) if keep else Path(tmp := tempfile.mkdtemp(prefix="real-reports-"))
    load_before = os.getloadavg()
    try:
        started = time.perf_counter()
        report = sync(corpus, index, embedder, progress=False)
        build = time.perf_counter() - started
        assistant = Assistant.open(index, embedder=embedder)
        entries = assistant.letters()
        pages = sum(e.get("pages") or 0 for e in entries)
        authorities = assistant.authorities()
        topic_qs = speed_questions(authorities, questions)
        fact_qs = []
        for i in range(questions // 2):
            e = entries[(i * 7) % len(entries)]["meta"]
            year = (e.get("visit_dates") or [e.get("date") or "2020"])[0][:4]
            fact_qs.append(FACT_TEMPLATES[i % len(FACT_TEMPLATES)].format(a=e.get("authority") or "Kent", y=year))
        judged = judgement_check(assistant, folder / "reports.csv") if (folder / "reports.csv").exists() else None
        assistant.ask(topic_qs[0])  # the first question loads what later ones reuse
        times: dict[str, list[float]] = {"topic": [], "fact": []}
        found = {"topic": 0, "fact": 0}
        for label, qs in (("topic", topic_qs), ("fact", fact_qs)):
            for q in qs:
                t0 = time.perf_counter()
                answer = assistant.ask(q)
                times[label].append(time.perf_counter() - t0)
                found[label] += answer.found
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    t = report.timings
    return {
        "reports": len(entries), "failed": [{"file": p, "reason": r} for p, r in report.failed],
        "reused_index": not report.added,
        "pages": pages, "passages": report.passages, "build_seconds": round(build, 1),
        "read_seconds": round(t.get("read", 0.0), 1), "embed_seconds": round(t.get("embed", 0.0), 1),
        "write_seconds": round(t.get("write", 0.0), 1),
        "pages_per_second_reading": round(pages / t["read"], 1) if t.get("read") else None,
        "pages_per_second_overall": round(pages / build, 2) if build else None,
        "questions": {label: {"n": len(v), "found": found[label],
                              "p50_ms": round(1000 * float(np.percentile(v, 50)), 1) if v else None,
                              "p95_ms": round(1000 * float(np.percentile(v, 95)), 1) if v else None}
                      for label, v in times.items()},
        "judgement_questions": judged,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
    }


def print_real_reports(r: dict) -> None:
    print(f"{r['reports']} reports indexed ({r['pages']} pages, {r['passages']} passages), "
          f"{len(r['failed'])} failed:")
    for f in r["failed"]:
        print(f"  FAILED {f['file']}: {f['reason']}")
    if r.get("reused_index"):
        print("(the kept index was reused: nothing was read or embedded, so the build figures below are a sync's)")
    print(f"index build {r['build_seconds']} s: reading {r['read_seconds']} s, embedding {r['embed_seconds']} s, "
          f"writing {r['write_seconds']} s")
    print(f"pages per second: {r['pages_per_second_reading']} reading, {r['pages_per_second_overall']} overall")
    for label, q in r["questions"].items():
        print(f"{label} questions: {q['n']} asked, {q['found']} answered; p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms")
    for j in r.get("judgement_questions") or []:
        print(f"\n{j['question']}\n  {len(j['authorities'])} authorities answered; expected from reports.csv: "
              f"{len(j['expected'])}; missing {j['missing'] or 'none'}; "
              f"every quote prints the grade: {j['quotes_print_grade']}")
        for a, quotes in j["beyond_csv"].items():
            print(f"  also {a} (reports.csv has no grade for it): {' | '.join(quotes)}")
    print(f"load average before {r['load_average_before']}, after {r['load_average_after']} on {r['cpus']} cores "
          "(above the core count means the machine was shared)")


#: Judgement questions checked against reports.csv: (question, grade column, grade, earlier only).
JUDGEMENT_QUESTIONS = [
    ("Which authorities were judged inadequate for overall effectiveness?", "overall_effectiveness_grade",
     "inadequate", False),
    ("Which authorities' care leavers services require improvement?", "care_leavers_grade",
     "requires improvement", False),
    ("Which authorities had previously been judged inadequate?", "overall_effectiveness_grade", "inadequate", True),
]


def judgement_check(assistant, csv_path: Path) -> list[dict]:
    """Ask the judgement questions and compare the authorities named with those reports.csv
    implies (where it has the grade); authorities it has no grade for are listed with their quotes."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_authority: dict[str, list[dict]] = {}
    for r in rows:
        by_authority.setdefault(canonical_name(r["local_authority"].replace("&", "and")), []).append(r)
    out = []
    for question, column, grade, earlier in JUDGEMENT_QUESTIONS:
        expected = set()
        for name, reports in by_authority.items():
            dated = sorted(reports, key=lambda r: dt.datetime.strptime(r["publication_date"], "%d/%m/%y"))
            candidates = dated[:-1] if earlier else dated
            if any(r.get(column, "").strip().lower() == grade for r in candidates):
                expected.add(name)
        answer = assistant.ask(question)
        named = set(answer.authorities)
        ok = all(any(normal_grade(m.group("grade")) == grade for m in GRADE_RE.finditer(c.quote))
                 or "inspection date" in c.quote.lower() for c in answer.citations)
        beyond = {a: [c.quote for c in answer.citations if c.authority == a][:2] for a in sorted(named - expected)}
        out.append({"question": question, "authorities": sorted(named), "expected": sorted(expected),
                    "missing": sorted(expected - named), "beyond_csv": beyond, "quotes_print_grade": ok})
    return out


def bench_labelled(index: Path, data: Path, embedder=None, scorer: str = "letters",
                   leave_out: tuple[str, ...] = ()) -> dict:
    """The answering engine on the labelled analyst questions (``data/judge``): each question asked
    of the whole index (a "which authorities" answer), a report counting as listed when the answer
    quotes it. Figures per (question, report) as ``assistant train judge`` prints them for the judge.

    ``scorer``: "rules" answers with the rules of ``evidence`` alone; "veto" with the judge's
    stance model vetoing the opposite polarity (the default judge); "letters" with the judge's
    letter model deciding each letter, beside the rules' bars (the shipped scorer); "alone" with
    the letter model deciding alone. The labels are of these very reports, so a judge answers
    each fold's reports only, trained without that fold's authorities (and without the label sets
    named in ``leave_out``, as the shipped judge was; the labels scored against are all of them)."""
    from .engine import Assistant
    from .errors import TrainingError
    from .scoring import JudgedScorer
    from .training import QUESTION_KINDS, gold_by_report, listing_figures, load_labels, questions_of, topic_sets

    topics = json.loads((data / "topics.json").read_text(encoding="utf-8"))
    questions = questions_of(topics)
    items = load_labels(data)
    gold = gold_by_report(items, questions)
    asked = {topic for topic, _ in questions}
    sets = {t: name for t, name in topic_sets(items).items() if t in asked}
    assistant = Assistant.open(index, embedder=embedder, judge="none")
    indexed = {e["path"]: (e["meta"].get("authority") or "") for e in assistant.letters()}
    reports = sorted({k[2] for k in gold} & set(indexed))
    # each question asked of the whole index, as a user asks it; with a judge, once per fold,
    # by the judge trained without that fold's authorities, counting only that fold's reports
    folds: list = [(None, set(reports))]
    if scorer != "rules":
        from .training import held_out_folds, train_judge

        held_out = train_judge(data, None, assistant.embedder, index=index if scorer in ("letters", "alone") else None,
                               leave_out=leave_out)[2]
        missing = [r for r in reports if r not in held_out]
        if missing:
            raise TrainingError(f"no labels for {len(missing)} indexed reports ({missing[0]}, ...): index only labelled ones")
        folds = [(j, set(members)) for j, members in held_out_folds(held_out, reports)]
    listed: set = set()
    clock, asked = time.perf_counter(), 0
    for (topic, kind), question in sorted(questions.items()):
        for judge, members in folds:
            assistant.judge = judge  # None: the rules
            assistant.scorer = JudgedScorer(judge, bars=False) if scorer == "alone" else None
            ans = assistant.ask(question)
            asked += 1
            listed |= {(topic, kind, c.letter) for c in ans.citations if c.letter in members}
    keys = [k for k in gold if k[2] in indexed]
    out = {"scorer": scorer, "reports": len(reports), "questions": len(questions), "asked": asked,
           "seconds_per_question": (time.perf_counter() - clock) / max(1, asked)}
    groups = [("all", keys)] + [(kind, [k for k in keys if k[1] == kind]) for kind in QUESTION_KINDS]
    # by the label set that brought each topic: how the answers read topics labelled later
    groups += [(f"set:{name or 'first'}", [k for k in keys if sets.get(k[0]) == name])
               for name in sorted(set(sets.values()))]
    for name, sel in groups:
        figures = listing_figures([k in listed for k in sel], [gold[k] == "says" for k in sel],
                                  [gold[k] == "opposite" for k in sel])
        out[name] = {k: v if k == "pairs" else round(v, 3) for k, v in figures.items()}
        out[name]["topics"] = len({k[0] for k in sel})
    return out


def print_labelled(r: dict) -> None:
    print(f"scored by: {r['scorer']}; {r['questions']} labelled questions x {r['reports']} reports ({r['asked']} asks, "
          f"{r['seconds_per_question'] * 1000:.0f} ms each)")
    for name in ["all", "weak", "strong", "mention"] + [k for k in r if k.startswith("set:")]:
        f = r[name]
        if name.startswith("set:"):
            print(f"topics of the {name[4:]} labels ({f['topics']} topics):")
            name = ""
        print(f"{name:>8}: {f['pairs']} pairs, balanced accuracy {f['balanced_accuracy']:.3f} (recall "
              f"{f['recall']:.3f}, specificity {f['specificity']:.3f}); listed whose report says the "
              f"opposite {f['opposite_listed']:.3f}")
