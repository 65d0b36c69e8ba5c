"""Work done in steps: a generator that yields where the event loop may serve other calls in between.

A big send (a thousand destinations) takes milliseconds; done at once, it holds the event loop and every
small call waits behind it. Done as steps (``Messages.sending``, ``VendorApi.answering``), the server runs
a few steps per turn of the loop (server/work_share.py); everywhere else (in-process apps, replicas
applying their log, the ASGI path) ``run`` does every step at once, so both ways are one set of rules.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")

#: What a stepped piece of work is: it yields None between steps and returns its result.
Steps = Generator[None, None, T]


def run(steps: Steps[T]) -> T:
    """Every step at once; the work's result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
