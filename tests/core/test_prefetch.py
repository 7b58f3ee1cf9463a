"""core.prefetch: the background producer the ingest uses to overlap Python and database work."""

from __future__ import annotations

import threading

import pytest

from core.prefetch import prefetched


def test_items_arrive_in_order_and_complete():
    assert list(prefetched(iter(range(1000)), ahead=3)) == list(range(1000))


def test_a_producer_error_is_raised_at_its_place():
    def items():
        yield 1
        yield 2
        raise ValueError("line 3 is not a record")

    seen = []
    with pytest.raises(ValueError, match="line 3"):
        for item in prefetched(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_closes_the_producer():
    closed = threading.Event()
    produced = []

    def items():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    stream = prefetched(items(), ahead=1)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed.is_set()  # the thread is joined and the generator closed before close() returns
    assert len(produced) <= 5  # it ran at most `ahead` (+ the item in hand) past the consumer
    assert not any(t.name == "prefetch" for t in threading.enumerate())
