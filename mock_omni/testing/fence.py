"""Requests in flight across a reset must not write into the state that replaced theirs.

A vendor request may wait between its start and its answer (its body still arriving, or
held by a delay fault). If the state is reset meanwhile (a reset, a state import, a
snapshot restored, the account removed), carrying the request out would write its
scenario, journal entry and rate-limit token into the new state: the next test would
see the previous test's request. So each request takes a ticket when it starts, every
such change closes the fence for everyone or for one account, and a request whose
ticket predates the closing is dropped unanswered (VendorApi asks ``admits`` just
before acting, with no await in between).
"""

from __future__ import annotations

import threading


class Fence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tick = 0
        #: The tick of the last change of the whole state, and of each account's since then.
        self._everyone = 0
        self._accounts: dict[str, int] = {}

    def ticket(self) -> int:
        """What a request takes when it starts."""
        return self._tick

    def close(self, account: str | None = None) -> None:
        """The state (or one account's) is being replaced: requests that started before are out."""
        with self._lock:
            self._tick += 1
            if account is None:
                self._everyone = self._tick
                self._accounts.clear()  # superseded: keeps the table as small as the accounts reset since
            else:
                self._accounts[account] = self._tick

    def admits(self, ticket: int, account: str | None) -> bool:
        """Whether a request that took ``ticket`` may still act (on ``account``, if it has one)."""
        if ticket >= self._tick:
            return True  # nothing closed since it started: the common case, one comparison
        return ticket >= self._everyone and (account is None or ticket >= self._accounts.get(account, 0))
