"""Pooled candidates: the sentences answers quote for the labelled questions, to be labelled.

The first candidates were the sentences nearest each topic. An answer reads whole reports and
may quote a sentence that was never a candidate; a report whose candidates only praised
caseloads counts as "saying the opposite" of "caseloads too high" even when the answer found
"caseloads are still too high in some teams" in it. Pooling (as retrieval evaluations judge
the union of what several systems return) labels what the answers quote too.

Each labelled question is asked of an index of the labelled reports by three scorers: the
judge's letter model with the rules' bars (the shipped scorer), the letter model alone, and the
rules alone; with a judge, once per fold, by the judge trained without that fold's authorities.
Every quoted sentence that is not yet a candidate for the question's topic is added to
``<out>/<authority>.pooled.jsonl`` (``pooled_from`` names the scorers that quoted it; labellers
are not shown it). A file already there is added to, never rewritten: the pooled candidates
labelled before keep their place beside their labels.

    python tools/judge_pool.py --index /tmp/real --out data/judge/candidates
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from assistant.scoring import JudgedScorer
from assistant.engine import Assistant
from assistant.training import (gold_by_report, held_out_folds, label_file, load_labels, questions_of,
                                sentence_words, train_judge)

SCORERS = ("shipped", "alone", "rules")


def pool(index: Path, data: Path) -> dict[str, list[dict]]:
    """Per authority, the quoted sentences that are not yet candidates for their question's topic."""
    items = load_labels(data)
    questions = questions_of(json.loads((data / "topics.json").read_text(encoding="utf-8")))
    gold = gold_by_report(items, questions)
    assistant = Assistant.open(index, judge="none")
    snap = assistant.snapshot
    held_out = train_judge(data, None, assistant.embedder, index=index)[2]
    reports = sorted({k[2] for k in gold} & set(snap.path_index))
    folds = [(j, set(members)) for j, members in held_out_folds(held_out, reports)]
    quoted: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for name in SCORERS:
        for (topic, _kind), question in sorted(questions.items()):
            for judge, members in (folds if name != "rules" else [(None, set(reports))]):
                assistant.judge = judge
                assistant.scorer = JudgedScorer(judge, bars=False) if name == "alone" else None
                answer = assistant.ask(question)
                for c in answer.citations:
                    if c.letter not in members:
                        continue
                    for row in snap.sentence_rows(snap.path_index[c.letter]):
                        s, e = snap.sentence_spans[row]
                        if s < c.end and e > c.start:
                            quoted[(c.letter, topic, row)].add(name)
    known = {(c["report"], c["topic"], sentence_words(c["sentence"]))
             for path in sorted((data / "candidates").glob("*.jsonl"))
             for c in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    authority = {x.report: x.authority for x in items}
    out: dict[str, list[dict]] = defaultdict(list)
    for (report, topic, row), names in sorted(quoted.items()):
        text = snap.record(snap.path_index[report]).text
        s, e = snap.sentence_spans[row]
        sentence = text[s:e].strip()
        if (report, topic, sentence_words(sentence)) in known or len(sentence_words(sentence).split()) < 3:
            continue
        ps, pe = snap.sentence_spans[row - 1] if row else (0, 0)
        context = text[ps:pe].strip() if row and pe <= s else ""
        out[authority[report]].append({
            "id": f"{Path(report).stem}-{topic}-p{row}", "report": report, "authority": authority[report],
            "topic": topic, "sentence": sentence, "context": context, "pooled_from": sorted(names)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True, help="an index of the labelled reports")
    ap.add_argument("--data", type=Path, default=Path("data/judge"), help="labelled data (default data/judge)")
    ap.add_argument("--out", type=Path, required=True, help="folder for <authority>.pooled.jsonl")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    found = pool(args.index, args.data)
    for name, rows in sorted(found.items()):
        rows.sort(key=lambda r: (r["topic"], r["report"], r["id"]))
        with open(args.out / label_file(name, "pooled"), "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    print(f"{sum(map(len, found.values()))} sentences to label over {len(found)} authorities in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
