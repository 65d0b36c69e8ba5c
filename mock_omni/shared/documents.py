"""The admin API's own state on Redis, as the mappings ``Admin`` uses in memory: the accounts it
created (where a per-account reset returns) and the saved snapshots. Values are fixture
documents, read back through the fixture checks, so what is stored is what a file would hold.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import orjson

from ..domain.fixtures import account_from_data, accounts_from_document
from ..domain.store import Account, KeyFactory
from ..state import Snapshot
from .link import Link, as_bytes, as_names

SOURCE = "redis"


class _RedisHash:
    """A Redis hash of JSON documents, with the mapping methods both maps share."""

    def __init__(self, link: Link, key: str, key_factory: KeyFactory) -> None:
        self.link = link
        self.key = key
        self.key_factory = key_factory

    def _raw(self, name: str) -> bytes | None:
        with self.link.guard():
            return as_bytes(self.link.bulk.hget(self.key, name))

    def _put(self, name: str, document: object) -> None:
        with self.link.guard():
            self.link.bulk.hset(self.key, name, orjson.dumps(document))

    def __delitem__(self, name: str) -> None:
        with self.link.guard():
            if not self.link.client.hdel(self.key, name):
                raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        with self.link.guard():
            names = as_names(self.link.client.hkeys(self.key))
        return iter(sorted(names))

    def __len__(self) -> int:
        with self.link.guard():
            return int(self.link.client.hlen(self.key))

    def __contains__(self, name: object) -> bool:
        with self.link.guard():
            return isinstance(name, str) and bool(self.link.client.hexists(self.key, name))

    def clear(self) -> None:
        with self.link.guard():
            self.link.client.delete(self.key)


class AccountMap(_RedisHash, MutableMapping[str, Account]):
    def __getitem__(self, name: str) -> Account:
        raw = self._raw(name)
        if raw is None:
            raise KeyError(name)
        return account_from_data(orjson.loads(raw), SOURCE, "account", self.key_factory)

    def __setitem__(self, name: str, account: Account) -> None:
        self._put(name, account.to_document())


class SnapshotMap(_RedisHash, MutableMapping[str, Snapshot]):
    def __getitem__(self, name: str) -> Snapshot:
        raw = self._raw(name)
        if raw is None:
            raise KeyError(name)
        document = orjson.loads(raw)
        return document["account"], accounts_from_document({"accounts": document["accounts"]}, SOURCE,
                                                           self.key_factory)

    def __setitem__(self, name: str, snapshot: Snapshot) -> None:
        account, accounts = snapshot
        self._put(name, {"account": account, "accounts": [a.to_document() for a in accounts]})
