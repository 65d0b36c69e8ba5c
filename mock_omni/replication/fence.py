"""The reset fence of a replica (testing/fence.py): tickets are positions in the log, which every
replica agrees on, so a request that started before a reset applied anywhere is out everywhere."""

from __future__ import annotations

from collections.abc import Callable

from ..testing.fence import Fence
from .log import StoreUnavailable


class ReplicatedFence(Fence):
    def __init__(self, position: Callable[[], int], catch_up: Callable[[], object] | None = None) -> None:
        super().__init__()
        #: How many entries of the log this replica has applied (or, while applying, the entry's index).
        self._position = position
        #: Applies what the log holds beyond this replica's position (one round trip to Redis).
        self._catch_up = catch_up

    def ticket(self) -> int:
        """Where the log ends now, not where this replica is: a replica that has not yet applied a reset another
        one answered would take a request that starts after that reset for one that started before it, and
        drop it. Taken only for a body that does not come with its head (the catch-up is a round trip)."""
        if self._catch_up is not None:
            try:
                self._catch_up()
            except StoreUnavailable:
                pass  # its own position, then; the call itself gets the 500 envelope anyway
        return self._position()

    def close(self, account: str | None = None) -> None:
        with self._lock:
            # Applied while the entry at this position is: requests that started up to it are out.
            mark = self._position() + 1
            if account is None:
                self._everyone = mark
                self._accounts.clear()
            else:
                self._accounts[account] = mark

    def admits(self, ticket: int, account: str | None) -> bool:
        return ticket >= self._everyone and (account is None or ticket >= self._accounts.get(account, 0))
