"""Building many containers at once without the cyclic garbage collector walking them.

Reading rows and building records make hundreds of thousands of tuples, lists
and dicts that all stay alive. Each allocation counts towards the collector's
next pass, and every pass walks the young objects again, so on a 300k-row
answer a third of the time went to collections that free nothing (measured in
bench/README.md). Cycles made meanwhile are collected after the pause.

Resuming is the other half: everything made during the pause is still "young",
so the first pass after it walks it all once more (0.45 s for 2M dicts) and
frees nothing. ``gc.freeze()`` + ``gc.unfreeze()`` moves it to the oldest
generation in constant time instead, where the next full collection sees it
as it would see any long-lived data.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause automatic collection; resume only if this call paused it (nesting and threads are safe:
    the worst a race does is resume collection early)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        _age_young_objects()
        gc.enable()


def _age_young_objects() -> None:
    # Only when nothing is frozen already: unfreeze() would also thaw what the user froze on purpose.
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def without_gc(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` run with automatic collection paused (see ``gc_paused``)."""

    @functools.wraps(function)
    def paused(*args, **kwargs) -> T:
        with gc_paused():
            return function(*args, **kwargs)

    return paused
