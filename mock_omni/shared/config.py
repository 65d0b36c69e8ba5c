"""What every replica must apply alike, cached: rate-limit rules, the clock offset, fault rules.

The vendor path reads this cache and costs no round trip for it. It cannot go stale
unnoticed: each change bumps an epoch and writes it into every account it concerns (all,
or one), inside the same transaction; a call's script compares the account's epoch with
the one its replica's cache has and answers "stale" instead of acting when the cache is
older. The replica then reloads (one round trip) and runs the call again. The account's
copy of the epoch keeps the script within the account's keys (one Redis Cluster slot).

The store id, chosen when a store is seeded, tells apart a store that was wiped and
seeded again: a cache of another store id is stale whatever its epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
import redis

from ..testing.faults import Fault
from ..vendor.ratelimit import Rule
from .keys import tag
from .link import Link, as_hash, as_names

# Hash fields of PREFIX:{g}:config.
STORE, EPOCH, RULES, INITIAL_RULES, OVERRIDES, OFFSET = "store", "epoch", "rules", "initial", "overrides", "offset"
#: The id of the last fault rule added (ids keep growing, as in memory).
FAULT_ID = "fault-id"


class StoreWiped(Exception):
    """The store holds no configuration (Redis lost its data): seed it again."""


def rules_to_json(rules: dict[str, Rule]) -> bytes:
    return orjson.dumps({op: [rule.count, rule.seconds] for op, rule in rules.items()})


def rules_from_json(raw: bytes | None) -> dict[str, Rule]:
    return {op: Rule(int(count), float(seconds)) for op, (count, seconds) in orjson.loads(raw or b"{}").items()}


def fault_to_json(fault: Fault) -> bytes:
    data = fault.to_dict()
    for derived in ("id", "hits", "remaining"):
        del data[derived]
    return orjson.dumps(data)


def fault_from_json(raw: bytes, fault_id: int) -> Fault:
    data = orjson.loads(raw)
    return Fault(fault_id, data["method"], data["path"], data["account"], data["status"], data["message"],
                 data["delayMs"], data["drop"], data["times"])


@dataclass
class Config:
    store_id: str = ""
    epoch: int = 0
    rules: dict[str, Rule] = field(default_factory=dict)
    initial_rules: dict[str, Rule] = field(default_factory=dict)
    overrides: dict[tuple[str, str], Rule | None] = field(default_factory=dict)
    offset: float = 0.0
    #: Fault rules in the order they were added (the first match wins), hits as last seen.
    faults: list[Fault] = field(default_factory=list)
    last_fault_id: int = 0

    def overrides_json(self) -> bytes:
        return orjson.dumps([[account, op, None if rule is None else [rule.count, rule.seconds]]
                             for (account, op), rule in self.overrides.items()])


class SharedConfig:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.current = Config()
        #: Seeds the store again when it turns out empty (Redis lost its data); set once seeding is possible.
        self.reseed: Callable[[], object] | None = None

    def reload(self) -> Config:
        """Read the configuration as it is now (one round trip, atomic), seeding an empty store first."""
        try:
            self.current = self._read()
        except StoreWiped:
            if self.reseed is None:
                raise
            self.reseed()
            self.current = self._read()
        return self.current

    def _read(self) -> Config:
        keys = self.link.keys
        with self.link.guard():
            pipe = self.link.client.pipeline(transaction=True)
            for key in (keys.config, keys.faults, keys.fault_hits):
                pipe.hgetall(key)
            raw, faults, hits = pipe.execute()
        return parse(raw, faults, hits)

    def change(self, write: Write, accounts: Iterable[str] | None = None) -> Config:
        """Apply ``write(pipe, config, tags)`` and a new epoch for ``accounts`` (usernames; None: all of
        them, whose tags ``write`` gets) in one transaction; returns the configuration reloaded."""
        keys = self.link.keys

        def transaction(pipe: redis.client.Pipeline) -> None:
            current = parse(as_hash(pipe.hgetall(keys.config)), as_hash(pipe.hgetall(keys.faults)),
                            as_hash(pipe.hgetall(keys.fault_hits)))
            every = as_names(pipe.zrange(keys.accounts, 0, -1))
            # Only accounts that exist: writing the epoch of another would create a stray hash.
            tags = every if accounts is None else [name for name in map(tag, accounts) if name in every]
            pipe.multi()
            write(pipe, current, every)
            pipe.hset(keys.config, EPOCH, current.epoch + 1)
            for name in tags:
                pipe.hset(keys.account_by_tag(name).account, EPOCH, current.epoch + 1)

        try:
            self.link.transaction(transaction, keys.config, keys.faults, keys.accounts)
        except StoreWiped:
            self.reload()  # seeds the store again; the change applies to the new one
            self.link.transaction(transaction, keys.config, keys.faults, keys.accounts)
        return self.reload()


#: Queues a configuration change: (transaction, configuration before, tags of every account).
Write = Callable[[redis.client.Pipeline, Config, list[str]], None]


def parse(raw: dict[bytes, bytes], faults: dict[bytes, bytes], hits: dict[bytes, bytes]) -> Config:
    if STORE.encode() not in raw:
        raise StoreWiped()
    overrides: dict[tuple[str, str], Rule | None] = {}
    for account, op, rule in orjson.loads(raw.get(OVERRIDES.encode()) or b"[]"):
        overrides[(account, op)] = None if rule is None else Rule(int(rule[0]), float(rule[1]))
    rules: list[Fault] = []
    for fault_id in sorted(int(key) for key in faults):
        fault = fault_from_json(faults[str(fault_id).encode()], fault_id)
        fault.hits = int(hits.get(str(fault_id).encode(), 0))
        rules.append(fault)
    return Config(
        raw[STORE.encode()].decode(), int(raw.get(EPOCH.encode(), 0)), rules_from_json(raw.get(RULES.encode())),
        rules_from_json(raw.get(INITIAL_RULES.encode())), overrides, float(raw.get(OFFSET.encode(), 0.0)), rules,
        int(raw.get(FAULT_ID.encode(), 0)),
    )
