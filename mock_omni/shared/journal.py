"""The request journal on Redis: ``RequestJournal`` (state.py), as bounded as in memory.

Each account's requests go to a stream in the account's slot, written by the call's own
script (no extra round trip), capped at the journal limit; requests without an account
(401, unknown path) go to one more stream. Reading merges the streams by Redis's time and
keeps the newest ``limit``: each stream holds at least its share of those, so the view is
the one a single capped journal would give. ``recorded`` adds up counters that clearing
leaves alone, as the memory journal's count.
"""

from __future__ import annotations

import heapq

import orjson

from ..testing.journal import Entry, kept
from . import scripts
from .link import Link, as_names

RECORD = scripts.named("record", "journal")


def entry_arguments(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
                    account: str | None) -> list[str | bytes]:
    """What a journal entry's script gets (call.lua ARGV 21-26, record.lua 3-8)."""
    short, body = kept(headers, body)
    names = orjson.dumps([[name.decode("latin-1"), value.decode("latin-1")] for name, value in short])
    return [method, path, query, names, body, "" if account is None else account.encode("utf-8", "surrogatepass")]


def _entry(fields: dict[bytes, bytes]) -> Entry:
    account = fields[b"a"]
    return Entry(
        int(fields[b"t"]) / 1e6, fields[b"m"].decode(), fields[b"p"].decode("utf-8", "surrogatepass"),
        fields[b"q"].decode("latin-1"),
        tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in orjson.loads(fields[b"h"])),
        fields[b"b"], int(fields[b"s"]), account.decode("utf-8", "surrogatepass") if account else None,
    )


class RedisJournal:
    def __init__(self, link: Link, limit: int) -> None:
        self.link = link
        self._limit = max(0, limit)

    @property
    def limit(self) -> int:
        return self._limit

    def record(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
        body: bytes, status: int, account: str | None,
    ) -> None:
        """One entry on its own (calls answered before any operation; a call's script writes its own)."""
        keys = self.link.keys
        stream, counter = ((keys.journal, keys.journal_count) if account is None
                           else keys.account(account)[5:7])
        self.link.run(RECORD, (stream, counter),
                      [str(self._limit), str(status), *entry_arguments(method, path, query, headers, body, account)])

    def _streams(self) -> list[tuple[str, str]]:
        """(stream, counter) of requests without an account, of every account, of retired ones."""
        keys = self.link.keys
        with self.link.guard():
            pipe = self.link.client.pipeline(transaction=True)
            pipe.zrange(keys.accounts, 0, -1)
            pipe.smembers(keys.retired)
            current, retired = pipe.execute()
        tags = sorted({*as_names(current), *as_names(retired)})
        return [(keys.journal, keys.journal_count), *(keys.account_by_tag(name)[5:7] for name in tags)]

    def entries(self) -> list[Entry]:
        """The newest ``limit`` entries of all streams, oldest first."""
        if not self._limit:
            return []
        streams = self._streams()
        with self.link.guard():
            pipe = self.link.bulk.pipeline(transaction=True)
            for stream, _ in streams:
                pipe.xrevrange(stream, count=self._limit)
            replies = pipe.execute()
        newest = heapq.nlargest(self._limit, (fields for reply in replies for _, fields in reply),
                                key=lambda fields: int(fields[b"t"]))
        return [_entry(fields) for fields in reversed(newest)]

    @property
    def recorded(self) -> int:
        keys = self.link.keys
        streams = self._streams()
        with self.link.guard():
            pipe = self.link.client.pipeline(transaction=True)
            pipe.get(keys.journal_dropped)
            for _, counter in streams:
                pipe.get(counter)
            return sum(int(value or 0) for value in pipe.execute())

    def __len__(self) -> int:
        return len(self.entries())

    def clear(self, account: str | None = None) -> None:
        keys = self.link.keys
        with self.link.guard():
            if account is not None:
                self.link.client.delete(keys.account(account).journal)
                return
            streams = self._streams()
            retired = as_names(self.link.client.smembers(keys.retired))
            pipe = self.link.client.pipeline(transaction=True)
            pipe.delete(*(stream for stream, _ in streams))
            # Retired accounts are forgotten now; their counts move to one counter.
            counters = [keys.account_by_tag(name).journal_count for name in retired]
            if counters:
                pipe.eval(_MOVE_COUNTS, len(counters) + 1, keys.journal_dropped, *counters)
            pipe.delete(keys.retired)
            pipe.execute()


# Adds the counters (KEYS 2...) to KEYS 1 and deletes them, atomically.
_MOVE_COUNTS = """
local total = 0
for i = 2, #KEYS do
  total = total + tonumber(redis.call('GET', KEYS[i]) or '0')
  redis.call('DEL', KEYS[i])
end
redis.call('INCRBY', KEYS[1], total)
return total
"""
