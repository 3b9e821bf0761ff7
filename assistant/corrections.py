"""A person's corrections to what was read from a letter, and removing letters without losing them.

Corrections live beside the letters, in ``<letters folder>/.corrections.json``, keyed by the
letter's sha256 (its index id), so they survive re-indexing, renaming and a rebuild; each sync
lays them over the facts read from the text, and filters and answers use the result. A
correction names fields of the letter's facts (``authority``, ``date``, ``kind``, or any other
field the facts have); an empty value takes the correction back.

A removed letter is moved to ``<letters folder>/.removed/``: hidden, so no longer indexed,
and recoverable by moving it back. Nothing is deleted.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .errors import AssistantError

FILE = ".corrections.json"
REMOVED = ".removed"
#: the fields a person can correct from the app; the file may name any field of the facts
EDITABLE = ("authority", "date", "kind")


class CorrectionError(AssistantError):
    """A correction cannot be saved; the message says what to change."""


def load(corpus: Path | str) -> dict[str, dict]:
    """The corrections for a letters folder: {sha256: {field: value}} (empty when none)."""
    path = Path(corpus) / FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CorrectionError(f"{path} is not valid JSON ({exc}); mend or remove it") from None
    return {sha: dict(fix.get("fields", {})) for sha, fix in data.items() if isinstance(fix, dict)}


def save(corpus: Path | str, letter_id: str, path: str, fields: dict) -> dict:
    """Record corrections for one letter (empty values take a correction back); returns the
    letter's corrections now. Raises CorrectionError for a date that is not a date or an
    unknown kind of letter."""
    from .authorities import canonical_name
    from .metadata import KINDS
    from .question import parse_day
    from .errors import FilterError

    clean = {}
    for name, value in fields.items():
        value = value.strip() if isinstance(value, str) else value
        if value in (None, ""):
            clean[name] = None
        elif name == "date":
            try:
                clean[name] = parse_day(value, "Date")
            except FilterError as exc:
                raise CorrectionError(str(exc)) from None
        elif name == "kind":
            if value not in KINDS:
                raise CorrectionError(f"kind must be one of {', '.join(KINDS)}, not “{value}”")
            clean[name] = value
        elif name == "authority":
            clean[name] = canonical_name(value)
        else:
            clean[name] = value
    file = Path(corpus) / FILE
    data = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
    entry = data.get(letter_id, {"fields": {}})
    entry["fields"] = {k: v for k, v in {**entry.get("fields", {}), **clean}.items() if v is not None}
    entry["path"] = path  # for a person reading the file
    entry["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if entry["fields"]:
        data[letter_id] = entry
    else:
        data.pop(letter_id, None)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, file)
    return entry["fields"]


def apply(entry: dict, fix: dict | None) -> dict:
    """A manifest entry with ``fix`` laid over the facts read from the text; those are kept in
    ``read_meta`` so that taking a correction back restores them."""
    read = entry.get("read_meta") or entry["meta"]
    out = {k: v for k, v in entry.items() if k != "read_meta"}
    if not fix:
        out["meta"] = read
        return out
    meta = {**read, **fix, "corrected": sorted(fix)}
    if "authority" in fix:
        meta["authority_as_written"] = fix["authority"]
    return {**out, "meta": meta, "read_meta": read}


def remove(corpus: Path | str, rel: str) -> Path:
    """Move the letter ``rel`` (and its other names) out of the index's sight into ``.removed/``;
    returns where it went."""
    corpus = Path(corpus).resolve()
    src = (corpus / rel).resolve()
    if not src.is_relative_to(corpus) or not src.is_file():
        raise CorrectionError(f"{rel} is not a file in the letters folder")
    dest_dir = corpus / REMOVED / time.strftime("%Y%m%d-%H%M%S")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    os.replace(src, dest)
    return dest
