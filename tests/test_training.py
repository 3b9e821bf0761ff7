"""The evidence judge's training command on a tiny labelled set (fake embedder, no model)."""

from __future__ import annotations

import json

import numpy as np

from assistant.judge import Judge
from assistant.training import (Labelled, agreement, answers, folds_by, label_file, label_set, load_labels, opposes,
                                report_figures, topic_sets, train_judge)

TOPICS = [{"topic": "caseloads", "describe": "social workers' caseloads",
           "weak": "Which authorities had caseloads that were too high?",
           "strong": "Which authorities had manageable caseloads?"}]
WEAK = ["Caseloads are too high in the assessment team.", "Social workers hold too many cases and caseloads are high.",
        "High caseloads mean workers cannot visit children often enough."]
STRONG = ["Caseloads are manageable across the service.", "Social workers have manageable caseloads.",
          "Caseloads are low and manageable, so workers know children well."]
OFF = ["The virtual school supports children in care.", "Care leavers live in suitable accommodation.",
       "Foster carers receive regular training."]


def _write(tmp_path, authorities=("a", "b", "c", "d", "e", "f", "g")):
    data = tmp_path / "judge"
    (data / "candidates").mkdir(parents=True)
    (data / "labels" / "overlap").mkdir(parents=True)
    (data / "topics.json").write_text(json.dumps(TOPICS))
    for k, auth in enumerate(authorities):
        rows, labels = [], []
        for j, (text, label) in enumerate([(WEAK[k % 3], "w"), (STRONG[k % 3], "s"), (OFF[k % 3], "o")]):
            cid = f"{auth}-caseloads-{j}"
            rows.append({"id": cid, "report": f"{auth}.pdf", "authority": auth, "topic": "caseloads",
                         "sentence": text, "context": "", "section": None, "page": 1})
            labels.append({"id": cid, "label": label})
        (data / "candidates" / f"{auth}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (data / "labels" / f"{auth}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    return data


def test_labels_become_pairs_with_polarity():
    assert answers("w", "weak") and answers("m", "weak") and not answers("s", "weak")
    assert opposes("s", "weak") and opposes("w", "strong") and not opposes("n", "weak")
    assert answers("n", "mention") and not answers("o", "mention")


def test_folds_keep_each_authority_together(tmp_path):
    items = load_labels(_write(tmp_path))
    folds = folds_by(items, k=3)
    for auth in {x.authority for x in items}:
        assert len({f for x, f in zip(items, folds) if x.authority == auth}) == 1
    assert len(set(folds.tolist())) == 3
    by_topic = folds_by(items, k=2, by="topic")
    for topic in {x.topic for x in items}:
        assert len({f for x, f in zip(items, by_topic) if x.topic == topic}) == 1


def test_a_label_set_can_be_left_out(tmp_path):
    data = _write(tmp_path)
    first = load_labels(data)
    row = {"id": "a-caseloads-p9", "report": "a.pdf", "authority": "a", "topic": "caseloads",
           "sentence": "Caseloads remain too high in some teams.", "context": ""}
    (data / "candidates" / "a.pooled.jsonl").write_text(json.dumps(row) + "\n")
    (data / "labels" / "a.pooled.jsonl").write_text(json.dumps({"id": row["id"], "label": "w"}) + "\n")
    assert len(load_labels(data)) == len(first) + 1
    assert load_labels(data, leave_out=("pooled",)) == first
    # each label knows its set, read from its file's name as label_file writes it
    assert label_file("Stockton-on-Tees", "pooled") == "stockton_on_tees.pooled.jsonl"
    assert label_set(data / "labels" / label_file("Stockton-on-Tees", "pooled")) == "pooled"
    assert label_set(data / "labels" / label_file("Stockton-on-Tees")) == ""
    # a topic belongs to the set that brought it, not the pool
    assert {x.labels for x in load_labels(data)} == {"", "pooled"}
    young = {**row, "id": "a-young_carers-1", "topic": "young_carers", "sentence": "Young carers are supported well."}
    (data / "candidates" / "a.narrow2.jsonl").write_text(json.dumps(young) + "\n")
    (data / "labels" / "a.narrow2.jsonl").write_text(json.dumps({"id": young["id"], "label": "s"}) + "\n")
    assert topic_sets(load_labels(data)) == {"caseloads": "", "young_carers": "narrow2"}


def test_report_figures_count_opposites():
    rows = [Labelled("1", "a", "a.pdf", "t", "s", "", "w"), Labelled("2", "b", "b.pdf", "t", "s", "", "s"),
            Labelled("3", "c", "c.pdf", "t", "s", "", "o")]
    bal, rec, spec, opposite, _, n = report_figures(rows, ["weak"] * 3, np.array([0.9, 0.8, 0.1]), 0.5)
    assert n == 3 and rec == 1.0 and spec == 0.5 and opposite == 0.5 and bal == 0.75


def test_agreement_is_cohens_kappa(tmp_path):
    data = _write(tmp_path)
    labels = (data / "labels" / "a.jsonl").read_text().splitlines()
    flipped = [json.dumps({**json.loads(x), "label": "o"}) if i == 0 else x for i, x in enumerate(labels)]
    (data / "labels" / "overlap" / "a.jsonl").write_text("\n".join(flipped) + "\n")
    [(name, n, observed, kappa)] = agreement(data)
    assert name == "a" and n == 3 and abs(observed - 2 / 3) < 1e-9 and kappa < observed


def test_train_writes_a_model_that_separates_polarity(tmp_path, fake_embedder):
    data = _write(tmp_path)
    out = tmp_path / "model" / "judge.npz"
    figures, judge, held_out = train_judge(data, out, fake_embedder)
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text())["labels"] == 21
    assert judge.stance_w.shape == (fake_embedder.dim, 4)
    loaded = Judge.load(out)
    assert np.array_equal(loaded.stance_w, judge.stance_w) and loaded.threshold == judge.threshold
    assert len(held_out) == 7 and held_out["a.pdf"] is not judge  # each report's fold judge never saw its authority
    assert figures.authorities == 7 and figures.pairs == 7 * 3
    assert figures.stance_accuracy > 0.5  # weakness and strength words hash apart


class _Reading:
    """Stands in for an Assistant over the labelled reports: the letter model's features say
    plainly which reports answer which polarity (column 4: the agreement of the best sentences)."""

    def __init__(self, weak_reports):
        from types import SimpleNamespace

        self.weak = set(weak_reports)
        paths = [f"{a}.pdf" for a in "abcdefgh"]
        self.snapshot = SimpleNamespace(path_index={p: i for i, p in enumerate(paths)},
                                        letters=[{"path": p} for p in paths])
        self.judges_seen = []
        self.folders = set()

    def letter_evidence(self, question, judge, letters, among=None):
        from assistant.judge import LETTER_WIDTH

        self.judges_seen.append((judge, tuple(letters)))
        if among is not None:  # each letter in a folder of others, itself among them
            assert len(among) == len(letters) and all(m[l] for m, l in zip(among, letters))
            self.folders.add(int(among[0].sum()))
        want = -1 if "too high" in question else 1 if "manageable" in question else 0
        x = np.zeros((len(letters), LETTER_WIDTH))
        for i, letter in enumerate(letters):
            weak = self.snapshot.letters[letter]["path"] in self.weak
            x[i, 4] = 1.0 if (want < 0) == weak or want == 0 else 0.0
        return x, want


def test_the_letter_model_learns_from_the_engine_reading_each_fold_with_its_own_judge():
    from assistant.judge import WANTS
    from assistant.training import train_letters

    weak = {"a.pdf", "b.pdf", "c.pdf", "d.pdf"}
    items = [Labelled(f"{a}-1", a, f"{a}.pdf", "caseloads", "s", "", "w" if f"{a}.pdf" in weak else "s")
             for a in "abcdefgh"]
    folds = [Judge(np.zeros((2, 4)), np.zeros(4), np.zeros((2, 2)), np.zeros(2)) for _ in range(2)]
    held_out = {f"{a}.pdf": folds[i % 2] for i, a in enumerate("abcdefgh")}
    questions = {("caseloads", "weak"): TOPICS[0]["weak"], ("caseloads", "strong"): TOPICS[0]["strong"]}
    reading = _Reading(weak)
    lines, (mu, sd, w, b, sizes), held = train_letters(reading, items, questions, held_out, collections=(2, 5, 50))
    # every fold read by the judge that held it out, and only its own reports
    for judge, letters in reading.judges_seen:
        assert all(held_out[reading.snapshot.letters[l]["path"]] is judge for l in letters)
    assert w.shape == (len(WANTS), len(mu), 2) and b.shape == (len(WANTS), 2)
    assert "balanced accuracy 1.000" in lines[0] and "opposite 0.000" in lines[0]
    # each report also read in folders of 2 and 5 letters (50 is more than the index holds)
    assert reading.folders == {2, 5} and list(sizes) == [2, 8]
    assert any("in a folder of 5 letters: balanced accuracy 1.000" in line for line in lines)
    # each report's letter model was fitted without its fold: the two folds' models differ
    assert set(held) == set(held_out) and held["a.pdf"] is not held["b.pdf"] and held["a.pdf"] is held["c.pdf"]


def test_train_refuses_the_letter_model_held_out_by_topic(tmp_path, monkeypatch, capsys):
    import assistant.embedding
    from assistant.cli import main

    from conftest import FakeEmbedder

    monkeypatch.setattr(assistant.embedding, "load_embedder", lambda *a, **k: FakeEmbedder())
    code = main(["train", "judge", "--data", str(_write(tmp_path)), "--hold-out", "topic", "--index", str(tmp_path)])
    assert code == 2 and "drop --index to hold out topics" in capsys.readouterr().err


def test_figures_held_out_by_topic_come_from_topics_the_judge_never_saw(tmp_path, fake_embedder):
    data = _write(tmp_path)
    plans = {"topic": "plans", "describe": "children's plans", "weak": "Which authorities had weak plans?",
             "strong": "Which authorities had clear plans?"}
    (data / "topics.json").write_text(json.dumps(TOPICS + [plans]))
    texts = [("Plans are weak and not specific.", "w"), ("Plans are clear and specific.", "s"),
             ("The virtual school supports children in care.", "o")]
    for auth in "abcdefg":
        for name, rows in (("candidates", [{"id": f"{auth}-plans-{j}", "report": f"{auth}.pdf", "authority": auth,
                                            "topic": "plans", "sentence": t, "context": "", "section": None,
                                            "page": 1} for j, (t, _) in enumerate(texts)]),
                           ("labels", [{"id": f"{auth}-plans-{j}", "label": lab} for j, (_, lab) in enumerate(texts)])):
            with open(data / name / f"{auth}.jsonl", "a") as f:
                f.write("".join(json.dumps(r) + "\n" for r in rows))
    figures, judge, held_out = train_judge(data, None, fake_embedder, hold_out="topic")
    assert figures.lines()[0] == "cross-validated in 6 folds by topic"
    assert held_out == {}  # a report's sentences sit in several topics' folds: no judge held it out
    assert figures.pairs == 7 * 3 * 2 and judge.stance_w.shape == (fake_embedder.dim, 4)
