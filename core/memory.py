"""Handing freed memory back to the operating system between the phases of a long job."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa


def release_freed_memory() -> None:
    """Return the memory that freed frames and Arrow buffers left in the allocators' pools.

    A load's reading and preparing threads each allocate from their own glibc arena and keep
    what they free there; a phase that follows (a rollup rebuild) would grow on top of it.
    """
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    # glibc only (musl and macOS have no malloc_trim); elsewhere this is a no-op.
    library = ctypes.util.find_library("c")
    libc = ctypes.CDLL(library) if library else None
    return getattr(libc, "malloc_trim", None)
