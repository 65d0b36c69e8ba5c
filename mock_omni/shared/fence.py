"""The reset fence (testing/fence.py) across replicas: a request in flight on one replica across a reset
made on another writes nothing into the state that replaced its own.

A request's ticket is the fence's tick on Redis when it started; closing the fence makes a new tick and
writes it into every account it closes for (all of them, or one), so the call's script (call.lua) sees
atomically whether its account was reset since the ticket, and acts or does nothing. ``admits`` is the
same test in Python, for what happens outside a call's script (a dropped connection's journal entry, calls
with no account). Only requests that can wait take a ticket (the ASGI path: a body still arriving, a delay
fault); a call answered in the protocol starts and acts at once, as in memory.
"""

from __future__ import annotations

from . import scripts
from .link import Link, StoreUnavailable, as_names

CLOSE = scripts.named("fence")
#: A ticket no reset is newer than.
UNFENCED = 2**62


class SharedFence:
    def __init__(self, link: Link) -> None:
        self.link = link

    def ticket(self) -> int:
        try:
            with self.link.guard():
                return int(self.link.client.get(self.link.keys.fence) or 0)
        except StoreUnavailable:
            # No fence to read: nor any state to write, so the call fails with the 500 envelope anyway.
            return UNFENCED

    def close(self, account: str | None = None) -> None:
        keys = self.link.keys
        if account is None:
            with self.link.guard():
                hashes = [keys.account_by_tag(name).account for name in as_names(self.link.client.zrange(
                    keys.accounts, 0, -1))]
        else:
            hashes = [keys.account(account).account]
        self.link.script(CLOSE, [keys.fence, keys.fence_all, keys.fenced, *hashes],
                         ["" if account is None else account.encode("utf-8", "surrogatepass")])

    def admits(self, ticket: int, account: str | None) -> bool:
        keys = self.link.keys
        with self.link.guard():
            pipe = self.link.client.pipeline(transaction=False)
            pipe.get(keys.fence_all)
            if account is not None:
                pipe.hget(keys.fenced, account)
            closed = pipe.execute()
        return all(ticket >= int(tick or 0) for tick in closed)
