"""A bounded memo for the request path's pure functions (credential verdicts, Accept parses, bodies, XML).

Clients repeat the same few headers and bodies, so remembering a result per distinct
input makes a repeat a dict lookup. Inputs longer than ``max_size`` are computed but not
kept (uvicorn takes header values of any length: keeping megabyte-long ones would let a
few thousand requests pin gigabytes), and a full memo is emptied whole: the cheapest bound,
and a client's working set refills it at once.

A result is kept from the second time its input comes, not the first. Suites and load tests
that number every body (a new scenario name each time) never repeat one: kept, their parsed
bodies and renderings only filled the memo, and the CPU's caches with it (in-process, a new
JSON body cost 1-2 us more with its parse kept than without; under wrk, within the noise).
An input seen once costs its hash in a bounded set; a repeated one is computed twice, then found.

A dict underneath, so a hit is ``memo.get(key, MISSING)``: one C call on the hot path.
"""

from __future__ import annotations

from typing import Final, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: What ``get`` returns for an input not remembered (results themselves may be None).
MISSING: Final = object()


class Memo(dict[K, V]):
    def __init__(self, limit: int, max_size: int) -> None:
        super().__init__()
        self.limit = limit
        self.max_size = max_size
        #: Hashes of inputs seen once (a collision only keeps a result one sighting early).
        self._seen: set[int] = set()

    def remember(self, key: K, value: V, size: int) -> V:
        """Keep ``value`` for ``key`` if ``key`` came before and ``size`` is within the bound; returns ``value``."""
        if size <= self.max_size:
            seen = self._seen
            digest = hash(key)
            if digest in seen:
                if len(self) >= self.limit:
                    self.clear()
                self[key] = value
            else:
                if len(seen) >= self.limit:
                    seen.clear()
                seen.add(digest)
        return value
