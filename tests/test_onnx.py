"""The ONNX Runtime backend: exported from the bundled model, same vectors as sentence-transformers."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

TEXTS = ["Plans lack contingency. Supervision is not reflective.",
         "The waiting list is eight months, and this is too long."]
SPANS = [[(0, 23), (24, 54)], [(0, 55)]]


@pytest.fixture(scope="module")
def torch_embedder():
    from assistant.embedding import load_embedder

    return load_embedder(backend="torch")


def test_fp32_onnx_matches_the_model_and_shares_its_index(torch_embedder):
    from assistant.embedding import load_embedder

    onnx = load_embedder(backend="onnx")
    assert onnx.name == torch_embedder.name and onnx.dim == 384 and onnx.max_tokens == 256
    assert onnx.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)
    p1, s1 = onnx.embed_spans(TEXTS, SPANS)
    p2, s2 = torch_embedder.embed_spans(TEXTS, SPANS)
    assert np.allclose(p1, p2, atol=1e-4) and np.allclose(s1, s2, atol=1e-4)
    # the judge's stance head reads the same token vectors from both (at index time)
    def sizes_and_means(tokens):
        return np.array([[len(t), *t.mean(axis=0)[:3]] for t in tokens])

    r1 = onnx.embed_spans(TEXTS, SPANS, read=sizes_and_means)[2]
    r2 = torch_embedder.embed_spans(TEXTS, SPANS, read=sizes_and_means)[2]
    assert r1.shape == (3, 4) and np.allclose(r1, r2, atol=1e-4)


def test_int8_is_close_but_kept_apart(torch_embedder):
    from assistant.embedding import load_embedder

    int8 = load_embedder(backend="onnx-int8")
    assert int8.name.endswith("@onnx-int8")  # its vectors differ: an index says which it holds
    cosines = (int8.embed(TEXTS) * torch_embedder.embed(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.9


def test_unknown_backend_is_a_clear_error():
    from assistant.embedding import load_embedder

    with pytest.raises(ValueError, match="torch, onnx, onnx-int8"):
        load_embedder(backend="tpu")


@pytest.mark.slow
def test_questions_are_embedded_without_torch_and_match_it(torch_embedder, tmp_path, monkeypatch):
    """Indexing saves an ONNX export; a fresh embedder then embeds questions with it (torch not
    loaded) and the vectors agree with torch's on the check questions."""
    import json

    from assistant.embedding import SentenceTransformerEmbedder
    from conftest import QUESTIONS

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = SentenceTransformerEmbedder(torch_embedder.name)
    assert fresh._question_embedder() is None  # no export yet: questions would load torch
    torch_embedder._exported = False
    before = torch_embedder.embed_spans(TEXTS, SPANS)  # indexing: the export is saved as a side effect
    assert list(tmp_path.rglob("model.onnx"))
    after = torch_embedder.embed_spans(TEXTS, SPANS)  # a padded batch, embedded after the export
    assert np.allclose(before[0], after[0], atol=1e-6) and np.allclose(before[1], after[1], atol=1e-6)
    fresh = SentenceTransformerEmbedder(torch_embedder.name)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    quick = fresh.embed(questions)
    assert fresh._model is None and fresh.dim == 384  # answered without loading the model
    cosines = (quick * torch_embedder.model.encode(questions, normalize_embeddings=True)).sum(axis=1)
    assert cosines.min() > 0.9999
