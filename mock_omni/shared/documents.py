"""The admin API's own records on Redis (state.py's ``AdminRecords``): what resets return to (the
start-up fixtures and the baseline), the accounts it created (where a per-account reset returns),
the saved snapshots, and the accounts' own clocks. Accounts are kept as fixture documents and read
back through the fixture checks, so what is stored is what a file would hold; a snapshot's accounts
also keep their issued tokens (``grants``), as a snapshot in memory does.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Generic, TypeVar

import orjson

from ..domain.callbacks import callback_from_document
from ..domain.credentials import Grant
from ..domain.delivery import rule_document, rule_from_data
from ..domain.fixtures import account_from_data, accounts_from_document
from ..domain.store import Account, KeyFactory
from ..testing.admin import Baseline, Snapshot
from ..vendor.ratelimit import Rule
from .callbacks import callback_from_json, callback_json
from .clock import SharedAccountClocks
from .link import Link, as_bytes, as_names
from .messages import message_from, record
from .store import dumps, load_json

SOURCE = "the shared store"
K = TypeVar("K")
V = TypeVar("V")


def baseline_document(baseline: Baseline) -> bytes:
    return dumps({"accounts": [account.to_document() for account in baseline.accounts],
                  "limits": {op: None if rule is None else [rule.count, rule.seconds]
                             for op, rule in baseline.limits.items()},
                  "deliveryRules": [rule_document(rule) for rule in baseline.delivery_rules],
                  "messages": baseline.messages,
                  "callbacks": [[c.account, c.document()] for c in baseline.callbacks]})


def baseline_from(raw: bytes, key_factory: KeyFactory) -> Baseline:
    document = load_json(raw)
    accounts = accounts_from_document({"accounts": document["accounts"]}, SOURCE, key_factory)
    limits = {op: None if rule is None else Rule(int(rule[0]), float(rule[1]))
              for op, rule in document.get("limits", {}).items()}
    return Baseline(tuple(accounts), limits, tuple(rule_from_data(rule) for rule in document.get("deliveryRules", [])),
                    document.get("messages", {}),
                    tuple(callback_from_document(account, item) for account, item in document.get("callbacks", [])))


def account_document(account: Account) -> dict[str, object]:
    """A whole account: its fixture document and its issued tokens."""
    grants = [{"kind": g.kind, "token": g.token, "scopes": None if g.scopes is None else list(g.scopes),
               "issuedAt": g.issued_at, "lifetime": g.lifetime, "lastUsed": g.last_used, "clientId": g.client_id}
              for g in account.grants.values()]
    return {**account.to_document(), "grants": grants}


def account_from(document: dict[str, Any], key_factory: KeyFactory) -> Account:
    fields = {name: value for name, value in document.items() if name != "grants"}
    account = account_from_data(fields, SOURCE, "account", key_factory)
    for g in document.get("grants", []):
        grant = Grant(g["kind"], g["token"], None if g["scopes"] is None else tuple(g["scopes"]), g["issuedAt"],
                      g["lifetime"], g["lastUsed"], g["clientId"])
        account.grants[grant.digest] = grant
    return account


class _RedisHash(MutableMapping[K, V], Generic[K, V]):
    """A Redis hash of JSON documents as a mapping; subclasses say how keys and values are written."""

    def __init__(self, link: Link, key: str, key_factory: KeyFactory) -> None:
        self.link = link
        self.key = key
        self.key_factory = key_factory

    def _field(self, name: K) -> str:
        raise NotImplementedError

    def _name(self, field: str) -> K:
        raise NotImplementedError

    def _encode(self, value: V) -> object:
        raise NotImplementedError

    def _decode(self, document: Any) -> V:
        raise NotImplementedError

    def __getitem__(self, name: K) -> V:
        with self.link.guard():
            raw = as_bytes(self.link.bulk.hget(self.key, self._field(name)))
        if raw is None:
            raise KeyError(name)
        return self._decode(load_json(raw))

    def __setitem__(self, name: K, value: V) -> None:
        document = dumps(self._encode(value))
        with self.link.guard():
            self.link.bulk.hset(self.key, self._field(name), document)

    def __delitem__(self, name: K) -> None:
        with self.link.guard():
            if not self.link.client.hdel(self.key, self._field(name)):
                raise KeyError(name)

    def __iter__(self) -> Iterator[K]:
        with self.link.guard():
            fields = as_names(self.link.client.hkeys(self.key))
        return iter([self._name(field) for field in sorted(fields)])

    def __len__(self) -> int:
        with self.link.guard():
            return int(self.link.client.hlen(self.key))

    def __contains__(self, name: object) -> bool:
        with self.link.guard():
            return bool(self.link.client.hexists(self.key, self._field(name)))  # type: ignore[arg-type]

    def clear(self) -> None:
        with self.link.guard():
            self.link.client.delete(self.key)


class AccountMap(_RedisHash[str, Account]):
    """username -> the account as the admin API created it."""

    def _field(self, name: str) -> str:
        return name

    def _name(self, field: str) -> str:
        return field

    def _encode(self, value: Account) -> object:
        return value.to_document()

    def _decode(self, document: Any) -> Account:
        return account_from_data(document, SOURCE, "account", self.key_factory)


class SnapshotMap(_RedisHash[tuple["str | None", str], Snapshot]):
    """(account or None, name) -> snapshot; the field is that pair as JSON."""

    def _field(self, name: tuple[str | None, str]) -> str:
        return orjson.dumps(list(name)).decode()

    def _name(self, field: str) -> tuple[str | None, str]:
        account, name = orjson.loads(field)
        return account, name

    def _encode(self, value: Snapshot) -> object:
        return {"accounts": [account_document(a) for a in value.accounts],
                "origins": {name: origin.to_document() for name, origin in value.origins.items()},
                "messages": [[m.account, m.seq, record(m).decode("utf-8", "surrogatepass"), m.report]
                             for m in value.messages],
                "callbacks": [[c.id, callback_json(c)] for c in value.callbacks]}

    def _decode(self, document: Any) -> Snapshot:
        return Snapshot([account_from(a, self.key_factory) for a in document["accounts"]],
                        {name: account_from_data(origin, SOURCE, "account", self.key_factory)
                         for name, origin in document["origins"].items()},
                        [message_from(seq, account, raw.encode("utf-8", "surrogatepass"), report)
                         for account, seq, raw, report in document["messages"]],
                        [callback_from_json(callback_id, raw) for callback_id, raw in document.get("callbacks", [])])


class SharedRecords:
    """What the admin API remembers besides the accounts, shared by every replica (testing/admin.py's Records)."""

    def __init__(self, link: Link, key_factory: KeyFactory) -> None:
        self.link = link
        self.key_factory = key_factory
        keys = link.keys
        self.created = AccountMap(link, keys.created, key_factory)
        self.snapshots = SnapshotMap(link, keys.snapshots, key_factory)
        self.clocks = SharedAccountClocks(link)

    @property
    def startup(self) -> Baseline:
        """The fixtures and limits the store was seeded with."""
        return self._read(self.link.keys.startup)

    @property
    def baseline(self) -> Baseline:
        return self._read(self.link.keys.baseline)

    @baseline.setter
    def baseline(self, value: Baseline) -> None:
        document = baseline_document(value)
        with self.link.guard():
            self.link.bulk.set(self.link.keys.baseline, document)

    def _read(self, key: str) -> Baseline:
        with self.link.guard():
            raw = as_bytes(self.link.bulk.get(key))
        return baseline_from(raw or b'{"accounts": []}', self.key_factory)
