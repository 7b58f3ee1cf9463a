"""Run an iterator ahead of its consumer in a background thread.

An ingest alternates Python work (parsing, mapping, validating, geocoding a chunk) with
database work (COPY and merge). psycopg waits on the server without holding the GIL, so
preparing the next chunk while the database loads the current one puts both cores to work.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], ahead: int = 1, name: str = "prefetch") -> Iterator[T]:
    """Yield the items of `items` in order, producing up to `ahead` of them in advance.

    An exception raised while producing is raised to the consumer at that item's place. If the
    consumer stops early (an exception of its own, or closing the generator), the producer
    stops after the item it is working on, and the thread is joined before returning.
    """
    buffer: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def offer(item: object) -> bool:
        # A bounded put that gives up when the consumer has gone.
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            offer(_Failed(error))
            return
        finally:
            # A generator left early releases what it holds (files, cursors) here and now.
            close = getattr(source, "close", None)
            if close is not None:
                close()
        offer(_DONE)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
