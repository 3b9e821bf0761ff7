"""An ONNX Runtime embedder for sentence-transformers models that pool by averaging.

The model is exported once with ``torch.onnx.export`` (the transformer only; pooling and
normalising happen here in NumPy) and cached; later runs need neither torch nor
transformers: the tokenizer comes from the model's own ``tokenizer.json``. ``int8`` adds
dynamic quantisation (``onnxruntime.quantization.quantize_dynamic``): faster, a little less
exact, so its vectors are not mixed with the full-precision ones (it has its own name).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .embedding import Span, normalise, resolve_model, sentence_tokens
from .errors import ModelLoadError

log = logging.getLogger(__name__)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inspection-letters-assistant" / "onnx"


def _export_dir(model_dir: Path) -> Path:
    key = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:12]
    return _cache_root() / key


def cached_export(model: str, *, load: bool = True):
    """The fp32 ONNX export of ``model`` if one is cached and onnxruntime is installed: an
    ``OnnxEmbedder`` giving the same vectors as the model (or, with ``load=False``, the path);
    None otherwise. Nothing is exported here."""
    import importlib.util

    try:
        model_dir = Path(resolve_model(model))
    except ModelLoadError:
        return None
    path = _export_dir(model_dir) / "model.onnx"
    if not path.exists() or not (path.parent / "tokenizer.json").exists() or \
            importlib.util.find_spec("onnxruntime") is None or _pooling(model_dir) != "mean":
        return None
    if not load:
        return path
    embedder = OnnxEmbedder(model, threads=1)  # one question at a time: one thread starts soonest
    embedder.name = model
    return embedder


def _pooling(model_dir: Path) -> str | None:
    """"mean" when the model averages token vectors then normalises (what OnnxEmbedder does)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return None
    plain = kinds in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"])
    return "mean" if plain and pooling.get("pooling_mode_mean_tokens") else None


def export_for_questions(model: str, st_model) -> Path | None:
    """Save the fp32 ONNX export of an already loaded sentence-transformers model (at index
    time, when torch is loaded anyway), so later processes embed questions without torch."""
    model_dir = Path(resolve_model(model))
    if _pooling(model_dir) != "mean":
        return None
    out = _export_dir(model_dir)
    log.info("saving %s as ONNX for quick questions in %s", model, out)
    return export_model(model_dir, out, quantize=False, st=st_model)


def export_model(model_dir: Path, out_dir: Path, quantize: bool, st=None) -> Path:
    """Export the transformer of the sentence-transformers model in ``model_dir`` to ONNX
    (``st``: the model already loaded, if it is)."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / "model.onnx"
    if not fp32.exists():
        if st is None:
            from sentence_transformers import SentenceTransformer

            st = SentenceTransformer(str(model_dir), device="cpu")
        transformer = st[0].auto_model if hasattr(st[0], "auto_model") else st[0].model
        # a copy: tracing leaves the traced module computing padded batches differently, and
        # the caller's model goes on embedding letters
        transformer = copy.deepcopy(transformer).eval()

        class Wrapped(torch.nn.Module):  # keyword arguments only: transformers 5 rejects positional ones
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        sample = st.tokenizer(["an example sentence to trace the model"], return_tensors="pt")
        args = (sample["input_ids"], sample["attention_mask"], sample.get("token_type_ids",
                                                                         torch.zeros_like(sample["input_ids"])))
        tmp = fp32.with_suffix(f".{os.getpid()}.tmp")  # two processes may export at once
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes fixed at export
            torch.onnx.export(
                Wrapped(transformer), args, str(tmp), dynamo=False, opset_version=17,
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["token_embeddings"],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                              "token_type_ids": {0: "batch", 1: "seq"}, "token_embeddings": {0: "batch", 1: "seq"}},
            )
        for name in ("tokenizer.json", "sentence_bert_config.json", "config.json"):
            if (model_dir / name).exists():
                (out_dir / name).write_bytes((model_dir / name).read_bytes())
        os.replace(tmp, fp32)  # last: the export counts as present only when complete
    if not quantize:
        return fp32
    int8 = out_dir / "model.int8.onnx"
    if not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = int8.with_suffix(".tmp")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        os.replace(tmp, int8)
    return int8


class OnnxEmbedder:
    """Same interface as ``SentenceTransformerEmbedder``; runs the exported model with onnxruntime."""

    def __init__(self, model: str, *, quantize: bool = False, batch_size: int = 32, threads: int | None = None):
        self.base_name = model
        self.name = model + ("@onnx-int8" if quantize else "")  # fp32 gives the same vectors as torch
        self.quantize = quantize
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._session = None
        self._tokenizer = None
        self.max_tokens = 256
        self.dim = 0

    def _load(self) -> None:
        if self._session is not None:
            return
        model_dir = Path(resolve_model(self.base_name))
        if not (model_dir / "tokenizer.json").exists():
            raise ModelLoadError(f"{model_dir} has no tokenizer.json; the ONNX backend needs a local "
                                 "sentence-transformers folder with a fast tokenizer")
        out = _export_dir(model_dir)
        path = out / ("model.int8.onnx" if self.quantize else "model.onnx")
        if not path.exists():
            log.warning("exporting %s to ONNX (once; cached in %s)", self.base_name, out)
            path = export_model(model_dir, out, self.quantize)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        config = out / "sentence_bert_config.json"
        if config.exists():
            self.max_tokens = int(json.loads(config.read_text()).get("max_seq_length", 256))
        hidden = json.loads((out / "config.json").read_text()).get("hidden_size") if (out / "config.json").exists() else None
        self.dim = int(hidden or self._run(["x"])[0].shape[-1])

    def __getattribute__(self, item):
        if item in ("dim", "max_tokens") and object.__getattribute__(self, "_session") is None:
            object.__getattribute__(self, "_load")()
        return object.__getattribute__(self, item)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self._load()
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))] if texts else []

    def _run(self, texts: Sequence[str]):
        encs = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), np.int64)
        mask = np.zeros((len(encs), width), np.int64)
        types = np.zeros((len(encs), width), np.int64)
        for k, e in enumerate(encs):
            n = len(e.ids)
            ids[k, :n], mask[k, :n], types[k, :n] = e.ids, e.attention_mask, e.type_ids
        tokens = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        return tokens, mask, encs

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_spans(texts, [[] for _ in texts])[0]

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int | None = None,
                    read=None):
        """Passage vectors (mean of token vectors, normalised) and in-context sentence vectors;
        with ``read``, also what it makes of each sentence's token vectors (see
        ``embedding.embed_with_sentences``)."""
        self._load()
        if not texts:
            empty = np.zeros((0, self.dim), np.float32), np.zeros((0, self.dim), np.float32)
            return empty if read is None else (*empty, read([]))
        size = batch_size or self.batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
        passages = np.zeros((len(texts), self.dim), np.float32)
        sentences: list = [None] * len(texts)
        reads: list = [None] * len(texts)
        for b in range(0, len(order), size):
            batch = order[b:b + size]
            tokens, mask, encs = self._run([texts[i] for i in batch])
            m = mask[..., None].astype(np.float32)
            passages[batch] = (tokens * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            for k, i in enumerate(batch):
                offsets = np.array(encs[k].offsets, dtype=np.int64).reshape(-1, 2)
                n = len(offsets)
                starts, ends = offsets[:, 0], offsets[:, 1]
                own = sentence_tokens(tokens[k, :n], np.ones(n, bool), ends > starts, starts, ends, spans[i])
                sentences[i] = np.stack([t.mean(axis=0) for t in own]) if own else np.zeros((0, self.dim), np.float32)
                if read is not None:
                    reads[i] = read(own)
        sent = np.concatenate(sentences) if sentences else np.zeros((0, self.dim), np.float32)
        vectors = normalise(passages), normalise(sent) if len(sent) else sent
        return vectors if read is None else (*vectors, np.concatenate(reads))
