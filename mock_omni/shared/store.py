"""Accounts and scenarios on Redis: ``ScenarioStore`` (state.py) with the memory store's rules.

The four vendor operations are one script each (lua/ops), run with the call's gate
(gate.py) when a vendor call runs them: one round trip, atomic across replicas. The
exactly-one-default rule holds as in memory: the default is one field of the account
hash, set in the same script that creates or promotes, and a refused change changes
nothing. Creation order is a sorted set, so paging is a range, never a scan.

An account's hash holds what its scripts check (digests of the password, API keys and
fixture tokens; the scopes of limited keys) next to what the admin API shows (the
secrets themselves, OAuth2 clients); its issued tokens are in its grants hash (lua/grants.lua).
Admin operations (accounts, imports, resets) are transactions: what they read is
watched, and everything they write applies together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import redis

from ..domain.credentials import Grant, GrantKind, OAuth2Client, Scopes
from ..domain.errors import InvalidArgument, NotFound
from ..domain.scenarios import Scenario, ScenarioIn, Step, StepIn
from ..domain.store import Account, KeyFactory
from . import scripts
from .config import EPOCH, STORE
from .gate import KeyTaken, run_call
from .keys import AccountKeys, tag, untag
from .link import FieldMap, Link, as_fields, as_hash, as_names, stable

#: Page arithmetic stays in integers Lua prints exactly (no account holds this many scenarios).
_BIGGEST_INDEX = 10**12
_KEY_ATTEMPTS = 100
#: Fields per HSET/ZADD command when a whole account is written.
_CHUNK = 1000
LIST, GET, CREATE, UPDATE = (scripts.call(name) for name in ("list", "get", "create", "update"))
CHECKS = scripts.call("none")
#: Grant kinds as lua/grants.lua writes them.
GRANT_KINDS: dict[GrantKind, str] = {"ibsso": "i", "oauth2": "o"}
_KINDS_BACK: dict[str, GrantKind] = {"i": "ibsso", "o": "oauth2"}


def digest(secret: str) -> str:
    """How a secret is kept and compared on Redis (the script compares digests)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def decoded(value: bytes) -> str:
    return value.decode("utf-8", "surrogatepass")


def flow_json(flow: Sequence[StepIn] | Sequence[Step]) -> bytes:
    steps = [{"from": step.sender, "channel": step.channel} if step.sender is not None
             else {"channel": step.channel} for step in flow]
    return dumps(steps)


def dumps(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:  # a lone surrogate, which orjson refuses
        return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


def load_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8", "surrogatepass"))


def view(key: str, name: bytes | None, flow: bytes, default: bool | int) -> dict[str, object]:
    """A scenario as the vendor shows it (Scenario.to_dict's shape and order)."""
    data: dict[str, object] = {"key": key}
    if name is not None:
        data["name"] = decoded(name)
    data["flow"] = load_json(flow)
    data["default"] = bool(default)
    return data


def secret_set(secrets: Iterable[str]) -> str:
    """Digests as the script searches them: ' d1 d2 '."""
    return " " + " ".join(digest(secret) for secret in secrets) + " "


def scope_set(scopes: Scopes) -> str:
    """Scopes as the script searches them: ' a b ' ('' for every scope; scope names hold no space)."""
    return "" if scopes is None else " " + " ".join(scopes) + " "


def grant_record(grant: Grant) -> str:
    """A grant as lua/grants.lua keeps it."""
    return (f"{GRANT_KINDS[grant.kind]} {grant.issued_at!r} {grant.lifetime!r} {grant.last_used!r} "
            f"{grant.token}")


def grant_from(record: bytes, scopes: bytes | None, client: bytes | None) -> Grant:
    code, issued, lifetime, last, token = record.decode().split(" ")
    return Grant(_KINDS_BACK[code], token, None if scopes is None else tuple(scopes.decode().split()),
                 float(issued), float(lifetime), float(last), None if client is None else decoded(client))


class RedisStore:
    def __init__(self, link: Link, key_factory: KeyFactory) -> None:
        self.link = link
        self.keys = link.keys
        self._key_factory = key_factory

    # --- the four vendor operations ----------------------------------------------------

    def checks(self, account: str) -> None:
        """The gate's checks alone (a call whose failure was found before its operation ran)."""
        run_call(self.link, CHECKS, account, [])

    def list_scenarios(
        self, username: str, is_default: bool | None = None, limit: int = 100, page: int = 0
    ) -> list[dict[str, object]]:
        mode = "" if is_default is None else "1" if is_default else "0"
        start, count = min(page * limit, _BIGGEST_INDEX), min(limit, _BIGGEST_INDEX)
        reply = run_call(self.link, LIST, username, [mode, str(start), str(count)])
        default = reply[1]
        found = []
        for at in range(3, 3 + 3 * int(reply[2]), 3):
            key = reply[at]
            found.append(view(key.decode(), reply[at + 2], reply[at + 1], key == default))
        return found

    def get(self, username: str, key: str) -> dict[str, object]:
        reply = run_call(self.link, GET, username, [key])
        return view(key, reply[2], reply[1], reply[3])

    def create(self, username: str, data: ScenarioIn) -> dict[str, object]:
        if data.flow is None:
            raise InvalidArgument(validation_errors={"flow": ["must not be null"]})
        flow = flow_json(data.flow)
        name = b"" if data.name is None else b"=" + text(data.name)
        for _ in range(_KEY_ATTEMPTS):
            key = stable(self._key_factory)
            try:
                reply = run_call(self.link, CREATE, username, [key, name, flow, "1" if data.default else "0"])
            except KeyTaken:
                continue
            return view(key, name[1:] if name else None, flow, reply[1])
        raise RuntimeError("no free scenario key found")  # the key factory repeats itself

    def update(self, username: str, key: str, data: ScenarioIn) -> dict[str, object]:
        name = b"" if data.name is None else b"=" + text(data.name)
        flow = b"" if data.flow is None else flow_json(data.flow)
        default = "" if data.default is None else "1" if data.default else "0"
        reply = run_call(self.link, UPDATE, username, [key, name, flow, default])
        return view(key, reply[2], reply[1], reply[3])

    # --- reading whole accounts --------------------------------------------------------

    def _read(self, tags: Sequence[str]) -> list[Account]:
        """The accounts of ``tags`` as they are at one moment (one transaction); missing ones left out."""
        accounts = []
        for name, (head, flows, names, order, grants, grant_order) in self._each(tags, _read_account):
            if head:
                accounts.append(_account(untag(name), head, flows, names, order, grants, grant_order))
        return accounts

    def _each(self, tags: Sequence[str], reads: Callable[[redis.client.Pipeline, AccountKeys], None],
              ) -> list[tuple[str, list[Any]]]:
        """(tag, replies) of the commands ``reads`` queues for each account, all in one transaction."""
        if not tags:
            return []
        with self.link.guard():
            pipe = self.link.bulk.pipeline(transaction=True)
            counts = []
            for name in tags:
                before = len(pipe)
                reads(pipe, self.keys.account_by_tag(name))
                counts.append(len(pipe) - before)
            replies = pipe.execute()
        found, at = [], 0
        for name, count in zip(tags, counts, strict=True):
            found.append((name, replies[at:at + count]))
            at += count
        return found

    def _tags(self) -> list[str]:
        with self.link.guard():
            return as_names(self.link.client.zrange(self.keys.accounts, 0, -1))

    def account(self, username: str) -> Account | None:
        found = self._read([tag(username)])
        return found[0] if found else None

    def has_account(self, username: str) -> bool:
        with self.link.guard():
            return self.link.client.zscore(self.keys.accounts, tag(username)) is not None

    def usernames(self) -> list[str]:
        return [untag(name) for name in self._tags()]

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

    def grants(self, username: str | None = None) -> list[tuple[str, Grant]]:
        """(username, grant) of every issued token, or of one account's, oldest first."""
        tags = self._tags() if username is None else [tag(username)]
        found = []
        for name, (exists, grants, order) in self._each(tags, _read_grants):
            if not exists and username is not None:
                raise NotFound(f"Account {username} not found.")
            found += [(untag(name), grant) for grant in _grants(grants, order)]
        return found

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
        """Add one account; the caller has checked it (fixtures.validate_account)."""
        keys = self.keys

        def change(pipe: redis.client.Pipeline) -> None:
            clash = _clash(pipe, keys, account)
            if clash:
                raise InvalidArgument(validation_errors={clash: ["already used by another account"]})
            store_id, epoch = pipe.hmget(keys.config, STORE, EPOCH)
            fence = pipe.get(keys.fence)
            last = pipe.zrange(keys.accounts, -1, -1, withscores=True)
            pipe.multi()
            self.write(pipe, account, int(last[0][1]) + 1 if last else 0, store_id or b"", epoch or b"0",
                       fence or b"0")
            pipe.incr(keys.revision)

        self.link.transaction(change, keys.accounts, keys.apikeys, keys.tokens, keys.clients, keys.config,
                              keys.fence)

    def replace_account(self, account: Account) -> None:
        """Replace the state of an existing account: scenarios, sessions and tokens (as Store.replace_account:
        the password, API keys and OAuth2 clients stay the current ones)."""
        keys = self.keys
        account_keys = keys.account(account.username)

        def change(pipe: redis.client.Pipeline) -> None:
            head = as_hash(pipe.hgetall(account_keys.account))
            if not head:
                raise NotFound(f"Account {account.username} not found.")
            current = _credentials(account.username, head)
            account.password, account.api_keys, account.key_scopes, account.oauth2_clients = (
                current.password, current.api_keys, current.key_scopes, current.oauth2_clients,
            )
            # A fixture token ended here and since given to another account stays that account's.
            owners = as_fields(pipe.hmget(keys.tokens, [digest(t) for t in account.tokens])) if account.tokens else []
            account.tokens = [token for token, owner in zip(account.tokens, owners, strict=True)
                              if owner is None or decoded(owner) == account.username]
            owned = _owned(pipe, account.username, [
                (keys.tokens, [digest(t) for t in current.tokens]),
                (keys.grants, as_names(pipe.zrange(account_keys.grant_order, 0, -1)))])
            pipe.multi()
            _unindex(pipe, owned)
            pipe.delete(account_keys.scenarios, account_keys.names, account_keys.order, account_keys.grants,
                        account_keys.grant_order)
            pipe.hdel(account_keys.account, "default", "session")
            pipe.hset(account_keys.account, mapping={"td": secret_set(account.tokens),
                                                      "tokens": orjson.dumps(account.tokens)})
            self._write_scenarios(pipe, account_keys, account)
            self._write_grants(pipe, account_keys, account)
            _index(pipe, keys, account, keys_too=False)
            pipe.hincrby(account_keys.account, "rev", 1)

        self.link.transaction(change, account_keys.account, account_keys.grant_order, keys.tokens, keys.grants,
                              bulk=True)

    def remove_account(self, username: str) -> None:
        keys = self.keys
        account_keys = keys.account(username)

        def change(pipe: redis.client.Pipeline) -> None:
            head = as_hash(pipe.hgetall(account_keys.account))
            if not head:
                raise NotFound(f"Account {username} not found.")
            current = _credentials(username, head)
            owned = _owned(pipe, username, [
                (keys.apikeys, [digest(k) for k in current.api_keys]),
                (keys.tokens, [digest(t) for t in current.tokens]),
                (keys.clients, [client.client_id for client in current.oauth2_clients]),
                (keys.grants, as_names(pipe.zrange(account_keys.grant_order, 0, -1)))])
            pipe.multi()
            _unindex(pipe, owned)
            self._delete(pipe, tag(username), int(head.get(b"rev", 0)))

        self.link.transaction(change, account_keys.account, account_keys.grant_order, keys.apikeys, keys.tokens,
                              keys.clients, keys.grants)

    def replace(self, accounts: Iterable[Account]) -> None:
        """Swap in a whole new set of accounts (fixtures, reset, state import), in one transaction."""
        accounts = list(accounts)
        keys = self.keys

        def change(pipe: redis.client.Pipeline) -> None:
            store_id, epoch = pipe.hmget(keys.config, STORE, EPOCH)
            self.queue_replace(pipe, accounts, store_id or b"", epoch or b"0")

        self.link.transaction(change, keys.accounts, keys.apikeys, keys.tokens, keys.clients, keys.grants,
                              keys.config, keys.fence, bulk=True)

    def queue_replace(self, pipe: redis.client.Pipeline, accounts: list[Account], store_id: str | bytes,
                      epoch: str | bytes | int) -> None:
        """Read the accounts there are, then (``pipe.multi()``) queue their replacement by ``accounts``.

        Each account's own clock (the admin API's per-account advance) stays with it, as in memory.
        """
        keys = self.keys
        current = as_names(pipe.zrange(keys.accounts, 0, -1))
        heads = {name: as_fields(pipe.hmget(keys.account_by_tag(name).account, "clock", "rev")) for name in current}
        fence = pipe.get(keys.fence) or b"0"
        pipe.multi()
        for name, (_, rev) in heads.items():
            self._delete(pipe, name, int(rev or 0))
        pipe.delete(keys.accounts, keys.apikeys, keys.tokens, keys.clients, keys.grants)
        for index, account in enumerate(accounts):
            clock, _ = heads.get(tag(account.username), [None, None])
            self.write(pipe, account, index, store_id, epoch, fence, clock)
        pipe.incr(keys.revision)

    def _delete(self, pipe: redis.client.Pipeline, tagged: str, revision: int) -> None:
        """Queue the removal of one account's store keys (its index entries are the caller's; its journal and
        buckets are the journal's and the limiter's; its name is kept among the retired)."""
        keys = self.keys
        pipe.delete(*keys.account_by_tag(tagged).store_owned)
        pipe.zrem(keys.accounts, tagged)
        pipe.sadd(keys.retired, tagged)
        # The dashboard's revision must not go down when an account's own count goes away (``revision``).
        pipe.incrby(keys.revision, revision + 1)

    def write(self, pipe: redis.client.Pipeline, account: Account, position: int, store_id: str | bytes,
              epoch: str | bytes | int, fence: str | bytes | int, clock: bytes | None = None) -> None:
        """Queue one whole account (after ``pipe.multi()``)."""
        keys = self.keys
        tagged = tag(account.username)
        account_keys = keys.account_by_tag(tagged)
        fields: FieldMap = {
            "password": text(account.password), "pw": digest(account.password),
            "kd": secret_set(account.api_keys), "td": secret_set(account.tokens),
            "apiKeys": dumps(account.api_keys), "tokens": dumps(account.tokens),
            "keyScopes": dumps({key: list(scopes) for key, scopes in account.key_scopes.items()}),
            "clients": dumps([client.to_document() for client in account.oauth2_clients]),
            STORE: store_id, EPOCH: epoch, "fence": fence, "rev": 0,
        }
        for key, scopes in account.key_scopes.items():
            fields["ks:" + digest(key)] = scope_set(scopes)
        if clock is not None:
            fields["clock"] = clock
        pipe.hset(account_keys.account, mapping=fields)
        self._write_scenarios(pipe, account_keys, account)
        self._write_grants(pipe, account_keys, account)
        pipe.zadd(keys.accounts, {tagged: position})
        pipe.srem(keys.retired, tagged)
        _index(pipe, keys, account, keys_too=True)

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

    @staticmethod
    def _write_grants(pipe: redis.client.Pipeline, keys: AccountKeys, account: Account) -> None:
        grants = list(account.grants.values())
        for first in range(0, len(grants), _CHUNK):
            fields: FieldMap = {}
            for grant in grants[first:first + _CHUNK]:
                hexed = grant.digest.hex()
                fields[hexed] = grant_record(grant)
                if grant.scopes is not None:
                    fields["s:" + hexed] = scope_set(grant.scopes)
                if grant.client_id is not None:
                    fields["c:" + hexed] = text(grant.client_id)
            pipe.hset(keys.grants, mapping=fields)
            pipe.zadd(keys.grant_order, {g.digest.hex(): first + offset
                                         for offset, g in enumerate(grants[first:first + _CHUNK])})
        pipe.hset(keys.account, "gseq", len(grants))
        # The newest live session is the one a login finds (Store keeps at most one alive).
        session = next((g for g in reversed(grants) if g.kind == "ibsso"), None)
        if session is not None:
            pipe.hset(keys.account, "session", session.digest.hex())


def _read_account(pipe: redis.client.Pipeline, keys: AccountKeys) -> None:
    pipe.hgetall(keys.account)
    pipe.hgetall(keys.scenarios)
    pipe.hgetall(keys.names)
    pipe.zrange(keys.order, 0, -1)
    _read_grants(pipe, keys, exists=False)


def _read_grants(pipe: redis.client.Pipeline, keys: AccountKeys, exists: bool = True) -> None:
    if exists:
        pipe.exists(keys.account)
    pipe.hgetall(keys.grants)
    pipe.zrange(keys.grant_order, 0, -1)


def _clash(pipe: redis.client.Pipeline, keys: Any, account: Account) -> str | None:
    """The field of ``account`` that another account already uses (Store._credential_clash)."""
    if pipe.zscore(keys.accounts, tag(account.username)) is not None or pipe.hexists(keys.clients, account.username):
        return "username"
    if account.api_keys and any(pipe.hmget(keys.apikeys, [digest(k) for k in account.api_keys])):
        return "apiKeys"
    if account.tokens and any(pipe.hmget(keys.tokens, [digest(t) for t in account.tokens])):
        return "tokens"
    ids = [client.client_id for client in account.oauth2_clients]
    if ids and (any(pipe.hmget(keys.clients, ids))
                or any(pipe.zscore(keys.accounts, tag(client_id)) is not None for client_id in ids)):
        return "oauth2Clients"
    return None


def _index(pipe: redis.client.Pipeline, keys: Any, account: Account, keys_too: bool) -> None:
    """Queue the {g} index entries of ``account``'s secrets (API keys and clients only with ``keys_too``)."""
    name = text(account.username)
    indexes: list[tuple[str, list[str]]] = [(keys.tokens, [digest(t) for t in account.tokens]),
                                             (keys.grants, [grant.digest.hex() for grant in account.grants.values()])]
    if keys_too:
        indexes += [(keys.apikeys, [digest(k) for k in account.api_keys]),
                    (keys.clients, [client.client_id for client in account.oauth2_clients])]
    for index, entries in indexes:
        for first in range(0, len(entries), _CHUNK):
            pipe.hset(index, mapping=dict.fromkeys(entries[first:first + _CHUNK], name))


Entries = list[tuple[str, list[str]]]


def _owned(pipe: redis.client.Pipeline, name: str, candidates: Entries) -> Entries:
    """Of (index, entries), those entries the index still gives to account ``name`` (read while watching):
    a secret may since belong to another account, whose entry stays (Store._unindex)."""
    owner = text(name)
    owned: Entries = []
    for index, entries in candidates:
        if entries:
            owners = pipe.hmget(index, entries)
            owned.append((index, [entry for entry, found in zip(entries, owners, strict=True) if found == owner]))
    return owned


def _unindex(pipe: redis.client.Pipeline, owned: Entries) -> None:
    """Queue the removal of index entries (after ``pipe.multi()``)."""
    for index, entries in owned:
        for first in range(0, len(entries), _CHUNK):
            pipe.hdel(index, *entries[first:first + _CHUNK])


def _credentials(name: str, head: dict[bytes, bytes]) -> Account:
    """The account's credentials from its hash (no scenarios, no issued tokens)."""
    scopes = load_json(head.get(b"keyScopes") or b"{}")
    return Account(
        name, decoded(head[b"password"]), load_json(head[b"apiKeys"]), load_json(head[b"tokens"]),
        key_scopes={key: tuple(value) for key, value in scopes.items()},
        oauth2_clients=clients_from(head.get(b"clients")),
    )


def clients_from(raw: bytes | None) -> list[OAuth2Client]:
    """An account's OAuth2 clients from its hash's JSON."""
    return [OAuth2Client(c["clientId"], c["clientSecret"], None if c.get("scopes") is None else tuple(c["scopes"]))
            for c in load_json(raw or b"[]")]


def _account(name: str, head: dict[bytes, bytes], flows: dict[bytes, bytes], names: dict[bytes, bytes],
             order: list[bytes], grants: dict[bytes, bytes], grant_order: list[bytes]) -> Account:
    account = _credentials(name, head)
    for raw_key in order:
        key = raw_key.decode()
        title = names.get(raw_key)
        flow = tuple(Step(step.get("from"), step["channel"]) for step in load_json(flows[raw_key]))
        account.scenarios[key] = Scenario(key, None if title is None else decoded(title), flow)
        account.positions[key] = len(account.order)
        account.order.append(key)
    default = head.get(b"default")
    account.default_key = None if default is None else default.decode()
    for grant in _grants(grants, grant_order):
        account.grants[grant.digest] = grant
    return account


def _grants(grants: dict[bytes, bytes], order: list[bytes]) -> list[Grant]:
    """An account's issued tokens, oldest first, from its grants hash and their order."""
    return [grant_from(grants[digest], grants.get(b"s:" + digest), grants.get(b"c:" + digest))
            for digest in order if digest in grants]
