"""Cited answers from inspection letters: index a folder of letters, ask questions."""

from .answer import Answer, Citation
from .engine import Assistant
from .errors import AssistantError
from .indexing import SyncReport, sync

__all__ = ["Answer", "Assistant", "AssistantError", "Citation", "SyncReport", "sync"]
