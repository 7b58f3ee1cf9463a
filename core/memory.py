"""The garbage collector kept off the objects that live as long as an API worker."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def existing_objects_frozen() -> Iterator[None]:
    """Leave the objects that exist now (imported modules, loaded areas) out of the garbage
    collector's passes until the block ends, so that a full collection does not walk them
    while requests wait (the API's p99 in bench/bench_api.py). Garbage is collected first."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
