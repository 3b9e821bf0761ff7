"""The learned judge behind "which authorities" answers: it vetoes evidence of the opposite
polarity; the rules still find and rank what is relevant."""
import numpy as np
import pytest

from assistant.engine import Assistant
from assistant.errors import ModelLoadError
from assistant.judge import PACKAGED, STANCES, Judge

from conftest import FakeEmbedder

QUESTION = "Which authorities had weak contingency planning?"


def _judge(dim: int, stance: str) -> Judge:
    """A judge that reads every sentence as ``stance``."""
    bias = np.full(len(STANCES), -5.0, dtype=np.float32)
    bias[STANCES.index(stance)] = 5.0
    return Judge(np.zeros((dim, len(STANCES)), np.float32), bias, np.zeros((2, 2), np.float32),
                 np.zeros(2, np.float32), model=FakeEmbedder.name)


def test_the_judge_keeps_what_has_the_polarity_asked_and_drops_the_opposite(fake_index):
    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    assert a.judge is None  # no judge is shipped for the fake model's vectors
    by_rules = a.ask(QUESTION)
    assert "Wakefield" in by_rules.authorities
    a.judge = _judge(FakeEmbedder.dim, "w")  # every sentence a weakness: the rules' answer stands
    assert a.ask(QUESTION).authorities == by_rules.authorities
    a.judge = _judge(FakeEmbedder.dim, "s")  # every sentence praise: no authority had weak planning
    vetoed = a.ask(QUESTION)
    assert not vetoed.authorities and not vetoed.citations


def test_the_packaged_judge_is_for_the_bundled_model(monkeypatch):
    judge = Judge.load(PACKAGED)
    assert judge.model == "bundled:all-MiniLM-L6-v2" and judge.stance_w.shape == (384, len(STANCES))
    assert judge.reads_letters and judge.letter_w.shape == (3, judge.letter_mu.shape[0], 2)
    monkeypatch.delenv("ASSISTANT_JUDGE", raising=False)
    assert Judge.for_model("bundled:all-MiniLM-L6-v2") is not None and Judge.for_model("another/model") is None
    monkeypatch.setenv("ASSISTANT_JUDGE", "none")
    assert Judge.for_model("bundled:all-MiniLM-L6-v2") is None
    monkeypatch.setenv("ASSISTANT_JUDGE", "/nowhere/judge.npz")
    with pytest.raises(ModelLoadError, match="ASSISTANT_JUDGE takes default, none"):
        Judge.for_model("bundled:all-MiniLM-L6-v2")


def _with_letter_model(judge: Judge, bias) -> Judge:
    from dataclasses import replace

    from assistant.judge import LETTER_WIDTH, WANTS

    d = LETTER_WIDTH
    return replace(judge, letter_mu=np.zeros(d, np.float32), letter_sd=np.ones(d, np.float32),
                   letter_w=np.zeros((len(WANTS), d, 2), np.float32),
                   letter_b=np.tile(np.array(bias, np.float32), (len(WANTS), 1)))


def test_a_letter_model_decides_which_letters_answer(fake_index):
    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    a.judge = _with_letter_model(_judge(FakeEmbedder.dim, "w"), [5.0, -5.0])  # no letter answers
    nothing = a.ask(QUESTION)
    assert not nothing.found and not nothing.citations
    a.judge = _with_letter_model(_judge(FakeEmbedder.dim, "w"), [-5.0, 5.0])  # every letter answers...
    listed = a.ask(QUESTION)
    # ... that holds a sentence the rules find about the question; each quoted at its best
    assert "Wakefield" in listed.authorities and "lack meaningful contingency plans" in listed.answer
    assert len({c.letter for c in listed.citations}) == len(listed.authorities) >= 2


def test_letter_features_read_each_letters_best_sentences():
    from assistant.judge import LETTER_FEATURES, LETTER_WIDTH, letter_features

    letter_of = np.array([7, 7, 7, 7, 3])
    score = np.array([0.2, 0.9, 0.5, 0.1, 0.4])
    agree = np.array([1.0, 0.3, 0.6, 0.99, 0.8])
    zeros = np.zeros(5)
    x = letter_features(letter_of, score, zeros, zeros, agree, 1 - agree, zeros, zeros, np.array([3, 7, 9]), 5)
    assert x.shape == (3, LETTER_WIDTH)
    assert x[1, 0] == 0.9 and x[0, 0] == 0.4 and not x[2, :2 * LETTER_FEATURES].any()  # letter 9 read nothing
    size = 2 * LETTER_FEATURES
    assert np.allclose(x[:, size], np.log(5)) and np.isclose(x[1, size + 1], 0.9 * np.log(5))  # the folder's size
    assert x[1, 4] == 1.0  # the highest agreement among letter 7's three best (0.99 is fourth)
    assert x[1, 9] == 0.3 and x[0, 9] == 0.8  # the best sentence's own agreement


def test_a_judge_file_of_another_version_is_refused_with_what_to_do(tmp_path):
    import json

    old = tmp_path / "judge.npz"
    Judge.load(PACKAGED).save(old, {})
    meta = json.loads(old.with_suffix(".json").read_text())
    old.with_suffix(".json").write_text(json.dumps({**meta, "version": 1}))
    with pytest.raises(ModelLoadError, match="train it again"):
        Judge.load(old)


def test_the_judge_decides_which_scorer_reads_the_letters():
    from assistant.scoring import JudgedScorer, RuledScorer, scorer_for

    assert isinstance(scorer_for(None), RuledScorer) and scorer_for(None).veto is None
    veto = _judge(FakeEmbedder.dim, "w")  # no letter model: the rules, with its veto
    assert isinstance(scorer_for(veto), RuledScorer) and scorer_for(veto).veto is veto
    reading = _with_letter_model(veto, [0.0, 0.0])
    assert isinstance(scorer_for(reading), JudgedScorer) and scorer_for(reading).judge is reading


def test_without_the_bars_the_letter_model_decides_alone(fake_index):
    from assistant.scoring import JudgedScorer

    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    a.judge = _with_letter_model(_judge(FakeEmbedder.dim, "w"), [-5.0, 5.0])  # every letter answers
    barred = a.ask(QUESTION)
    a.scorer = JudgedScorer(a.judge, bars=False)
    alone = a.ask(QUESTION)
    # with the bars, only letters holding a sentence the rules find about the question; alone, every letter
    assert set(barred.authorities) < set(alone.authorities)
    assert {c.letter for c in alone.citations} == {e["path"] for e in a.letters()}
    a.scorer = None
    assert a.ask(QUESTION).authorities == barred.authorities


def test_letters_beyond_those_quoted_are_counted_in_the_answer(fake_index, monkeypatch):
    import assistant.scoring

    _, index = fake_index
    a = Assistant.open(index, embedder=FakeEmbedder())
    a.judge = _with_letter_model(_judge(FakeEmbedder.dim, "w"), [-5.0, 5.0])  # every letter answers
    every = a.ask(QUESTION)
    monkeypatch.setattr(assistant.scoring, "LISTED_LETTERS", 1)
    one = a.ask(QUESTION)
    quoted = len({c.letter for c in every.citations})
    assert quoted >= 2 and len({c.letter for c in one.citations}) == 1
    more = quoted - 1
    assert f"{more} more letter{'s' * (more != 1)} may answer this but are not quoted here" in one.answer


def test_a_judge_without_its_json_or_for_another_model_is_handled(tmp_path, monkeypatch):
    import json

    alone = tmp_path / "alone.npz"
    Judge.load(PACKAGED).save(alone, {})
    alone.with_suffix(".json").unlink()
    with pytest.raises(ModelLoadError, match="copy them together"):
        Judge.load(alone)
    other = tmp_path / "other.npz"
    Judge.load(PACKAGED).save(other, {})
    meta = json.loads(other.with_suffix(".json").read_text())
    other.with_suffix(".json").write_text(json.dumps({**meta, "model": "another/model", "version": 1}))
    monkeypatch.setenv("ASSISTANT_JUDGE", str(other))
    assert Judge.for_model("bundled:all-MiniLM-L6-v2") is None  # not its vectors: not used, whatever its version
