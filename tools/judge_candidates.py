"""Candidate sentences for labelling the evidence judge.

For each selected report and each topic in data/judge/topics.json, the sentences the bundled
model finds closest to the topic's questions (weakness, strength, description) are written
to data/judge/candidates/<authority>.jsonl for a person to label.

    python tools/judge_candidates.py ../shared/real-reports --out data/judge/candidates
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from assistant.chunking import chunk_letter, clean
from assistant.embedding import load_embedder
from assistant.errors import LetterError
from assistant.letters import page_at, read_document
from assistant.training import label_file

PER_TOPIC = 6
PER_MENTION = 4


def select_reports(folder: Path, rest: bool = False, every: bool = False) -> dict[str, list[str]]:
    """Per authority: its latest report and its earliest (when it has more than one); with
    ``rest``, its other reports instead; with ``every``, all of them."""
    by = defaultdict(list)
    for row in csv.DictReader(open(folder / "reports.csv", encoding="utf-8")):
        d, m, y = row["publication_date"].split("/")
        by[row["local_authority"]].append((f"20{y}-{m}-{d}", row["file"]))
    chosen = {}
    for auth, rows in by.items():
        rows.sort()
        ends = {rows[-1][1], rows[0][1]}
        chosen[auth] = sorted({f for _, f in rows}) if every else sorted({f for _, f in rows} - ends) if rest \
            else sorted(ends)
    return {a: fs for a, fs in chosen.items() if fs}


def sentences_of(path: Path, count_tokens) -> list[dict]:
    doc = read_document(path)
    out = []
    for chunk in chunk_letter(doc.text, count_tokens):
        prev = ""
        for s, e in chunk.sentences:
            text = clean(doc.text[s:e])
            if 5 <= len(text.split()) <= 90 and re.search(r"[a-z]{3}", text):
                out.append({"sentence": text, "context": prev, "section": chunk.section,
                            "page": page_at(doc.page_starts, s)})
            prev = text
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reports", type=Path)
    ap.add_argument("--out", type=Path, default=Path("data/judge/candidates"))
    ap.add_argument("--topics", type=Path, default=Path("data/judge/topics.json"))
    ap.add_argument("--rest", action="store_true", help="the reports between each authority's first and last")
    ap.add_argument("--every", action="store_true", help="every report of each authority")
    ap.add_argument("--per-topic", type=int, default=PER_TOPIC, help=f"sentences per report and topic ({PER_TOPIC})")
    ap.add_argument("--suffix", default="", help='added to each file name, e.g. ".narrow"')
    args = ap.parse_args()
    topics = json.loads(args.topics.read_text())
    emb = load_embedder(None)
    queries = []
    for t in topics:
        for key in ("weak", "strong", "mention", "describe"):
            if key in t:
                queries.append((t["topic"], t[key]))
    qvecs = emb.embed([q for _, q in queries])
    args.out.mkdir(parents=True, exist_ok=True)
    for auth, files in sorted(select_reports(args.reports, args.rest, args.every).items()):
        rows = []
        for f in files:
            try:
                sents = sentences_of(args.reports / "pdf" / f, emb.count_tokens)
            except LetterError as exc:
                print(f"skip {f}: {exc}", file=sys.stderr)
                continue
            if not sents:
                continue
            vecs = emb.embed([s["sentence"] for s in sents])
            sims = vecs @ qvecs.T
            for t in topics:
                cols = [i for i, (name, _) in enumerate(queries) if name == t["topic"]]
                score = sims[:, cols].max(axis=1)
                k = PER_MENTION if "mention" in t else args.per_topic
                seen = set()
                for i in np.argsort(-score):
                    if len(seen) >= k:
                        break
                    if sents[i]["sentence"] in seen:
                        continue
                    seen.add(sents[i]["sentence"])
                    rows.append({"id": f"{f[:-4]}-{t['topic']}-{len(seen)}", "report": f, "authority": auth,
                                 "topic": t["topic"], **sents[i], "similarity": round(float(score[i]), 3)})
        path = args.out / label_file(auth, args.suffix.lstrip("."))
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(auth, files, len(rows), flush=True)


if __name__ == "__main__":
    main()
