"""Run an iterator in a child process and consume it in this one.

The sales loader's parser is pure Python and holds the GIL, and so does a good part of
SQLite inserting (binding parameters): threads cannot overlap them, two processes can.
The child parses and pickles chunks of items through a pipe while the parent inserts the
previous chunk. Exceptions raised in the child (OutOfOrder, FeedError...) are re-raised in
the parent; if the parent dies (even by SIGKILL) the child gets a broken pipe and exits.

The child is started the platform's way: forked on Linux (cheapest: nothing is imported
again), spawned on macOS and Windows (and by forkserver, Python 3.14's Linux default). So
``produce`` must be picklable: a ``functools.partial`` of a module-level function with
picklable arguments, never a closure. A forked child must not touch the parent's SQLite
connection (the parser never does).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from .errors import ParserDied

T = TypeVar("T")

_ITEMS, _ERROR, _DONE = 0, 1, 2


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> float:
    """The CPUs this process may use: its affinity (``taskset``), capped by a cgroup v2 quota
    (``docker run --cpus``). On one CPU a forked parser only adds the cost of pickling."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = cgroup.read_text().split()
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    return cpus


def run_forked(
    produce: Callable[[], Iterator[T]], chunk: int = 64, start_method: str | None = None
) -> Iterator[T]:
    """Yield what ``produce()`` yields, produced in a child process ``chunk`` items at a time.

    ``start_method`` None is the platform's default ('fork' on Linux up to Python 3.13);
    the tests also run 'spawn' and 'forkserver' here.
    """
    context = multiprocessing.get_context(start_method)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(produce, sender, receiver, chunk), name="loader-parser", daemon=True
    )
    child.start()
    sender.close()  # the parent keeps only the reading end: EOF when the child is gone
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except (EOFError, OSError):  # OSError: killed in the middle of a message
                child.join()
                raise ParserDied(
                    f"the parser process died (exit code {child.exitcode}): was it killed for lack of "
                    "memory? Nothing was stored; run the loader again"
                ) from None
            if kind == _ITEMS:
                yield from payload
            elif kind == _ERROR:
                raise payload
            else:
                return
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
        child.join()


def _child(produce: Callable[[], Iterator[T]], sender, receiver, chunk: int) -> None:
    # This process has a copy of the pipe's reading end (inherited by fork, or passed): close
    # it, or the pipe would never break when the parent dies and a full pipe would block it forever.
    receiver.close()
    # the parent's SIGTERM handler unwinds the parent; here the default (a quiet exit) is right:
    # the parent terminates this process when it stops, whatever the reason
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        items: list[T] = []
        for item in produce():
            items.append(item)
            if len(items) == chunk:
                sender.send((_ITEMS, items))
                items = []
        if items:
            sender.send((_ITEMS, items))
        sender.send((_DONE, None))
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone: nothing left to do
    except BaseException as exc:  # handed to the parent, which re-raises it
        try:
            sender.send((_ERROR, exc))
        except (BrokenPipeError, EOFError):
            pass  # the parent is gone
        except Exception:  # not picklable
            with contextlib.suppress(OSError):
                sender.send((_ERROR, RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        sender.close()
