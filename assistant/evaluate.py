"""Scoring the assistant on a question set (JSON lines with gold authorities and evidence).

Each line: ``{"id", "question", "kind": "aggregate"|"factoid"|"abstain", "authorities": [...],
"evidence": [{"letter", "contains"}], "answer_contains": [...]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .answer import Answer, unescape_md
from .chunking import clean


@dataclass
class Case:
    id: str
    question: str
    kind: str
    authorities: list[str]
    evidence: list[dict]
    answer_contains: list[str]


def load_questions(path: Path | str) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                cases.append(Case(d["id"], d["question"], d["kind"], d.get("authorities", []),
                                  d.get("evidence", []), d.get("answer_contains", [])))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{n}: not a question line ({exc}); see `assistant eval --help`") from None
    return cases


def evaluate(assistant, cases: list[Case], texts: dict[str, str] | None = None) -> dict:
    """Run every case and return the metrics (and per-question details under "questions")."""
    if texts is None:
        snap = assistant.snapshot
        texts = {e["path"]: snap.record(i).text for i, e in enumerate(snap.letters)} if snap else {}
    tp = fp = fn = 0
    ev_hit = ev_total = 0
    contains_hit = contains_total = 0
    abstain_ok = abstain_total = 0
    quotes_ok = quotes_total = 0
    rows = []
    for case in cases:
        ans: Answer = assistant.ask(case.question)
        got = set(ans.authorities)
        row = {"id": case.id, "kind": case.kind, "found": ans.found, "authorities": sorted(got)}
        if case.kind == "aggregate":
            gold = set(case.authorities)
            tp += len(got & gold)
            fp += len(got - gold)
            fn += len(gold - got)
            row["missing"], row["extra"] = sorted(gold - got), sorted(got - gold)
        if case.kind == "abstain":
            abstain_total += 1
            ok = not ans.found and not ans.citations
            abstain_ok += ok
            row["abstained"] = ok
        missed = []
        for ev in case.evidence:
            ev_total += 1
            needle = clean(ev["contains"])
            hit = any(c.letter == ev["letter"] and needle in clean(c.quote) for c in ans.citations)
            ev_hit += hit
            if not hit:
                missed.append(ev["contains"])
        row["evidence_missed"] = missed
        plain = unescape_md(ans.answer)
        for needle in case.answer_contains:
            contains_total += 1
            contains_hit += needle.lower() in plain.lower()
        for c in ans.citations:
            quotes_total += 1
            text = texts.get(c.letter, "")
            quotes_ok += clean(c.quote) in clean(text) and clean(text[c.start:c.end]) == clean(c.quote)
        rows.append(row)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "questions": len(cases),
        "authority_precision": round(precision, 4), "authority_recall": round(recall, 4),
        "authority_f1": round(f1, 4),
        "evidence_recall": round(ev_hit / ev_total, 4) if ev_total else 1.0,
        "answer_contains": round(contains_hit / contains_total, 4) if contains_total else 1.0,
        "abstention": round(abstain_ok / abstain_total, 4) if abstain_total else 1.0,
        "citation_integrity": round(quotes_ok / quotes_total, 4) if quotes_total else 1.0,
        "details": rows,
    }


TARGETS = {"authority_f1": 0.95, "evidence_recall": 0.95, "answer_contains": 1.0, "abstention": 1.0,
           "citation_integrity": 1.0}


def format_report(metrics: dict) -> str:
    lines = [f"{metrics['questions']} questions"]
    for key, target in TARGETS.items():
        mark = "ok " if metrics[key] >= target else "LOW"
        lines.append(f"  {mark} {key:<20} {metrics[key]:.3f}   (target >= {target})")
    lines.append(f"      authority precision  {metrics['authority_precision']:.3f}, "
                 f"recall {metrics['authority_recall']:.3f}")
    for row in metrics["details"]:
        notes = []
        if row.get("missing"):
            notes.append(f"missing {row['missing']}")
        if row.get("extra"):
            notes.append(f"extra {row['extra']}")
        if row.get("evidence_missed"):
            notes.append(f"evidence not quoted: {row['evidence_missed']}")
        if row.get("abstained") is False:
            notes.append("answered instead of abstaining")
        if notes:
            lines.append(f"  {row['id']}: " + "; ".join(notes))
    return "\n".join(lines)
