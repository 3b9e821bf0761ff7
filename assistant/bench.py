"""Benchmarks that print figures: retrieval quality on BEIR SciFact, and more.

``assistant bench scifact DIR`` scores BM25 alone, dense alone and the fused ranking with
the same engine the letters use (same chunking, tokenizer and fusion), beside published
figures for the same test set.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np

from .chunking import chunk_letter, embed_text
from .config import ChunkSettings
from .fusion import fuse

PUBLISHED_SCIFACT = {
    "BM25 (BEIR, Thakur et al. 2021)": 0.665,
    "all-MiniLM-L6-v2 (dense)": 0.645,
    "BM25 + cross-encoder rerank (BEIR)": 0.688,
    "bge-small-en-v1.5 (dense)": 0.713,
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "inspection-letters-assistant"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_beir(folder: Path) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """(doc ids, doc texts, queries by id, qrels) of a BEIR-format folder."""
    folder = Path(folder)
    corpus_path = next((folder / n for n in ("corpus.jsonl.gz", "corpus.jsonl") if (folder / n).exists()), None)
    if corpus_path is None:
        raise FileNotFoundError(f"no corpus.jsonl(.gz) in {folder}; point to a BEIR dataset folder")
    opener = gzip.open if corpus_path.suffix == ".gz" else open
    ids, texts = [], []
    with opener(corpus_path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            ids.append(str(d["_id"]))
            title = (d.get("title") or "").strip()
            texts.append(f"{title}\n\n{d.get('text', '')}" if title else d.get("text", ""))
    qpath = next(p for p in (folder / "queries.test.jsonl", folder / "queries.jsonl") if p.exists())
    queries = {}
    with open(qpath, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            queries[str(d["_id"])] = d["text"]
    qrels: dict[str, dict[str, int]] = {}
    rpath = next(p for p in (folder / "qrels.test.tsv", folder / "qrels" / "test.tsv") if p.exists())
    with open(rpath, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {q: t for q, t in queries.items() if q in qrels}
    return ids, texts, queries, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def bench_scifact(folder: Path, embedder, *, settings: ChunkSettings = ChunkSettings(),
                  alphas: tuple[float, ...] = ()) -> dict:
    """nDCG@10 and Recall@100 for keyword, dense and fused rankings (doc score = best passage)."""
    from .textsearch import WINDOW, KeywordIndex, tokenize

    ids, texts, queries, qrels = load_beir(folder)
    limit = min(settings.max_tokens, embedder.max_tokens)
    settings = ChunkSettings(**{**settings.to_dict(), "max_tokens": limit})
    owner, ptexts, groups = [], [], []
    for i, text in enumerate(texts):
        for c in chunk_letter(text, embedder.count_tokens, settings, bounds=(0, len(text))):
            owner.append(i)
            groups.append((i, c.section))
            ptexts.append(embed_text(text, c)[0])
    owner = np.array(owner)
    key = hashlib.sha256(json.dumps([embedder.name, settings.to_dict(), len(ptexts),
                                     hashlib.sha256("\x00".join(ptexts).encode()).hexdigest()]).encode()).hexdigest()[:16]
    cache = cache_dir() / f"scifact-{key}.npy"
    if cache.exists():
        vecs = np.load(cache, allow_pickle=False)
    else:
        t0 = time.perf_counter()
        vecs = embedder.embed(ptexts)
        np.save(cache, vecs, allow_pickle=False)
        print(f"embedded {len(ptexts)} passages in {time.perf_counter() - t0:.0f} s (cached in {cache})")
    keyword = KeywordIndex.build([tokenize(t) for t in ptexts], groups, WINDOW)
    qids = list(queries)
    qvecs = embedder.embed([queries[q] for q in qids])
    dense_all = vecs @ qvecs.T
    n_docs = len(ids)
    runs = {"bm25": [], "dense": [], "fused": []}
    extra = {a: [] for a in alphas}
    for j, q in enumerate(qids):
        d = dense_all[:, j]
        k = keyword.scores(tokenize(queries[q]))
        doc_scores = {
            "bm25": _doc_max(k, owner, n_docs),
            "dense": _doc_max(d, owner, n_docs),
            "fused": _doc_max(fuse(d, k), owner, n_docs),
        }
        for a in alphas:
            extra[a].append(_ranked(_doc_max(fuse(d, k, alpha=a), owner, n_docs), ids))
        for name, s in doc_scores.items():
            runs[name].append(_ranked(s, ids))
    out = {}
    for name, ranked in runs.items():
        out[name] = _metrics(ranked, qids, qrels)
    for a, ranked in extra.items():
        out[f"fused@alpha={a}"] = _metrics(ranked, qids, qrels)
    return out


def _metrics(ranked, qids, qrels) -> dict:
    return {"ndcg@10": round(float(np.mean([ndcg_at(r, qrels[q]) for r, q in zip(ranked, qids)])), 4),
            "recall@100": round(float(np.mean([recall_at(r, qrels[q]) for r, q in zip(ranked, qids)])), 4)}


def _doc_max(scores: np.ndarray, owner: np.ndarray, n_docs: int) -> np.ndarray:
    out = np.full(n_docs, -np.inf, dtype=np.float32)
    np.maximum.at(out, owner, scores)
    return out


def _ranked(doc_scores: np.ndarray, ids: list[str], k: int = 100) -> list[str]:
    top = np.argpartition(-doc_scores, k)[:k]
    return [ids[i] for i in top[np.argsort(-doc_scores[top])]]


def print_scifact(results: dict) -> None:
    print(f"{'ranking':<34}{'nDCG@10':>9}{'Recall@100':>12}")
    for name, m in results.items():
        print(f"{name:<34}{m['ndcg@10']:>9.3f}{m['recall@100']:>12.3f}")
    print("\npublished nDCG@10 on the same test set:")
    for name, v in PUBLISHED_SCIFACT.items():
        print(f"  {name:<40}{v:.3f}")


# ---------------------------------------------------------------- re-indexing

def synthetic_corpus(tool: Path, n: int, seed: int = 0) -> Path:
    """N synthetic letters from ``make_corpus.py``, generated once and cached."""
    import subprocess
    import sys

    out = cache_dir() / f"synthetic-{n}-seed{seed}"
    if not (out.is_dir() and len(list(out.glob("*.txt"))) >= n):
        tool = Path(tool)
        if not tool.is_file():
            raise FileNotFoundError(f"{tool} not found; pass --tool path/to/make_corpus.py")
        subprocess.run([sys.executable, str(tool), str(out), "--letters", str(n), "--seed", str(seed)], check=True)
    return out


def _median_time(fn, repeats: int) -> float:
    import statistics

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_reindex(tool: Path, sizes: list[int], embedder, repeats: int = 3) -> list[dict]:
    """Seconds to add one letter, remove one, and sync with no change, per index size (medians)."""
    import shutil
    import tempfile

    from .indexing import sync

    extra = synthetic_corpus(tool, max(3, repeats), seed=999)
    rows = []
    for n in sizes:
        corpus = synthetic_corpus(tool, n)
        from .store import FORMAT_VERSION

        base = cache_dir() / f"index-{n}-{hashlib.sha256(embedder.name.encode()).hexdigest()[:8]}-v{FORMAT_VERSION}"
        if not (base / "manifest.json").exists():
            t0 = time.perf_counter()
            sync(corpus, base, embedder, progress=True)
            print(f"built the {n}-letter index in {time.perf_counter() - t0:.0f} s (cached in {base})")
        with tempfile.TemporaryDirectory() as tmp:
            work_corpus, work_index = Path(tmp) / "corpus", Path(tmp) / "index"
            shutil.copytree(corpus, work_corpus)
            shutil.copytree(base, work_index)
            sync(work_corpus, work_index, embedder, progress=False)  # warm: model loaded, caches primed
            newcomers = iter(sorted(extra.glob("*.txt")))  # a different letter each time: really embedded

            def add():
                shutil.copy(next(newcomers), work_corpus / "newcomer.txt")
                report = sync(work_corpus, work_index, embedder, progress=False)
                assert report.added == ["newcomer.txt"], report.summary()

            def remove():
                (work_corpus / "newcomer.txt").unlink()
                report = sync(work_corpus, work_index, embedder, progress=False)
                assert report.removed == ["newcomer.txt"], report.summary()

            add_times, remove_times = [], []
            for _ in range(repeats):
                add_times.append(_median_time(add, 1))
                remove_times.append(_median_time(remove, 1))
            import statistics

            rows.append({
                "letters": n,
                "add_one_s": round(statistics.median(add_times), 3),
                "remove_one_s": round(statistics.median(remove_times), 3),
                "no_change_s": round(_median_time(lambda: sync(work_corpus, work_index, embedder, progress=False),
                                                  repeats), 3),
            })
    return rows


def print_reindex(rows: list[dict]) -> None:
    print(f"{'letters':>8}{'add one (s)':>14}{'remove one (s)':>16}{'no change (s)':>15}")
    for r in rows:
        print(f"{r['letters']:>8}{r['add_one_s']:>14.3f}{r['remove_one_s']:>16.3f}{r['no_change_s']:>15.3f}")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"growth {a['letters']} -> {b['letters']} letters: add x{b['add_one_s'] / a['add_one_s']:.2f}, "
              f"remove x{b['remove_one_s'] / a['remove_one_s']:.2f}, no change x{b['no_change_s'] / a['no_change_s']:.2f}")


# ---------------------------------------------------------------- speed and scale

TOPICS = ["contingency planning", "supervision", "caseloads", "audits", "assessments of disabled children",
          "child protection plans", "return home interviews", "management oversight", "early help",
          "pre-birth assessments", "neglect", "mental health waiting times", "staff turnover", "care planning",
          "strategy meetings", "domestic abuse", "homeless young people", "chronologies", "thresholds",
          "recruitment of social workers", "participation of children", "quality assurance", "legal planning",
          "placement breakdown", "radicalisation"]
AGGREGATE_TEMPLATES = ["Which authorities had weak {t}?", "Where did inspectors find problems with {t}?"]
FOCUSED_TEMPLATES = ["What did inspectors say about {t} in {a}?", "How good was {t} in {a}?",
                     "What did the letter say about {t}?"]


def speed_questions(authorities: list[str], n: int = 50) -> list[str]:
    """``n`` varied questions: every fourth asks about all authorities, the rest are focused."""
    out = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        if i % 4 == 0:
            out.append(AGGREGATE_TEMPLATES[(i // 4) % len(AGGREGATE_TEMPLATES)].format(t=t))
        else:
            a = authorities[(i * 7) % len(authorities)] if authorities else "Wirral"
            out.append(FOCUSED_TEMPLATES[i % len(FOCUSED_TEMPLATES)].format(t=t, a=a))
    return out


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


COLD_START = """
import sys, time
t0 = float(sys.argv[3])
from assistant.engine import Assistant
a = Assistant.open(sys.argv[1])
a.ask(sys.argv[2])
elapsed = time.time() - t0
# VmHWM is this process's own peak (ru_maxrss can carry the parent's over exec)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(elapsed, peak)
"""


#: The bare encode loop runs on at most this many of the passages (a random sample): its
#: tokens/s is what the build's is compared with, and at 10,000 letters the whole loop
#: would take as long as the build itself.
BARE_PASSAGES = 20_000


def bench_speed(tool: Path, sizes: list[int], embedder, *, backend: str = "torch", questions: int = 50,
                keep: Path | None = None, bare_passages: int = BARE_PASSAGES) -> list[dict]:
    """Build, query and start-up figures per collection size (see ``print_speed``).

    With ``keep``, each index is built in ``keep/index-N`` and left there; a later run with
    the same ``keep`` reuses it (no build figures then) to measure questions and start-up.
    """
    import resource
    import shutil
    import statistics
    import subprocess
    import sys
    import tempfile

    from .chunking import embed_text as passage_text
    from .engine import Assistant
    from .indexing import sync
    from .store import IndexFolder

    results = []
    for n in sizes:
        corpus = synthetic_corpus(tool, n)
        tmp = Path(tempfile.mkdtemp(prefix=f"speed-{n}-"))
        index = (Path(keep) / f"index-{n}") if keep else tmp / "index"
        build = None
        if not (keep and IndexFolder(index).exists()):
            embedder.embed(["warm up the model"])  # loading the model is start-up, not build
            t0 = time.perf_counter()
            report = sync(corpus, index, embedder, progress=False, rebuild=True)
            build_s = time.perf_counter() - t0
            build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            folder = IndexFolder(index)
            texts = [passage_text(r.text, c)[0] for r in (folder.read_letter(e["sha256"])
                                                         for e in folder.read_manifest()["letters"]) for c in r.chunks]
            tokens = sum(embedder.count_tokens(texts))
            sample = texts
            if len(texts) > bare_passages:
                pick = np.random.default_rng(0).choice(len(texts), size=bare_passages, replace=False)
                sample = [texts[i] for i in sorted(pick)]
            sample_tokens = sum(embedder.count_tokens(sample))
            t0 = time.perf_counter()
            embedder.embed(sample)  # the bare loop: the same passages, no reading, chunking or writing
            bare_s = time.perf_counter() - t0
            build = {
                "seconds": round(build_s, 2), "letters_per_s": round(n / build_s, 2),
                "passages_per_s": round(report.passages / build_s, 1), "tokens_per_s": round(tokens / build_s),
                "bare_tokens_per_s": round(sample_tokens / bare_s), "bare_passages": len(sample),
                "ratio_to_bare": round((tokens / build_s) / (sample_tokens / bare_s), 3),
                "split_s": {k: round(v, 2) for k, v in report.timings.items()}, "passages": report.passages,
                "tokens": tokens, "peak_rss_mb": round(build_rss),
            }

        assistant = Assistant.open(index, embedder=embedder)
        qs = speed_questions(assistant.authorities(), questions)
        for q in qs[:3]:
            assistant.ask(q)  # warm: model and caches primed
        rows = []
        for q in qs:
            timing: dict = {}
            t0 = time.perf_counter()
            ans = assistant.ask(q, timings=timing)
            rows.append((time.perf_counter() - t0, timing, bool(assistant.read(q).aggregate), ans.found))
        total = [r[0] * 1000 for r in rows]
        agg = [r[0] * 1000 for r in rows if r[2]]
        other = [r[0] * 1000 for r in rows if not r[2]]

        import os

        env = {**os.environ, "ASSISTANT_BACKEND": backend}
        start = time.time()
        out = subprocess.run([sys.executable, "-c", COLD_START, str(index), qs[1], repr(start)],
                             capture_output=True, text=True, check=True, env=env)
        cold_s, serve_rss = (float(x) for x in out.stdout.split()[-2:])
        results.append({
            "letters": n,
            "backend": backend,
            "build": build,
            "query": {
                "p50_ms": round(_percentile(total, 50), 1), "p95_ms": round(_percentile(total, 95), 1),
                "aggregate_p50_ms": round(_percentile(agg, 50), 1), "aggregate_p95_ms": round(_percentile(agg, 95), 1),
                "other_p95_ms": round(_percentile(other, 95), 1),
                "split_p50_ms": {k: round(statistics.median(r[1][k] for r in rows if k in r[1]) * 1000, 1)
                                 for k in ("embed", "search", "compose")},
                "questions": len(qs), "answered": sum(r[3] for r in rows),
            },
            "cold_start_s": round(cold_s, 2),
            "peak_rss_mb": round(max(serve_rss, 0)),
            "index_mb": round(_folder_bytes(index) / 1e6, 1),
            "search": IndexFolder(index).read_manifest()["files"],
        })
        shutil.rmtree(tmp, ignore_errors=True)
    return results


COMPARE_THEMES = ["care leavers", "management oversight", "caseloads", "contingency planning", "neglect",
                  "exploitation", "supervision", "assessments", "early help", "child protection plans"]


def bench_compare(tool: Path, n: int, embedder, *, authorities: int = 5, repeats: int = 20,
                  keep: Path | None = None) -> dict:
    """Time ``Assistant.compare`` over ``authorities`` authorities on ``n`` synthetic letters
    (median and p95 of ``repeats`` compares on varied themes and authorities), beside a
    focused question about one authority asked in the same run (the baseline). With ``keep``,
    the index is ``keep/index-N`` as ``bench speed --keep`` builds it, reused when there."""
    import tempfile

    from .engine import Assistant
    from .indexing import sync
    from .store import IndexFolder

    corpus = synthetic_corpus(tool, n)
    index = (Path(keep) / f"index-{n}") if keep else Path(tempfile.mkdtemp(prefix=f"compare-{n}-")) / "index"
    if not IndexFolder(index).exists():
        sync(corpus, index, embedder, progress=False)
    assistant = Assistant.open(index, embedder=embedder)
    names = assistant.authorities()
    if len(names) < authorities:
        raise ValueError(f"the collection has {len(names)} authorities; a compare of {authorities} needs more")
    picks = [[names[(i * 7 + k * 11) % len(names)] for k in range(authorities)] for i in range(repeats)]
    themes = [COMPARE_THEMES[i % len(COMPARE_THEMES)] for i in range(repeats)]
    assistant.compare(picks[0], themes[0])  # warm: model and caches primed
    compare_ms, ask_ms, cells = [], [], 0
    for group, theme in zip(picks, themes):
        t0 = time.perf_counter()
        result = assistant.compare(group, theme)
        compare_ms.append((time.perf_counter() - t0) * 1000)
        cells += sum(bool(r["citations"]) for r in result["rows"])
        t0 = time.perf_counter()
        assistant.ask(f"What did inspectors say about {theme} in {group[0]}?")
        ask_ms.append((time.perf_counter() - t0) * 1000)
    p50 = _percentile(compare_ms, 50)
    return {"letters": len(assistant.letters()), "authorities": authorities, "compares": repeats,
            "compare_p50_ms": round(p50, 1), "compare_p95_ms": round(_percentile(compare_ms, 95), 1),
            "ask_p50_ms": round(_percentile(ask_ms, 50), 1),
            "ratio_to_ask": round(p50 / _percentile(ask_ms, 50), 2),
            "cells_quoted": cells, "cells": repeats * authorities}


def print_compare(r: dict) -> None:
    print(f"{r['authorities']}-authority compare on {r['letters']} letters ({r['compares']} compares, varied "
          f"themes):")
    print(f"  compare  p50 {r['compare_p50_ms']:.0f} ms   p95 {r['compare_p95_ms']:.0f} ms   (target <= 1000 ms)")
    print(f"  one focused question (baseline, same run)  p50 {r['ask_p50_ms']:.0f} ms")
    print(f"  compare / question  x{r['ratio_to_ask']:.2f}")
    print(f"  cells with quotes  {r['cells_quoted']} of {r['cells']}")


def print_speed(results: list[dict]) -> None:
    import os
    import platform

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; backend {results[0]['backend']}")
    head = ("letters", "build tok/s", "bare tok/s", "ratio", "read s", "embed s", "write s", "q p50 ms", "q p95 ms",
            "agg p95 ms", "other p95 ms", "cold s", "RSS MB", "index MB")
    print(" | ".join(head))
    for r in results:
        b, q = r["build"], r["query"]
        if b is None:  # a kept index, reused: questions and start-up only
            b = {"tokens_per_s": "-", "bare_tokens_per_s": "-", "ratio_to_bare": "-", "split_s": dict.fromkeys(
                ("read", "embed", "write"), "-")}
        print(" | ".join(str(x) for x in (
            r["letters"], b["tokens_per_s"], b["bare_tokens_per_s"], b["ratio_to_bare"], b["split_s"]["read"],
            b["split_s"]["embed"], b["split_s"]["write"], q["p50_ms"], q["p95_ms"], q["aggregate_p95_ms"],
            q["other_p95_ms"], r["cold_start_s"], r["peak_rss_mb"], r["index_mb"])))
        print(f"   query split (p50 ms): {q['split_p50_ms']}; answered {q['answered']}/{q['questions']}; "
              f"search: {r['search']['search']}")


# ---------------------------------------------------------------- search structure

def bench_search(index_dir: Path, sizes: list[int], queries: int = 200) -> list[dict]:
    """Exact against HNSW search over collections of ``sizes`` passage vectors.

    The vectors are an index's own distinct passage and sentence vectors, repeated with a
    little noise where a size needs more of them; the questions are other sentence vectors. Prints
    per size: time per question (median over ``queries``) for exact search, for HNSW at the
    depth its tuning chose (top 10) and at the depth answers use (DENSE_CANDIDATES), the
    HNSW build time and its recall@10.
    """
    import faiss

    from .embedding import one_blas_thread
    from .search import DENSE_CANDIDATES, _distinct_rows, _matvec, new_hnsw, stored_vectors, tune_depth
    from .store import IndexFolder

    one_blas_thread()  # as when answering
    folder = IndexFolder(index_dir)
    gen = folder.root / folder.read_manifest()["files"]["generation_dir"]
    dense = faiss.read_index(str(gen / "dense.faiss"))
    base = np.concatenate([
        stored_vectors(dense).astype(np.float32),  # a copy: the view lives only as long as the index
        np.asarray(np.load(gen / "sentence_vectors.npy", mmap_mode="r"), np.float32)])
    base = base[_distinct_rows(base)[0]]  # as the index holds them: each distinct vector once
    rng = np.random.default_rng(0)
    order = rng.permutation(len(base))
    held, base = base[order[:queries]], base[order[queries:]]
    rows = []
    for n in sizes:
        parts, have = [], 0
        while have < n:
            take = base[:min(len(base), n - have)]
            if have:  # a copy, moved a little, so no two vectors are the same
                take = take + rng.normal(scale=0.01, size=take.shape).astype(np.float32)
            parts.append(take)
            have += len(take)
        vectors = np.concatenate(parts)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        exact_ms = _per_query_ms(lambda q: _matvec(vectors, q), held)
        t0 = time.perf_counter()
        index = new_hnsw(vectors)
        build_s = time.perf_counter() - t0
        ef, recall = tune_depth(index, vectors, held)
        top10 = faiss.SearchParametersHNSW(efSearch=ef)
        deep = faiss.SearchParametersHNSW(efSearch=max(ef, DENSE_CANDIDATES))  # as answers search
        k = min(n, DENSE_CANDIDATES)
        rows.append({
            "passages": n, "exact_ms": exact_ms,
            "hnsw_top10_ms": _per_query_ms(lambda q: index.search(q[None, :], 10, params=top10), held),
            "hnsw_candidates_ms": _per_query_ms(lambda q: index.search(q[None, :], k, params=deep), held),
            "hnsw_build_s": round(build_s, 1), "ef_search": ef, "recall_at_10": recall,
        })
        del index, vectors
    return rows


def _per_query_ms(fn, queries: np.ndarray) -> float:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(np.ascontiguousarray(q))
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(times)), 2)


def print_search(rows: list[dict]) -> None:
    print("passages | exact ms | HNSW top-10 ms | HNSW 2000 ms | HNSW build s | efSearch | recall@10")
    for r in rows:
        print(" | ".join(str(r[k]) for k in ("passages", "exact_ms", "hnsw_top10_ms", "hnsw_candidates_ms",
                                             "hnsw_build_s", "ef_search", "recall_at_10")))


# ---------------------------------------------------------------------------- the stance head's cost
def bench_stance_head(corpus: Path, embedder, repeats: int = 5) -> dict:
    """What the judge's stance head adds to indexing: the passages of the letters in ``corpus``
    embedded as indexing embeds them (passage and sentence vectors), with and without the head
    reading each sentence's tokens; medians of ``repeats`` runs, alternated."""
    import statistics

    from .chunking import embed_texts
    from .embedding import embed_with_sentences
    from .errors import AssistantError
    from .config import ChunkSettings
    from .indexing import MAX_PAGES, _settings_block, build_record, stance_head
    from .letters import sha256_file

    head = stance_head(embedder)
    if head is None:
        raise AssistantError(f"the model {embedder.name} has no judge with a stance head: nothing to measure")
    settings = ChunkSettings(**_settings_block(embedder, ChunkSettings())["chunking"])  # as indexing chunks
    texts, spans = embed_texts(build_record(path, sha256_file(path), embedder.count_tokens, settings, MAX_PAGES)
                               for path in sorted(corpus.glob("*.txt")) + sorted(corpus.glob("*.pdf")))
    if not texts:
        raise AssistantError(f"no letters in {corpus}/ to embed")
    embed_with_sentences(embedder, texts[:8], spans[:8])  # load the model before timing
    without, with_head = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        embed_with_sentences(embedder, texts, spans)
        without.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        embed_with_sentences(embedder, texts, spans, read=head)
        with_head.append(time.perf_counter() - t0)
    plain, read = statistics.median(without), statistics.median(with_head)
    return {"passages": len(texts), "sentences": sum(len(sp) for sp in spans), "head": head.name,
            "without_head_s": round(plain, 3), "with_head_s": round(read, 3), "ratio": round(read / plain, 3),
            "repeats": repeats}


def print_stance_head(r: dict) -> None:
    print(f"{r['passages']} passages, {r['sentences']} sentences, medians of {r['repeats']}: embedding "
          f"{r['without_head_s']} s without the stance head, {r['with_head_s']} s with it "
          f"(x{r['ratio']}; {r['head']})")


# ---------------------------------------------------------------------------- layout of real reports

_GRADE = re.compile(r":.*\b(outstanding|good|requires? improvement|inadequate)\b", re.IGNORECASE)
_LONE_NUMBER = re.compile(r"^\W*(?:page\s+)?\d{1,4}(?:\s+of\s+\d{1,4})?\W*$", re.IGNORECASE)


def raw_furniture(path: Path) -> tuple[list[re.Pattern], list[re.Pattern]]:
    """(varying, constant) patterns of a PDF's running headers and footers, found without ``layout``.

    From pypdf's plain text: a line among the first or last three of a page, repeated (digits
    aside) on at least 30% of pages. "Varying" ones differ across pages (they hold the page
    number); ``bench_layout`` counts the quotes and headings they leak into.
    """
    from pypdf import PdfReader

    pages = [[ln.strip() for ln in (p.extract_text() or "").splitlines() if ln.strip()] for p in PdfReader(path).pages]
    forms: dict[str, set[str]] = {}
    for lines in pages:
        for ln in set(lines[:3] + lines[-3:]):
            forms.setdefault(re.sub(r"\d+", "#", " ".join(ln.lower().split())), set()).add(ln)
    need = max(2, math.ceil(0.3 * len(pages)))
    counts = {k: sum(any(re.sub(r"\d+", "#", " ".join(x.lower().split())) == k for x in set(p[:3] + p[-3:]))
                     for p in pages) for k in forms}
    varying, constant = [], []
    for key, raw in forms.items():
        if counts[key] < need or len(key) < 8 or not re.search(r"[a-z]{3}", key):
            continue
        words = [r"\d+" if w.isdigit() else re.sub(r"\d+", r"\\d+", re.escape(w)) for w in next(iter(raw)).split()]
        pattern = re.compile(r"\s+".join(words) + (r"(?!\w)" if words[-1] == r"\d+" else ""), re.IGNORECASE)
        (varying if len(raw) > 1 else constant).append(pattern)
    return varying, constant


def _layout_one(path: Path) -> dict:
    from .chunking import chunk_letter, clean
    from .errors import LetterError
    from .letters import read_document
    from .metadata import DATE_RE, evidence_bounds

    start = time.perf_counter()
    try:
        doc = read_document(path)
    except LetterError as exc:
        return {"file": path.name, "failed": str(exc)}
    seconds = time.perf_counter() - start
    chunks = chunk_letter(doc.text, lambda xs: [len(x.split()) * 4 // 3 + 2 for x in xs],
                          bounds=evidence_bounds(doc.text), layout=doc.blocks)
    units = [(clean(doc.text[s:e]), doc.page_at(s), doc.page_at(e - 1)) for c in chunks for s, e in c.sentences]
    headings = [(clean(doc.text[b.start:b.end]), doc.page_at(b.start), doc.page_at(b.end - 1))
                for b in doc.blocks if b.kind == "heading"]
    rows = [clean(doc.text[b.start:b.end]) for b in doc.blocks if b.kind == "row"]
    plain = time.perf_counter()
    varying, constant = raw_furniture(path)  # pypdf's plain text: also the baseline for reading time
    plain = time.perf_counter() - plain

    def leaks(items) -> list[str]:
        # a header holding the page number is a leak anywhere; one that never changes is a leak
        # as a unit of its own (beyond page 1, where it is the title) or inside a unit that runs
        # over a page break (where headers and footers sit), not in a sentence that names it
        out = []
        for text, first, last in items:
            if _LONE_NUMBER.match(text) or any(p.search(text) for p in varying) or any(
                    (m := p.search(text)) and ((m.group(0) == text and first != 1) or first != last)
                    for p in constant):
                out.append(text)
        return out

    return {"file": path.name, "pages": len(doc.page_starts), "seconds": seconds, "plain_seconds": plain,
            "units": len(units),
            "headings": len(headings), "rows": len(rows), "grade_rows": sum(bool(_GRADE.search(r)) for r in rows),
            "footnotes": sum(b.kind == "footnote" for b in doc.blocks),
            "dated_headings": [h for h, _, _ in headings if DATE_RE.search(h)],
            "leaks_units": leaks(units), "leaks_headings": leaks(headings)}


def bench_layout(folder: Path, dev: list[str] | None = None, workers: int | None = None) -> dict:
    """Read every report under ``folder`` (``pdf/`` and ``reports.csv`` when present) and count
    furniture left in quotes and headings, headings and judgement rows found, failures, speed.

    With ``dev`` (authority names as in ``reports.csv``) the figures are also given for the
    development authorities and for the rest apart.
    """
    import csv
    from concurrent.futures import ThreadPoolExecutor

    folder = Path(folder)
    pdfs = sorted((folder / "pdf" if (folder / "pdf").is_dir() else folder).glob("*.pdf"))
    if not pdfs:
        raise FileNotFoundError(f"no .pdf files in {folder} or {folder}/pdf")
    authority = {}
    if (folder / "reports.csv").exists():
        with open(folder / "reports.csv", newline="", encoding="utf-8") as fh:
            authority = {r["file"]: r["local_authority"] for r in csv.DictReader(fh)}
    start = time.perf_counter()
    # each read runs in its own child process (read_document's guard), so threads give real parallelism
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        reports = list(pool.map(_layout_one, pdfs))
    wall = time.perf_counter() - start
    groups = {"all": reports}
    if dev:
        wanted = {d.strip().lower() for d in dev}
        groups["development"] = [r for r in reports if authority.get(r["file"], "").lower() in wanted]
        groups["held out"] = [r for r in reports if authority.get(r["file"], "").lower() not in wanted]
    out = {name: _layout_figures(rs) for name, rs in groups.items()}
    out["all"]["pages_per_second"] = sum(r.get("pages", 0) for r in reports) / wall
    out["all"]["workers"] = workers or os.cpu_count() or 1
    return out


def _layout_figures(reports: list[dict]) -> dict:
    read = [r for r in reports if "failed" not in r]
    per_page = [r["seconds"] / r["pages"] for r in read if r["pages"]]
    return {
        "reports": len(reports), "read": len(read), "pages": sum(r["pages"] for r in read),
        "units": sum(r["units"] for r in read),
        "units_with_furniture": sum(len(r["leaks_units"]) for r in read),
        "headings_with_furniture": sum(len(r["leaks_headings"]) for r in read),
        "headings_per_report_median": _median([r["headings"] for r in read]),
        "headings_holding_a_date": sum(len(r["dated_headings"]) for r in read),
        "reports_without_headings": [r["file"] for r in read if not r["headings"]],
        "grade_rows_per_report_median": _median([r["grade_rows"] for r in read]),
        "reports_without_grade_rows": [r["file"] for r in read if not r["grade_rows"]],
        "footnotes": sum(r["footnotes"] for r in read),
        "ms_per_page_median": 1000 * _median(per_page) if per_page else 0.0,
        "ratio_to_plain_pypdf_median": _median([r["seconds"] / r["plain_seconds"] for r in read if r["plain_seconds"]]),
        "failed": {r["file"]: r["failed"] for r in reports if "failed" in r},
        "leak_examples": [x for r in read for x in (r["leaks_units"] + r["leaks_headings"])][:10],
    }


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else 0.0


def print_layout(results: dict) -> None:
    for name, f in results.items():
        print(f"{name}: {f['read']} of {f['reports']} reports read, {f['pages']} pages, {f['units']} quotable units")
        print(f"  quotes holding a running header/footer or page number   {f['units_with_furniture']}")
        print(f"  headings holding a running header/footer or page number {f['headings_with_furniture']}")
        print(f"  headings per report (median)                            {f['headings_per_report_median']:.0f}")
        print(f"  headings holding a date                                 {f['headings_holding_a_date']}")
        print(f"  judgement rows per report (median)                      {f['grade_rows_per_report_median']:.0f}")
        print(f"  footnotes kept as their own passages                    {f['footnotes']}")
        print(f"  reading time per page (median)                          {f['ms_per_page_median']:.0f} ms")
        print(f"  reading time / pypdf's plain text of the same PDF       {f['ratio_to_plain_pypdf_median']:.2f}x")
        if "pages_per_second" in f:
            print(f"  pages per second over the run ({f['workers']} workers)             {f['pages_per_second']:.1f}")
        if f["reports_without_headings"]:
            print(f"  no heading found: {', '.join(f['reports_without_headings'])}")
        if f["reports_without_grade_rows"]:
            print(f"  no judgement row found: {', '.join(f['reports_without_grade_rows'])}")
        for file, why in f["failed"].items():
            print(f"  FAILED {why}")
        for x in f["leak_examples"]:
            print(f"  leak: {x[:120]!r}")


# ---------------------------------------------------------------- load over HTTP

SERVE_SCRIPT = """
import sys
from pathlib import Path
from assistant.server import launch
launch(Path(sys.argv[1]), Path(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[3]))
"""
#: A request waiting longer than this counts as an error (and ends that client's loop).
LOAD_TIMEOUT = 120.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(corpus: Path, index: Path, log_path: Path, timeout: float = 600.0):
    """The web app in its own process on a free loopback port: (process, url)."""
    import subprocess
    import sys
    import urllib.request

    port = _free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT, str(corpus), str(index), str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app stopped before serving; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/config", timeout=5):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not answer within {timeout:.0f} s; see {log_path}")


def _client_loop(url: str, questions: list[str], offset: int, until: list[float], max_requests: int,
                 start, out: dict) -> None:
    """One client: ask back to back until ``until[0]`` (set once every client is connected),
    at most ``max_requests`` times, recording each request."""
    from gradio_client import Client

    client = Client(url, verbose=False, httpx_kwargs={"timeout": LOAD_TIMEOUT})
    start.wait()
    i = 0
    while time.monotonic() < until[0] and i < max_requests:
        q = questions[(offset + i) % len(questions)]
        t0 = time.perf_counter()
        try:
            client.predict(q, api_name="/ask")
            out["latencies"].append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            out["errors"].append(f"{type(exc).__name__}: {str(exc)[:120]}")
            if time.perf_counter() - t0 > LOAD_TIMEOUT:
                break
        i += 1


def bench_load(clients: list[int], seconds: float, *, corpus: Path, index: Path | None = None,
               max_requests: int = 100_000, deletion_copies: int = 20) -> dict:
    """Concurrent clients asking the running app over HTTP (loopback), back to back.

    The app runs in its own process on a free 127.0.0.1 port, on a copy of ``corpus`` and
    of ``index`` (when given and present; otherwise the copy is indexed first). For each
    client count: requests, errors, p50/p95/max seconds per request and requests per second.
    Also the time of one 2,000-character question and of refusing a 100 KB one, and the
    queue the measured service time calls for. Last, with ``deletion_copies`` letters being
    added, how soon a deleted letter stops being quoted.
    """
    import shutil
    import tempfile
    import threading
    from gradio_client import Client

    from .question import MAX_QUESTION_CHARS
    from .server import QUEUE_SIZE

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    shutil.copytree(corpus, work / "corpus", symlinks=True)
    if index is not None and (Path(index) / "manifest.json").exists():
        shutil.copytree(index, work / "index", ignore=shutil.ignore_patterns(".writer.lock"))
    proc, url = _start_app(work / "corpus", work / "index", work / "app.log")
    try:
        probe = Client(url, verbose=False, httpx_kwargs={"timeout": LOAD_TIMEOUT})
        letters = _indexed(work / "index")
        authorities = sorted({a for a in probe.predict("Which authorities had weak planning?",
                                                       api_name="/ask")["authorities"]}) or ["Wirral"]
        questions = speed_questions(authorities, 50)
        for q in questions[:4]:  # warm: model, caches
            probe.predict(q, api_name="/ask")
        long_q = ("What did inspectors say about assessments in "
                  + ", ".join(authorities * 400))[:MAX_QUESTION_CHARS]
        t0 = time.perf_counter()
        probe.predict(long_q, api_name="/ask")
        long_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            probe.predict("Wirral " * 15_000, api_name="/ask")
            refused = "answered (not refused)"
        except Exception as exc:  # noqa: BLE001 - the refusal is what is measured
            refused = str(exc)[:160]
        refuse_s = time.perf_counter() - t0

        rows = []
        for n in clients:
            start = threading.Barrier(n + 1)
            outs = [{"latencies": [], "errors": []} for _ in range(n)]
            until = [0.0]
            threads = []
            for k in range(n):
                t = threading.Thread(target=_client_loop, daemon=True,
                                     args=(url, questions, k * 7, until, max_requests, start, outs[k]))
                threads.append(t)
            for t in threads:
                t.start()
            while start.n_waiting < n:  # every client connected and waiting
                time.sleep(0.05)
            began = time.monotonic()
            until[0] = began + seconds
            start.wait()
            for t in threads:
                t.join(seconds + LOAD_TIMEOUT + 30)
            wall = time.monotonic() - began
            lat = [x for o in outs for x in o["latencies"]]
            errors = [e for o in outs for e in o["errors"]]
            rows.append({"clients": n, "requests": len(lat) + len(errors), "errors": len(errors),
                         "error_kinds": sorted(set(errors))[:3], "per_second": round(len(lat) / wall, 2),
                         "p50_s": round(_percentile(lat, 50), 3), "p95_s": round(_percentile(lat, 95), 3),
                         "max_s": round(max(lat), 3) if lat else None})
        service = rows[0]["p50_s"] if rows and rows[0]["clients"] == 1 else None
        deletion = (_deletion_under_addition(url, work / "corpus", work / "index", deletion_copies)
                    if deletion_copies else None)
        return {"url": url, "corpus": str(corpus), "letters": letters,
                "seconds": seconds, "cpus": os.cpu_count(), "load_average": load_before, "rows": rows,
                "question_2000_chars_s": round(long_s, 3), "question_100kb_refused_s": round(refuse_s, 3),
                "question_100kb_message": refused, "queue_size": QUEUE_SIZE, "service_s": service,
                "queue_wait_s": round(QUEUE_SIZE * service / 2, 1) if service else None, "deletion": deletion}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except Exception:  # noqa: BLE001
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def _deletion_under_addition(url: str, corpus: Path, index: Path, copies: int = 20,
                             timeout: float = 300.0) -> dict:
    """Add ``copies`` new letters to the served folder (the app's watcher starts indexing them),
    then, once the app's sync holds the writer lock, delete a letter an answer quotes: seconds
    until no answer quotes it, answers that still did, and whether the addition was still running."""
    from gradio_client import Client

    from .errors import IndexBusyError
    from .store import IndexFolder

    client = Client(url, verbose=False, httpx_kwargs={"timeout": LOAD_TIMEOUT})
    question = "Which authorities had weak planning?"
    cited = [c["letter"] for c in client.predict(question, api_name="/ask")["citations"]]
    if not cited:
        return {"skipped": "the probe question quotes no letter"}
    victim = corpus / cited[0]
    # copies of the other letters: the victim's own text added again would take its quotes
    seeds = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() in (".txt", ".pdf")
                   and p != victim)
    for i in range(copies):
        seed = seeds[i % len(seeds)]
        if seed.suffix.lower() == ".txt":
            text = seed.read_text(encoding="utf-8", errors="replace")
            (corpus / f"added-{i:03d}.txt").write_text(f"{text}\n\nAddendum {i}: a later note.\n", encoding="utf-8")
        else:
            (corpus / f"added-{i:03d}.pdf").write_bytes(seed.read_bytes() + f"\n%{i}\n".encode())

    def writing() -> bool:
        try:
            with IndexFolder(index).writer_lock(wait=False):
                return False
        except IndexBusyError:
            return True

    deadline = time.monotonic() + timeout
    while not writing() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)  # well into the addition
    running_at_delete = writing()
    quoted_before = victim.name in {c["letter"] for c in client.predict(question, api_name="/ask")["citations"]}
    victim.unlink()
    gone_at = time.monotonic()
    stale, asked, took = 0, 0, None
    while time.monotonic() < deadline:
        asked += 1
        letters = {c["letter"] for c in client.predict(question, api_name="/ask")["citations"]}
        if victim.name not in letters:
            took = time.monotonic() - gone_at
            break
        stale += 1
        time.sleep(0.25)
    return {"copies_added": copies, "deleted": victim.name, "addition_running_at_deletion": running_at_delete,
            "quoted_just_before_deletion": quoted_before,
            "seconds_until_not_quoted": round(took, 2) if took is not None else None,
            "answers_quoting_it_after_deletion": f"{stale} of {asked}",
            "addition_still_running_then": writing()}


def _indexed(index: Path) -> int:
    return len(json.loads((index / "manifest.json").read_text(encoding="utf-8"))["letters"])


def print_load(r: dict) -> None:
    print(f"Load over HTTP ({r['url']}, {r['letters']} letters from {r['corpus']}, {r['seconds']:.0f} s per "
          f"client count, {r['cpus']} cores, load average before {r['load_average'][0]:.1f})")
    print(f"{'clients':>8} {'requests':>9} {'errors':>7} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for row in r["rows"]:
        print(f"{row['clients']:>8} {row['requests']:>9} {row['errors']:>7} {row['per_second']:>7} "
              f"{row['p50_s']:>7} {row['p95_s']:>7} {row['max_s']!s:>7}")
        for kind in row["error_kinds"]:
            print(f"{'':>8} error: {kind}")
    print(f"one 2,000-character question: {r['question_2000_chars_s']} s; a 100 KB question refused in "
          f"{r['question_100kb_refused_s']} s ({r['question_100kb_message']})")
    d = r.get("deletion")
    if d and "skipped" not in d:
        print(f"deleted {d['deleted']} (quoted just before: {d['quoted_just_before_deletion']}) while "
              f"{d['copies_added']} letters were being added (addition running: "
              f"{d['addition_running_at_deletion']}): no longer quoted after "
              f"{d['seconds_until_not_quoted']} s; answers still quoting it: {d['answers_quoting_it_after_deletion']}; "
              f"addition still running then: {d['addition_still_running_then']}")
    if r["service_s"]:
        print(f"queue: {r['queue_size']} waiting requests x {r['service_s']} s each / 2 workers = about "
              f"{r['queue_wait_s']} s of waiting at most before a request is turned away")


# ---------------------------------------------------------------- an authority's timeline

#: The six reports of the timeline benchmark: Blackpool's four readable reports and two of
#: Norfolk's, filed as Blackpool's by a correction, since no authority in the development set
#: has six readable reports. Together they hold every layout: single-framework reports (2014,
#: 2015), ILACS standard inspections, April 2026.
TIMELINE_REPORTS = ("50004282.pdf", "50050255.pdf", "50206631.pdf", "50308110.pdf")
TIMELINE_BORROWED = ("50004306.pdf", "50204404.pdf")


def bench_timeline(tool: Path, n: int, embedder, *, reports: Path, keep: Path | None = None,
                   repeats: int = 20) -> dict:
    """Time ``Assistant.timeline`` for an authority with six letters among ``n`` synthetic ones:
    median and p95 over ``repeats`` runs (after one warm run), without and with a theme.

    ``reports`` is the folder of real reports (``../shared/real-reports/pdf``). With ``keep``,
    the letters and index stay in ``keep/timeline-N`` and a later run only times.
    """
    import hashlib
    import json
    import shutil
    import statistics
    import tempfile

    from .engine import Assistant
    from .indexing import sync

    base = Path(keep) / f"timeline-{n}" if keep else Path(tempfile.mkdtemp(prefix=f"timeline-{n}-"))
    corpus, index = base / "corpus", base / "index"
    build_s = None
    if not (index / "manifest.json").exists():
        corpus.mkdir(parents=True, exist_ok=True)
        for p in synthetic_corpus(tool, n).glob("*.txt"):
            shutil.copy(p, corpus / p.name)
        fixes = {}
        for name in TIMELINE_REPORTS + TIMELINE_BORROWED:
            src = Path(reports) / name
            if not src.exists():
                raise FileNotFoundError(f"{src} not found; pass --reports path/to/real-reports/pdf")
            shutil.copy(src, corpus / name)
            if name in TIMELINE_BORROWED:
                sha = hashlib.sha256(src.read_bytes()).hexdigest()
                fixes[sha] = {"fields": {"authority": "Blackpool"}, "path": name}
        (corpus / ".corrections.json").write_text(json.dumps(fixes, indent=1), encoding="utf-8")
        embedder.embed(["warm up the model"])
        t0 = time.perf_counter()
        sync(corpus, index, embedder, progress=False)
        build_s = time.perf_counter() - t0
    assistant = Assistant.open(index, embedder=embedder)
    first = assistant.timeline("Blackpool")  # warm: the letters read once, the model primed
    out = {"letters": len(assistant.letters()), "authority_letters": len(first["letters"]),
           "items": sum(len(e["improve"]) for e in first["letters"]), "build_s": build_s and round(build_s, 1)}
    question = "What did inspectors say about management oversight in Blackpool?"
    assistant.ask(question)
    runs = (("timeline", lambda: assistant.timeline("Blackpool")),
            ("timeline with a theme", lambda: assistant.timeline("Blackpool", "management oversight")),
            ("baseline: one question", lambda: assistant.ask(question)))
    for label, fn in runs:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        out[label] = {"median_ms": round(statistics.median(times), 1), "p95_ms": round(_percentile(times, 95), 1),
                      "runs": repeats}
    for label in ("timeline", "timeline with a theme"):
        out[label]["to_baseline"] = round(out[label]["median_ms"] / out["baseline: one question"]["median_ms"], 1)
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    return out


def print_timeline(r: dict) -> None:
    print(f"{r['letters']} letters indexed; the authority has {r['authority_letters']} letters and "
          f"{r['items']} items to improve" + (f"; built in {r['build_s']} s" if r["build_s"] else ""))
    for label in ("timeline", "timeline with a theme", "baseline: one question"):
        x = r[label]
        ratio = f", {x['to_baseline']}x the question" if "to_baseline" in x else ""
        print(f"{label:>22}: median {x['median_ms']:.0f} ms, p95 {x['p95_ms']:.0f} ms ({x['runs']} runs{ratio})"
              + ("; target 1000 ms" if ratio else ""))
