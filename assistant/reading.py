"""Reading several new letters at once, on the machine's cores, for indexing.

A small pool of forked processes each reads and cuts one letter at a time (a PDF is still
parsed in its own guarded child, with its time and memory limits, see ``letters``). The
pool's processes, and the PDF readers they fork, die with the process that started them,
so nothing outlives a killed writer (or holds its lock: see ``store.writer_lock``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Callable, Iterator

#: Processes reading and cutting letters at once (the machine this runs on has 2 cores).
READ_WORKERS = 2
#: While reading, the caller is given a turn at least this often (seconds), to look at the folder.
READ_TICK = 1.0

#: The reading function of a pool process (set when the process starts).
_read: Callable | None = None


def _die_with_parent() -> None:
    """Be killed when the process that started this one dies (Linux; elsewhere nothing)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _start(read: Callable) -> None:
    global _read
    _read = read
    _die_with_parent()
    os.register_at_fork(after_in_child=_die_with_parent)  # the PDF readers this one forks


def _run(path: str, key: str):
    return _read(Path(path), key)


def read_all(jobs: list[tuple[str, Path]], read: Callable[[Path, str], tuple],
             workers: int | None = None) -> Iterator[tuple | None]:
    """Yield ``(key, *read(path, key))`` for each ``(key, path)`` as each is read, and None
    after every READ_TICK seconds in which nothing finished.

    ``read`` must not raise (it returns its failure). With one job, or one core, reading
    happens here. If a pool process dies, the letters it had not read are read here.
    """
    workers = min(workers or READ_WORKERS, len(jobs), os.cpu_count() or 1)
    if workers < 2:
        for key, path in jobs:
            yield (key, *read(path, key))
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the pool is forked after the tokenizer ran
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_start, initargs=(read,))
    try:
        futures = {pool.submit(_run, str(path), key): (key, path) for key, path in jobs}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, timeout=READ_TICK, return_when=FIRST_COMPLETED)
            if not done:
                yield None
            for fut in done:
                key, path = futures[fut]
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    result = read(path, key)
                yield (key, *result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

