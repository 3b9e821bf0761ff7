"""Training and checking the evidence judge on the labelled sentences in ``data/judge``.

``assistant train judge`` reads the labels (see data/judge/README.md), embeds each labelled
sentence in its context with the bundled model, and fits two small parts:

- a stance model: does a sentence report a weakness, a strength, both, or neither of what it
  is about (multinomial logistic regression over the sentence's vector);
- a relevance model: is the sentence about what the question asks (logistic regression over
  the question-sentence similarities).

A sentence answers a question with the polarity asked when it is relevant and its stance is
the one asked. Figures are cross-validated by authority (no authority is trained and tested
on at once); the model written at the end is trained on every label.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import TrainingError
from .judge import STANCES, VERSION, WANTS, Judge, StanceHead, _softmax, relevance_features, yes_probability

log = logging.getLogger(__name__)

QUESTION_KINDS = ("weak", "strong", "mention")
#: the polarity each kind of question asks about (as the judge takes it)
WANT = {"weak": -1, "strong": 1, "mention": 0}
FOLDS = 6


@dataclass(frozen=True)
class Labelled:
    """One labelled candidate sentence."""

    id: str
    authority: str
    report: str
    topic: str
    sentence: str
    context: str
    label: str
    #: the label set it came in: its files' name between the authority and ".jsonl" ("" for
    #: the first labelling, "narrow", "pooled", ...)
    labels: str = ""


def label_set(path: Path) -> str:
    """The label set a candidates or labels file belongs to: "bexley.narrow.jsonl" -> "narrow"."""
    return ".".join(path.name.split(".")[1:-1])


def label_file(authority: str, labels: str = "") -> str:
    """The name of ``authority``'s candidates (and labels) file in the label set ``labels``:
    ("Stockton-on-Tees", "pooled") -> "stockton_on_tees.pooled.jsonl" (``label_set`` reads it back)."""
    name = re.sub(r"[^a-z0-9]+", "_", authority.lower()).strip("_")
    return f"{name}.{labels}.jsonl" if labels else f"{name}.jsonl"


def topic_sets(items: list[Labelled]) -> dict[str, str]:
    """Each topic's label set: the one that brought it, holding its candidates in the most
    reports (pooled sentences only add to topics labelled before)."""
    found: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for x in items:
        if x.labels != "pooled":
            found[x.topic][x.labels].add(x.report)
    return {topic: max(sorted(sets), key=lambda name: len(sets[name])) for topic, sets in found.items()}


def load_labels(data: Path, leave_out: tuple[str, ...] = ()) -> list[Labelled]:
    """Every candidate that has a label (the first labelling; ``labels/overlap`` is for
    agreement), but those of the sets named in ``leave_out`` ("pooled": the files
    ``<authority>.pooled.jsonl``)."""
    def kept(path: Path) -> bool:
        return label_set(path) not in leave_out

    labels = {}
    for path in filter(kept, sorted((data / "labels").glob("*.jsonl"))):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            labels[row["id"]] = row["label"]
    out = []
    for path in filter(kept, sorted((data / "candidates").glob("*.jsonl"))):
        for line in path.read_text(encoding="utf-8").splitlines():
            c = json.loads(line)
            if c["id"] in labels:
                out.append(Labelled(c["id"], c["authority"], c["report"], c["topic"], c["sentence"],
                                    c.get("context") or "", labels[c["id"]], label_set(path)))
    return out


def agreement(data: Path) -> list[tuple[str, int, float, float]]:
    """Per file doubly labelled in ``labels/overlap`` and over all of them: (name, items, raw
    agreement, Cohen's kappa) between the two labellings."""
    def kappa(pairs):
        observed = sum(x == y for x, y in pairs) / len(pairs)
        ca, cb = Counter(x for x, _ in pairs), Counter(y for _, y in pairs)
        expected = sum(ca[k] * cb[k] for k in ca) / len(pairs) ** 2
        return observed, (observed - expected) / (1 - expected) if expected < 1 else 1.0

    out, every = [], []
    for path in sorted((data / "labels" / "overlap").glob("*.jsonl")):
        first = {json.loads(x)["id"]: json.loads(x)["label"]
                 for x in (data / "labels" / path.name).read_text(encoding="utf-8").splitlines()}
        pairs = [(first[r["id"]], r["label"]) for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())
                 if r["id"] in first]
        if pairs:
            out.append((path.stem, len(pairs), *kappa(pairs)))
            every += pairs
    if len(out) > 1:
        out.append(("all", len(every), *kappa(every)))
    return out


def questions_of(topics: list[dict]) -> dict[tuple[str, str], str]:
    """(topic, kind) -> question text: each stance topic's weakness and strength questions and a
    "which letters mention" question; each mention topic's own."""
    out = {}
    for t in topics:
        for kind in QUESTION_KINDS:
            if kind in t:
                out[(t["topic"], kind)] = t[kind]
        if "mention" not in t:
            out[(t["topic"], "mention")] = f"Which letters mention {t['describe']}?"
    return out


def answers(label: str, kind: str) -> bool:
    """Whether a sentence with ``label`` answers a question of ``kind`` with the polarity asked."""
    if kind == "mention":
        return label != "o"
    return label in (("w", "m") if kind == "weak" else ("s", "m"))


def opposes(label: str, kind: str) -> bool:
    return kind != "mention" and label == ("s" if kind == "weak" else "w")


def folds_by(items: list[Labelled], k: int = FOLDS, by: str = "authority") -> np.ndarray:
    """A fold number per item; each authority (or, with ``by="topic"``, each topic) in one
    fold, folds of similar size."""
    sizes = Counter(getattr(x, by) for x in items)
    load = [0] * k
    fold_of = {}
    for name, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        f = int(np.argmin(load))
        fold_of[name] = f
        load[f] += n
    return np.array([fold_of[getattr(x, by)] for x in items])


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, l2: float = 1.0, balanced: bool = True,
                 steps: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by L-BFGS (scipy); returns (weights, bias)."""
    from scipy.optimize import minimize

    n, d = x.shape
    counts = np.bincount(y, minlength=classes).astype(float)
    w_class = n / (classes * np.maximum(counts, 1)) if balanced else np.ones(classes)
    sample = w_class[y]
    onehot = np.eye(classes)[y]

    def loss(theta):
        w, b = theta[: d * classes].reshape(d, classes), theta[d * classes:]
        p = _softmax(x @ w + b)
        value = -(sample * np.log(np.maximum((p * onehot).sum(1), 1e-12))).sum() / n + 0.5 * l2 * (w ** 2).sum() / n
        grad_z = (p - onehot) * sample[:, None] / n
        return value, np.concatenate([(x.T @ grad_z + l2 * w / n).ravel(), grad_z.sum(0)])

    res = minimize(loss, np.zeros(d * classes + classes), jac=True, method="L-BFGS-B",
                   options={"maxiter": steps})
    return res.x[: d * classes].reshape(d, classes), res.x[d * classes:]


#: How the stance head is trained (``fit_stance_head``): filters, passes over the labels, step size.
HEAD_FILTERS, HEAD_EPOCHS, HEAD_RATE, HEAD_BATCH = 64, 8, 2e-3, 64


def fit_stance_head(tokens: list[np.ndarray], y: np.ndarray, seed: int = 0, epochs: int = HEAD_EPOCHS) -> StanceHead:
    """Train a ``StanceHead`` (torch, on the CPU) on each sentence's token vectors and its stance
    label (an index into STANCES), classes weighed to balance."""
    import torch

    torch.manual_seed(seed)
    dim = tokens[0].shape[1]
    width = max(len(t) for t in tokens)
    h = torch.zeros(len(tokens), width, dim)
    mask = torch.zeros(len(tokens), width, dtype=torch.bool)
    for i, t in enumerate(tokens):
        h[i, :len(t)] = torch.from_numpy(np.asarray(t, dtype=np.float32))
        mask[i, :len(t)] = True

    conv = torch.nn.Conv1d(dim, HEAD_FILTERS, 3, padding=1)
    att = torch.nn.Linear(dim, 1)
    out = torch.nn.Linear(HEAD_FILTERS + dim, len(STANCES))
    drop = torch.nn.Dropout(0.2)
    params = [*conv.parameters(), *att.parameters(), *out.parameters()]

    def forward(hb, mb):
        z = torch.relu(conv(hb.transpose(1, 2))).transpose(1, 2).masked_fill(~mb[..., None], 0).max(1).values
        a = att(hb).squeeze(-1).masked_fill(~mb, -1e9).softmax(1)
        return out(drop(torch.cat([z, (a[..., None] * hb).sum(1)], 1)))

    opt = torch.optim.AdamW(params, lr=HEAD_RATE, weight_decay=0.01)
    weight = torch.tensor(len(y) / (len(STANCES) * np.bincount(y, minlength=len(STANCES)) + 1), dtype=torch.float32)
    loss_of = torch.nn.CrossEntropyLoss(weight=weight)
    rng = np.random.default_rng(seed)
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    drop.train()
    for _ in range(epochs):
        for b in np.array_split(rng.permutation(len(y)), max(1, len(y) // HEAD_BATCH)):
            bt = torch.from_numpy(b)
            width_b = int(mask[bt].sum(1).max())
            loss = loss_of(forward(h[bt, :width_b], mask[bt, :width_b]), labels[bt])
            opt.zero_grad()
            loss.backward()
            opt.step()
    as_np = {k: v.detach().numpy().astype(np.float32) for k, v in
             (("conv_w", conv.weight), ("conv_b", conv.bias), ("att_w", att.weight[0]), ("att_b", att.bias[0]),
              ("out_w", out.weight), ("out_b", out.bias))}
    return StanceHead(**as_np)


@dataclass
class Figures:
    """What cross-validation measured (folds by authority, or by topic)."""

    stance_accuracy: float
    polarity_flips: float  # weakness read as strength or the reverse, among w/s sentences
    balanced_accuracy: float  # per (question, report): does the report say so?
    recall: float
    specificity: float
    opposite_listed: float  # of the reports listed, the share whose report says the opposite
    per_kind: dict
    pairs: int
    reports: int
    authorities: int
    letters: list[str] = field(default_factory=list)  # the letter model's figures, when trained
    held_out: str = "authority"  # what no fold shares: "authority" or "topic"
    #: the stance model over sentence vectors alone (what a letter indexed without the head gets)
    vector_stance: tuple[float, float] | None = None

    def lines(self) -> list[str]:
        out = [f"cross-validated in {FOLDS} folds by {self.held_out}",
               f"stance accuracy {self.stance_accuracy:.3f}; weakness/strength flips {self.polarity_flips:.3f}"
               + (" (from the sentence's tokens; from its vector alone: {:.3f}; flips {:.3f})".format(
                   *self.vector_stance) if self.vector_stance else ""),
               f"per (question, report), {self.pairs} pairs over {self.reports} reports of {self.authorities} "
               f"authorities: balanced accuracy {self.balanced_accuracy:.3f} (recall {self.recall:.3f}, "
               f"specificity {self.specificity:.3f}); listed whose report says the opposite "
               f"{self.opposite_listed:.3f}"]
        out += [f"  {k}: balanced accuracy {v:.3f}" for k, v in self.per_kind.items()]
        return out + self.letters


def report_figures(items: list[Labelled], kinds: list[str], yes_prob: np.ndarray,
                   threshold: float) -> tuple[float, float, float, float, dict, int]:
    """Report-level figures from per-(sentence, question) probabilities of answering."""
    best: dict = defaultdict(float)
    gold: dict = defaultdict(lambda: "silent")
    for x, kind, p in zip(items, kinds, yes_prob):
        key = (x.topic, kind, x.report)
        best[key] = max(best[key], float(p))
        gold[key] = _verdict(gold[key], x.label, kind)
    keys = list(best)
    listed = np.array([best[k] >= threshold for k in keys])
    says = np.array([gold[k] == "says" for k in keys])
    opposite = np.array([gold[k] == "opposite" for k in keys])
    every = listing_figures(listed, says, opposite)
    per_kind = {}
    for kind in QUESTION_KINDS:
        sel = np.array([k[1] == kind for k in keys], dtype=bool)
        per_kind[kind] = listing_figures(listed[sel], says[sel], opposite[sel])["balanced_accuracy"]
    return (every["balanced_accuracy"], every["recall"], every["specificity"], every["opposite_listed"], per_kind,
            len(keys))


def listing_figures(listed: np.ndarray, says: np.ndarray, opposite: np.ndarray) -> dict[str, float]:
    """How a listing of (question, report) pairs scores against the labels (``says``: the
    report says what is asked; ``opposite``: it says the opposite): balanced accuracy, recall,
    specificity, and the share of listed pairs whose report says the opposite."""
    listed, says, opposite = (np.asarray(a, dtype=bool) for a in (listed, says, opposite))
    recall = (listed & says).sum() / max(1, says.sum())
    specificity = (~listed & ~says).sum() / max(1, (~says).sum())
    return {"pairs": len(listed), "balanced_accuracy": float(0.5 * (recall + specificity)), "recall": float(recall),
            "specificity": float(specificity),
            "opposite_listed": float((listed & opposite).sum() / max(1, listed.sum()))}


def _verdict(current: str, label: str, kind: str) -> str:
    """A report's verdict on a question of ``kind`` ("says", "opposite" or "silent"), once one
    more of its labelled sentences (``label``) is read: saying so outweighs the opposite."""
    if answers(label, kind):
        return "says"
    if opposes(label, kind) and current != "says":
        return "opposite"
    return current


def gold_by_report(items: list[Labelled], questions: dict) -> dict[tuple[str, str, str], str]:
    """(topic, kind, report) -> "says" (a sentence of the report answers the question with its
    polarity), "opposite" (one says the opposite, none says so) or "silent"."""
    gold: dict = {}
    for x in items:
        for kind in QUESTION_KINDS:
            if (x.topic, kind) not in questions:
                continue
            key = (x.topic, kind, x.report)
            gold[key] = _verdict(gold.get(key, "silent"), x.label, kind)
    return gold


def held_out_folds(held_out: dict[str, Judge], reports: list[str]) -> list[tuple[Judge, list[str]]]:
    """``reports`` by the judge that never saw their authority (``train_judge``'s third value):
    (that judge, its reports), one per fold."""
    judges = {id(held_out[r]): held_out[r] for r in reports}
    return [(j, [r for r in reports if held_out[r] is j]) for j in judges.values()]


#: The folder sizes (in letters) each labelled report is also read in, among others drawn at
#: random, besides the whole index: a passage's score ranks it among the letters asked about, so
#: a letter model fitted on one collection misreads a folder of another size.
COLLECTIONS = (2, 5, 10, 20, 50)


def train_letters(assistant, items: list[Labelled], questions: dict, held_out: dict[str, Judge],
                  collections: tuple[int, ...] = COLLECTIONS, seed: int = 0
                  ) -> tuple[list[str], tuple[np.ndarray, ...], dict[str, tuple[np.ndarray, ...]]]:
    """The judge's letter model, from the engine's own reading of the labelled reports in
    ``assistant``'s index: every question asked of each fold's reports with the stance model
    that never saw them, in the whole index and in folders of each of ``collections`` letters
    (the report and others drawn at random); a logistic regression per polarity read from the
    question, on the (question, report) labels. Returns (figures lines, cross-validated by the
    same folds, for the whole index and each folder size; the weights (mu, sd, w, b, sizes)
    fitted on every reading; for each report, the weights fitted without its fold)."""
    snap = assistant.snapshot
    gold = gold_by_report(items, questions)
    reports = sorted({x.report for x in items} & set(snap.path_index))
    if not reports:
        raise TrainingError("the index holds none of the labelled reports: index the reports they were labelled on "
                         "(../shared/real-reports/pdf) and pass that index")
    n = len(snap.letters)
    sizes = sorted({k for k in collections if 1 < k < n})
    rng = np.random.default_rng(seed)
    folds = [(j, sorted(snap.path_index[r] for r in members)) for j, members in held_out_folds(held_out, reports)]
    rows, xs = [], []
    for (topic, kind), question in sorted(questions.items()):
        for f, (judge, letters) in enumerate(folds):
            labelled = [l for l in letters if (topic, kind, snap.letters[l]["path"]) in gold]
            if not labelled:
                continue
            for size in [n] + sizes:
                among = None if size == n else [_folder(rng, n, l, size) for l in labelled]
                features, want = assistant.letter_evidence(question, judge, np.array(labelled), among)
                xs.append(features)
                rows += [(topic, kind, snap.letters[l]["path"], f, want, size) for l in labelled]
    x = np.concatenate(xs)
    y = np.array([gold.get(r[:3]) == "says" for r in rows], dtype=int)
    opposite = np.array([gold.get(r[:3]) == "opposite" for r in rows])
    fold = np.array([r[3] for r in rows])
    want = np.array([r[4] for r in rows])
    size = np.array([r[5] for r in rows])
    span = (min(sizes, default=n), n)
    prob = np.zeros(len(rows))
    fold_weights = []
    for f, (judge, _) in enumerate(folds):
        weights = _fit_letters(x, y, want, fold != f, span)
        fold_weights.append(weights)
        scorer = _with_letters(judge, weights)
        for sign in WANTS:
            te = (fold == f) & (want == sign)
            if te.any():
                prob[te] = scorer.letter_probability(x[te], sign)
    listed = prob >= 0.5

    def figures(sel) -> str:
        f = listing_figures(listed[sel], y[sel] == 1, opposite[sel])
        return f"balanced accuracy {f['balanced_accuracy']:.3f} (recall {f['recall']:.3f}, specificity " \
               f"{f['specificity']:.3f}); listed whose report says the opposite {f['opposite_listed']:.3f}"

    kinds = np.array([r[1] for r in rows])
    whole = size == n
    lines = [f"letter model, every question asked of the index ({whole.sum()} (question, report) pairs, "
             f"{len(reports)} reports): {figures(whole)}"]
    lines += [f"  {kind}: {figures(whole & (kinds == kind))}" for kind in QUESTION_KINDS]
    lines += [f"  each report in a folder of {k} letters: {figures(size == k)}" for k in sizes]
    held = {r: fold_weights[f] for f, (judge, letters) in enumerate(folds) for r in reports if held_out[r] is judge}
    return lines, _fit_letters(x, y, want, np.ones(len(rows), bool), span), held


def _folder(rng: np.random.Generator, n: int, letter: int, size: int) -> np.ndarray:
    """A mask of ``size`` of ``n`` letters: ``letter`` and others drawn at random."""
    others = rng.choice(np.delete(np.arange(n), letter), size - 1, replace=False)
    mask = np.zeros(n, bool)
    mask[others] = True
    mask[letter] = True
    return mask


def _with_letters(judge: Judge, weights: tuple[np.ndarray, ...]) -> Judge:
    return replace(judge, letter_mu=weights[0], letter_sd=weights[1], letter_w=weights[2], letter_b=weights[3],
                   letter_sizes=weights[4])


def _fit_letters(x: np.ndarray, y: np.ndarray, want: np.ndarray, train: np.ndarray,
                 sizes: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The letter model's (mu, sd, w, b, sizes) fitted on the ``train`` rows: a logistic
    regression per polarity asked (WANTS order) over the standardised features; a polarity with
    one class only gets zero weights (probability 0.5). ``sizes``: the smallest and largest
    collection the rows were read in."""
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    xs = (x - mu) / sd
    w_all, b_all = np.zeros((len(WANTS), x.shape[1], 2)), np.zeros((len(WANTS), 2))
    for k, sign in enumerate(WANTS):
        part = train & (want == sign)
        if len(set(y[part].tolist())) == 2:
            w_all[k], b_all[k] = fit_logistic(xs[part], y[part], 2)
    return (mu.astype(np.float32), sd.astype(np.float32), w_all.astype(np.float32), b_all.astype(np.float32),
            np.array(sizes, dtype=np.int64))


def _embed_in_context(embedder, items: list[Labelled]) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """Each sentence's vector read in the context of the sentence before it (as the index
    reads a sentence in its passage), and its token vectors (None when the model does not read
    sentences in context)."""
    texts, spans = [], []
    for x in items:
        pre = f"{x.context} " if x.context else ""
        texts.append(pre + x.sentence)
        spans.append([(len(pre), len(pre) + len(x.sentence))])
    return _vectors_and_tokens(embedder, texts, spans)


def _vectors_and_tokens(embedder, texts: list[str], spans: list) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """The sentence vectors of ``spans`` in ``texts`` and each sentence's token vectors (float16,
    in sentence order; None when the model does not read sentences in context)."""
    from .embedding import embed_with_sentences

    kept: list[np.ndarray] = []

    def keep(tokens: list[np.ndarray]) -> np.ndarray:  # where each sentence's tokens went
        kept.extend(t.astype(np.float16) for t in tokens)
        return np.arange(len(kept) - len(tokens), len(kept))[:, None]

    _, vectors, where = embed_with_sentences(embedder, texts, spans, read=keep)
    return vectors, (None if where is None else [kept[k] for k in where[:, 0]])


def index_tokens(assistant) -> list[np.ndarray]:
    """The token vectors of every sentence row of ``assistant``'s index, read in its passage as
    indexing reads it (float16): what the stance head reads there."""
    from .chunking import embed_texts

    snap = assistant.snapshot
    texts, spans = embed_texts(snap.record(letter) for letter in range(len(snap.letters)))
    tokens = _vectors_and_tokens(assistant.embedder, texts, spans)[1]
    if tokens is None or len(tokens) != len(snap.sentence_spans):
        raise TrainingError("the index's sentences could not be read again by the model: index the reports again "
                            "with `assistant index --rebuild`")
    return tokens


def sentence_words(text: str) -> str:
    """A sentence's words, lower-cased and single-spaced: how a labelled sentence is found again
    in an index, whatever its spacing or punctuation."""
    return " ".join(re.findall(r"\w+", text.lower()))


def _rows_of(snap, items: list[Labelled]) -> dict[int, int]:
    """For each labelled item (by position) found in ``snap``'s index, its sentence row: the
    sentence of its report with the same words."""
    wanted: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for k, x in enumerate(items):
        wanted[x.report].setdefault(sentence_words(x.sentence), []).append(k)
    out = {}
    for letter, entry in enumerate(snap.letters):
        mine = wanted.get(entry["path"])
        if not mine:
            continue
        text = snap.record(letter).text
        for row in snap.sentence_rows(letter):
            s, e = snap.sentence_spans[row]
            for k in mine.get(sentence_words(text[s:e]), []):
                out[k] = row
    return out


def train_judge(data: Path, out: Path | None, embedder, threshold: float = 0.5, index: Path | None = None,
                hold_out: str = "authority", leave_out: tuple[str, ...] = ()) -> tuple[Figures, Judge, dict[str, Judge]]:
    """Cross-validate by authority, print nothing, return (figures, the judge trained on all
    labels, for each labelled report the judge of the fold that held its authority out, none
    when held out by topic); write
    the judge trained on all labels to ``out`` (a .npz, with a .json beside it) when given.
    With ``index`` (an index of the labelled reports), the judge gets its letter model too
    (``train_letters``), and its figures join the others. ``hold_out="topic"`` cross-validates
    by topic instead (how the judge reads topics nobody labelled), without the letter model.
    ``leave_out`` names label sets not trained on (see ``load_labels``)."""
    items = load_labels(data, leave_out)
    if not items:
        raise TrainingError(f"no labelled sentences in {data}/labels: label candidates first (see data/judge/README.md)")
    if hold_out not in ("authority", "topic"):
        raise TrainingError(f"hold out by authority or by topic, not {hold_out!r}")
    if hold_out == "topic" and index is not None:
        raise TrainingError("the letter model is cross-validated by authority only: drop --index to hold out topics")
    topics = json.loads((data / "topics.json").read_text(encoding="utf-8"))
    questions = questions_of(topics)
    sv, tokens = _embed_in_context(embedder, items)
    assistant = None
    if index is not None:
        from .engine import Assistant

        assistant = Assistant.open(index, embedder=embedder, judge="none")  # each fold gets its own judge
    if assistant is not None and tokens is not None:
        # the head learns from the tokens as indexing reads them: a sentence read in its passage
        indexed = index_tokens(assistant)
        for k, row in _rows_of(assistant.snapshot, items).items():
            tokens[k] = indexed[row]
        del indexed  # the index's other sentences (most of its tokens) are not read again
    qkeys = list(questions)
    qv = dict(zip(qkeys, embedder.embed([questions[k] for k in qkeys])))
    fold = folds_by(items, by=hold_out)
    stance_y = np.array([STANCES.index(x.label) if x.label in STANCES else -1 for x in items])

    pairs = [(i, kind) for i, x in enumerate(items) for kind in QUESTION_KINDS if (x.topic, kind) in qv]
    sim = np.array([float(sv[i] @ qv[(items[i].topic, kind)]) for i, kind in pairs])
    rel_x = relevance_features(sim)
    rel_y = np.array([items[i].label != "o" for i, _ in pairs], dtype=int)
    pair_fold = fold[[i for i, _ in pairs]]

    stance_oof = np.zeros((len(items), len(STANCES)))
    vector_oof = np.zeros((len(items), len(STANCES)))
    rel_oof = np.zeros(len(pairs))
    held_out: dict[str, Judge] = {}  # report -> the judge trained without its authority (folds by authority)
    for f in range(FOLDS):
        tr = (fold != f) & (stance_y >= 0)
        w, b = fit_logistic(sv[tr], stance_y[tr], len(STANCES))
        rw, rb = fit_logistic(rel_x[pair_fold != f], rel_y[pair_fold != f], 2, l2=0.01, balanced=False)
        head = fit_stance_head([tokens[i] for i in np.flatnonzero(tr)], stance_y[tr], seed=f) if tokens else None
        judge = Judge(w.astype(np.float32), b.astype(np.float32), rw, rb, threshold, head=head)
        vector_oof[fold == f] = judge.stance(sv[fold == f])
        stance_oof[fold == f] = head([tokens[i] for i in np.flatnonzero(fold == f)]) if head else vector_oof[fold == f]
        rel_oof[pair_fold == f] = judge.relevant(sim[pair_fold == f])
        if hold_out == "authority":  # by topic, a report's sentences are in several folds
            held_out.update({x.report: judge for x, k in zip(items, fold) if k == f})

    known = stance_y >= 0
    ws = known & (stance_y <= 1)

    def stance_figures(probabilities: np.ndarray) -> tuple[float, float]:
        pred = probabilities.argmax(1)
        flips = ((stance_y == 0) & (pred == 1)) | ((stance_y == 1) & (pred == 0))
        return float((pred[known] == stance_y[known]).mean()), float(flips[ws].mean())
    # per (question, report) as "which authorities" answers read a sentence: the vector's stance
    yes = np.array([yes_probability(rel_oof[k:k + 1], vector_oof[i:i + 1], WANT[kind])[0]
                    for k, (i, kind) in enumerate(pairs)])
    bal, rec, spec, opposite, per_kind, n_pairs = report_figures(
        [items[i] for i, _ in pairs], [kind for _, kind in pairs], yes, threshold)
    figures = Figures(*stance_figures(stance_oof), bal, rec, spec,
                      opposite, per_kind, n_pairs, len({x.report for x in items}), len({x.authority for x in items}),
                      held_out=hold_out, vector_stance=stance_figures(vector_oof) if tokens else None)

    w, b = fit_logistic(sv[known], stance_y[known], len(STANCES))
    rw, rb = fit_logistic(rel_x, rel_y, 2, l2=0.01, balanced=False)
    head = fit_stance_head([tokens[i] for i in np.flatnonzero(known)], stance_y[known]) if tokens else None
    judge = Judge(w.astype(np.float32), b.astype(np.float32), rw.astype(np.float32), rb.astype(np.float32),
                  threshold, f"judge-{VERSION}", embedder.name, head=head)
    if assistant is not None:
        figures.letters, weights, held = train_letters(assistant, items, questions, held_out)
        judge = _with_letters(judge, weights)
        folds = {id(j): _with_letters(j, held[r]) for r, j in held_out.items() if r in held}
        held_out = {r: folds[id(j)] for r, j in held_out.items() if id(j) in folds}
    if out is not None:
        judge.save(out, {"stances": list(STANCES), "wants": list(WANTS), "labels": len(items),
                         "stance_labels": int(known.sum()), "figures": figures.lines()})
    return figures, judge, held_out
