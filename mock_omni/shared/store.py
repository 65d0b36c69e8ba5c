"""Accounts and scenarios on Redis: ``ScenarioStore`` (state.py) with the memory store's rules.

The four vendor operations are one script each (lua/ops), run with the call's gate
(gate.py) when a vendor call runs them: one round trip, atomic across replicas. The
exactly-one-default rule holds as in memory: the default is one field of the account
hash, set in the same script that creates or promotes, and a refused change changes
nothing. Creation order is a sorted set, so paging is a range, never a scan.

Admin operations (accounts, imports, resets) are transactions: what they read is
watched, and everything they write applies together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis

from ..domain.errors import InvalidArgument, NotFound
from ..domain.scenarios import Scenario, ScenarioIn, Step, StepIn
from ..domain.store import Account, KeyFactory
from . import scripts
from .config import EPOCH, STORE
from .gate import CURRENT, UNGATED, KeyTaken, Stale, Unproven, refusal
from .keys import AccountKeys, tag, username
from .link import FieldMap, Link, as_hash, as_names, stable

#: Page arithmetic stays in integers Lua prints exactly (no account holds this many scenarios).
_BIGGEST_INDEX = 10**12
_KEY_ATTEMPTS = 100
#: Fields per HSET/ZADD command when a whole account is written.
_CHUNK = 1000
LIST, GET, CREATE, UPDATE = (scripts.call(name) for name in ("list", "get", "create", "update"))
CHECKS = scripts.call("none")


def digest(secret: str) -> str:
    """How a secret is kept and compared on Redis (the script compares digests)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def flow_json(flow: Sequence[StepIn] | Sequence[Step]) -> bytes:
    steps = [{"from": step.sender, "channel": step.channel} if step.sender is not None
             else {"channel": step.channel} for step in flow]
    try:
        return orjson.dumps(steps)
    except TypeError:  # a lone surrogate, which orjson refuses
        return json.dumps(steps, ensure_ascii=False).encode("utf-8", "surrogatepass")


def load_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8", "surrogatepass"))


def view(key: str, name: bytes | None, flow: bytes, default: bool | int) -> dict[str, object]:
    """A scenario as the vendor shows it (Scenario.to_dict's shape and order)."""
    data: dict[str, object] = {"key": key}
    if name is not None:
        data["name"] = name.decode("utf-8", "surrogatepass")
    data["flow"] = load_json(flow)
    data["default"] = bool(default)
    return data


def secret_set(secrets: Iterable[str]) -> str:
    """Digests as the script searches them: ' d1 d2 '."""
    return " " + " ".join(digest(secret) for secret in secrets) + " "


class RedisStore:
    def __init__(self, link: Link, key_factory: KeyFactory) -> None:
        self.link = link
        self.keys = link.keys
        self._key_factory = key_factory

    # --- the four vendor operations ----------------------------------------------------

    def _call(self, script: scripts.Script, account: str, args: list[str | bytes]) -> list[Any]:
        gate = CURRENT.get()
        argv = [*(UNGATED if gate is None else gate.argv), *args]
        reply: list[Any] = self.link.run(script, self.keys.account(account), argv)
        code = reply[0]
        if code == b"O":
            if gate is not None:
                gate.done = True
            return reply
        if code == b"E":
            if gate is None:
                raise refusal(reply[1])
            gate.done = True
            raise gate.error(reply[1])
        if code == b"U":
            if gate is None:
                raise NotFound(f"Account {account} not found.")
            raise Unproven()
        if code == b"S":
            raise Stale()
        if code == b"K":
            raise KeyTaken()
        raise AssertionError(f"unexpected reply {code!r}")

    def checks(self, account: str) -> None:
        """The gate's checks alone (a call whose failure was found before its operation ran)."""
        self._call(CHECKS, account, [])

    def list_scenarios(
        self, username: str, is_default: bool | None = None, limit: int = 100, page: int = 0
    ) -> list[dict[str, object]]:
        mode = "" if is_default is None else "1" if is_default else "0"
        start, count = min(page * limit, _BIGGEST_INDEX), min(limit, _BIGGEST_INDEX)
        reply = self._call(LIST, username, [mode, str(start), str(count)])
        default = reply[1]
        found = []
        for at in range(3, 3 + 3 * int(reply[2]), 3):
            key = reply[at]
            found.append(view(key.decode(), reply[at + 2], reply[at + 1], key == default))
        return found

    def get(self, username: str, key: str) -> dict[str, object]:
        reply = self._call(GET, username, [key])
        return view(key, reply[2], reply[1], reply[3])

    def create(self, username: str, data: ScenarioIn) -> dict[str, object]:
        if data.flow is None:
            raise InvalidArgument(validation_errors={"flow": ["must not be null"]})
        flow = flow_json(data.flow)
        name = b"" if data.name is None else b"=" + text(data.name)
        for _ in range(_KEY_ATTEMPTS):
            key = stable(self._key_factory)
            try:
                reply = self._call(CREATE, username, [key, name, flow, "1" if data.default else "0"])
            except KeyTaken:
                continue
            return view(key, name[1:] if name else None, flow, reply[1])
        raise RuntimeError("no free scenario key found")  # the key factory repeats itself

    def update(self, username: str, key: str, data: ScenarioIn) -> dict[str, object]:
        name = b"" if data.name is None else b"=" + text(data.name)
        flow = b"" if data.flow is None else flow_json(data.flow)
        default = "" if data.default is None else "1" if data.default else "0"
        reply = self._call(UPDATE, username, [key, name, flow, default])
        return view(key, reply[2], reply[1], reply[3])

    # --- reading whole accounts --------------------------------------------------------

    def _read(self, tags: Sequence[str]) -> list[Account]:
        """The accounts of ``tags`` as they are at one moment (one transaction); missing ones left out."""
        if not tags:
            return []
        with self.link.guard():
            pipe = self.link.bulk.pipeline(transaction=True)
            for name in tags:
                keys = self.keys.account_by_tag(name)
                pipe.hgetall(keys.account)
                pipe.hgetall(keys.scenarios)
                pipe.hgetall(keys.names)
                pipe.zrange(keys.order, 0, -1)
            replies = pipe.execute()
        accounts = []
        for index, name in enumerate(tags):
            head, flows, names, order = replies[4 * index:4 * index + 4]
            if head:
                accounts.append(_account(username(name), head, flows, names, order))
        return accounts

    def _tags(self) -> list[str]:
        with self.link.guard():
            return as_names(self.link.client.zrange(self.keys.accounts, 0, -1))

    def account(self, username: str) -> Account | None:
        found = self._read([tag(username)])
        return found[0] if found else None

    def usernames(self) -> list[str]:
        return [username(name) for name in self._tags()]

    def snapshot(self) -> list[Account]:
        return self._read(self._tags())

    def export(self, username: str | None = None) -> dict[str, object]:
        if username is None:
            accounts = self.snapshot()
        else:
            found = self.account(username)
            if found is None:
                raise NotFound(f"Account {username} not found.")
            accounts = [found]
        return {"accounts": [account.to_document() for account in accounts]}

    @property
    def revision(self) -> int:
        """Changes so far: every account's own count, plus those of accounts replaced or removed."""
        tags = self._tags()
        with self.link.guard():
            pipe = self.link.client.pipeline(transaction=True)
            pipe.get(self.keys.revision)
            for name in tags:
                pipe.hget(self.keys.account_by_tag(name).account, "rev")
            return sum(int(value or 0) for value in pipe.execute())

    # --- changing accounts ---------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        keys = self.keys

        def change(pipe: redis.client.Pipeline) -> None:
            if pipe.zscore(keys.accounts, tag(account.username)) is not None:
                clash = "username"
            elif account.api_keys and any(pipe.hmget(keys.apikeys, [digest(k) for k in account.api_keys])):
                clash = "apiKeys"
            elif account.tokens and any(pipe.hmget(keys.tokens, [digest(t) for t in account.tokens])):
                clash = "tokens"
            else:
                clash = None
            if clash:
                raise InvalidArgument(validation_errors={clash: ["already used by another account"]})
            store_id, epoch = pipe.hmget(keys.config, STORE, EPOCH)
            last = pipe.zrange(keys.accounts, -1, -1, withscores=True)
            pipe.multi()
            self.write(pipe, account, int(last[0][1]) + 1 if last else 0, store_id or b"", epoch or b"0")
            pipe.incr(keys.revision)

        self.link.transaction(change, keys.accounts, keys.apikeys, keys.tokens, keys.config)

    def replace_account(self, account: Account) -> None:
        """Replace the scenarios of an existing account (same credentials)."""
        keys = self.keys.account(account.username)

        def change(pipe: redis.client.Pipeline) -> None:
            head = as_hash(pipe.hgetall(keys.account))
            if not head:
                raise NotFound(f"Account {account.username} not found.")
            account.password = head[b"password"].decode("utf-8", "surrogatepass")
            account.api_keys, account.tokens = load_json(head[b"apiKeys"]), load_json(head[b"tokens"])
            pipe.multi()
            pipe.delete(keys.scenarios, keys.names, keys.order)
            pipe.hdel(keys.account, "default")
            self._write_scenarios(pipe, keys, account)
            pipe.hincrby(keys.account, "rev", 1)

        self.link.transaction(change, keys.account, bulk=True)

    def remove_account(self, username: str) -> None:
        keys = self.keys

        def change(pipe: redis.client.Pipeline) -> None:
            head = as_hash(pipe.hgetall(keys.account(username).account))
            if not head:
                raise NotFound(f"Account {username} not found.")
            pipe.multi()
            self._delete(pipe, tag(username), head)

        self.link.transaction(change, keys.account(username).account, keys.apikeys, keys.tokens)

    def replace(self, accounts: Iterable[Account]) -> None:
        """Swap in a whole new set of accounts (fixtures, reset, state import), in one transaction."""
        accounts = list(accounts)
        keys = self.keys

        def change(pipe: redis.client.Pipeline) -> None:
            store_id, epoch = pipe.hmget(keys.config, STORE, EPOCH)
            self.queue_replace(pipe, accounts, store_id or b"", epoch or b"0")

        self.link.transaction(change, keys.accounts, keys.apikeys, keys.tokens, keys.config, bulk=True)

    def queue_replace(self, pipe: redis.client.Pipeline, accounts: list[Account], store_id: str | bytes,
                      epoch: str | bytes | int) -> None:
        """Read the accounts there are, then (``pipe.multi()``) queue their replacement by ``accounts``."""
        keys = self.keys
        current = as_names(pipe.zrange(keys.accounts, 0, -1))
        heads = [as_hash(pipe.hgetall(keys.account_by_tag(name).account)) for name in current]
        pipe.multi()
        for name, head in zip(current, heads, strict=True):
            self._delete(pipe, name, head)
        pipe.delete(keys.accounts, keys.apikeys, keys.tokens)
        for index, account in enumerate(accounts):
            self.write(pipe, account, index, store_id, epoch)
        pipe.incr(keys.revision)

    def _delete(self, pipe: redis.client.Pipeline, tagged: str, head: dict[bytes, bytes]) -> None:
        """Queue the removal of one account's store keys and credentials (its journal and
        buckets are the journal's and the limiter's; its name is kept among the retired)."""
        keys = self.keys
        account_keys = keys.account_by_tag(tagged)
        pipe.delete(*account_keys.store_owned)
        for index, secrets in ((keys.apikeys, head.get(b"kd")), (keys.tokens, head.get(b"td"))):
            digests = (secrets or b"").split()
            if digests:
                pipe.hdel(index, *digests)
        pipe.zrem(keys.accounts, tagged)
        pipe.sadd(keys.retired, tagged)
        # The dashboard's revision must not go down when an account's own count goes away.
        pipe.incrby(keys.revision, int(head.get(b"rev", 0)) + 1)

    def write(self, pipe: redis.client.Pipeline, account: Account, position: int, store_id: str | bytes,
              epoch: str | bytes | int) -> None:
        """Queue one whole account (after ``pipe.multi()``)."""
        keys = self.keys
        tagged = tag(account.username)
        account_keys = keys.account_by_tag(tagged)
        pipe.hset(account_keys.account, mapping={
            "password": text(account.password), "pw": digest(account.password),
            "kd": secret_set(account.api_keys), "td": secret_set(account.tokens),
            "apiKeys": orjson.dumps(account.api_keys), "tokens": orjson.dumps(account.tokens),
            STORE: store_id, EPOCH: epoch, "rev": 0,
        })
        self._write_scenarios(pipe, account_keys, account)
        pipe.zadd(keys.accounts, {tagged: position})
        pipe.srem(keys.retired, tagged)
        for index, secrets in ((keys.apikeys, account.api_keys), (keys.tokens, account.tokens)):
            if secrets:
                pipe.hset(index, mapping={digest(secret): account.username for secret in secrets})

    @staticmethod
    def _write_scenarios(pipe: redis.client.Pipeline, keys: AccountKeys, account: Account) -> None:
        order = account.order
        for first in range(0, len(order), _CHUNK):
            chunk = [account.scenarios[key] for key in order[first:first + _CHUNK]]
            pipe.hset(keys.scenarios, mapping={s.key: flow_json(s.flow) for s in chunk})
            names: FieldMap = {s.key: text(s.name) for s in chunk if s.name is not None}
            if names:
                pipe.hset(keys.names, mapping=names)
            pipe.zadd(keys.order, {s.key: first + offset for offset, s in enumerate(chunk)})
        pipe.hset(keys.account, "seq", len(order))
        if account.default_key is not None:
            pipe.hset(keys.account, "default", account.default_key)


def _account(name: str, head: dict[bytes, bytes], flows: dict[bytes, bytes], names: dict[bytes, bytes],
             order: list[bytes]) -> Account:
    account = Account(name, head[b"password"].decode("utf-8", "surrogatepass"), load_json(head[b"apiKeys"]),
                      load_json(head[b"tokens"]))
    for raw_key in order:
        key = raw_key.decode()
        title = names.get(raw_key)
        flow = tuple(Step(step.get("from"), step["channel"]) for step in load_json(flows[raw_key]))
        account.scenarios[key] = Scenario(key, None if title is None else title.decode("utf-8", "surrogatepass"),
                                          flow)
        account.positions[key] = len(account.order)
        account.order.append(key)
    default = head.get(b"default")
    account.default_key = None if default is None else default.decode()
    return account
