"""A bounded memo for the request path's pure functions (credential verdicts, Accept parses, bodies, XML).

Clients repeat the same few headers and bodies, so remembering a result per distinct
input makes a repeat a dict lookup. Inputs longer than ``max_size`` are computed but not
kept (uvicorn takes header values of any length: keeping megabyte-long ones would let a
few thousand requests pin gigabytes), and a full memo is emptied whole: the cheapest bound,
and a client's working set refills it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    def __init__(self, limit: int, max_size: int) -> None:
        self.limit = limit
        self.max_size = max_size
        self._entries: dict[K, V] = {}

    def get(self, key: K, size: int, compute: Callable[[], V]) -> V:
        """The remembered result for ``key``, or ``compute()`` (kept when ``size`` is within the bound)."""
        try:
            return self._entries[key]
        except KeyError:
            value = compute()
            if size <= self.max_size:
                if len(self._entries) >= self.limit:
                    self._entries.clear()
                self._entries[key] = value
            return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))
