"""The learned judge behind "which authorities" answers: it vetoes evidence of the opposite
polarity; the rules still find and rank what is relevant."""
import numpy as np

from assistant.engine import Assistant
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


def test_the_packaged_judge_is_for_the_bundled_model():
    judge = Judge.load(PACKAGED)
    assert judge.model == "bundled:all-MiniLM-L6-v2" and judge.stance_w.shape == (384, len(STANCES))
    assert Judge.for_model("bundled:all-MiniLM-L6-v2") is not None and Judge.for_model("another/model") is None
