"""Keeping the index in step with the letters folder as files arrive, change or go.

Changes are gathered until the folder has been quiet for a moment and every changed file
has stopped growing (a letter still being copied is not read half-written); then one sync
runs. The command line's ``assistant watch`` and the web app use the same watcher.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from .letters import SUFFIXES

log = logging.getLogger(__name__)


class FolderWatcher:
    """Calls ``on_change()`` after letters in ``folder`` change and settle."""

    def __init__(self, folder: Path | str, on_change: Callable[[], object], *, quiet: float = 1.5,
                 poll: float = 0.5):
        self.folder = Path(folder)
        self.on_change = on_change
        self.quiet = quiet
        self.poll = poll
        self._dirty: set[Path] = set()
        self._last_event = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer = None
        self._thread: threading.Thread | None = None

    # watchdog calls this from its own thread
    def _touched(self, path: str) -> None:
        p = Path(path)
        if p.name.startswith(".") or (p.suffix.lower() not in SUFFIXES and p.suffix):
            return
        with self._lock:
            self._dirty.add(p)
            self._last_event = time.monotonic()

    def start(self) -> "FolderWatcher":
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.event_type in ("opened", "closed_no_write"):
                    return
                watcher._touched(event.src_path)
                if getattr(event, "dest_path", None):
                    watcher._touched(event.dest_path)

        self.folder.mkdir(parents=True, exist_ok=True)
        self._observer = Observer()
        self._observer.schedule(Handler(), str(self.folder), recursive=True)
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name="letters-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        sizes: dict[Path, int | None] = {}
        while not self._stop.wait(self.poll):
            with self._lock:
                dirty = set(self._dirty)
                quiet_for = time.monotonic() - self._last_event
            if not dirty or quiet_for < self.quiet:
                continue
            now = {p: (p.stat().st_size if p.exists() else None) for p in dirty}
            if now != {p: sizes.get(p) for p in dirty}:
                sizes = now  # still growing (or first look): check again next round
                continue
            with self._lock:
                self._dirty -= dirty
            sizes = {}
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - a failed sync is logged; the watcher keeps watching
                log.exception("sync after a change in %s failed", self.folder)


def keep_in_sync(assistant, folder: Path | str) -> FolderWatcher:
    """Start watching ``folder`` and sync ``assistant`` with it after each settled change,
    printing each sync's report (for the command line and the web app's terminal)."""
    return FolderWatcher(folder, lambda: print(assistant.sync(folder, progress=False).summary(), flush=True)).start()
