"""The reset fence of a replica (testing/fence.py): tickets are positions in the log, which every
replica agrees on, so a request that started before a reset applied anywhere is out everywhere."""

from __future__ import annotations

from collections.abc import Callable

from ..testing.fence import Fence


class ReplicatedFence(Fence):
    def __init__(self, position: Callable[[], int]) -> None:
        super().__init__()
        #: How many entries of the log this replica has applied (or, while applying, the entry's index).
        self._position = position

    def ticket(self) -> int:
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
