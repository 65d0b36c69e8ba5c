"""Rate-limit buckets on Redis: ``RateLimits`` (state.py), the memory limiter's rules.

A bucket is one field of the account's bucket hash ("tokens last-refill"); a call takes
its token inside the call's own script (call.lua), so 41 updates spread over any number
of replicas get exactly one 429 under 40/10 min. Rules and per-account overrides are
configuration (config.py): cached by every replica, changed in one transaction that also
drops the buckets they concern.
"""

from __future__ import annotations

import redis

from ..vendor.ratelimit import Rule
from .clock import SharedClock
from .config import INITIAL_RULES, OVERRIDES, RULES, Config, SharedConfig, rules_to_json
from .gate import CURRENT, UNGATED, Gate
from .keys import username
from .link import Link, as_names
from .store import RedisStore

# Where a rule goes in the script's ARGV (call.lua: operation, count, seconds, now, offset).
LIMIT_SLICE = slice(5, 10)


def limit_arguments(op: str, rule: Rule, clock: SharedClock) -> list[str | bytes]:
    return [op, str(rule.count), repr(rule.seconds), clock.base(), repr(clock.config.current.offset)]


class RedisRateLimiter:
    def __init__(self, link: Link, config: SharedConfig, store: RedisStore, clock: SharedClock) -> None:
        self.link = link
        self.config = config
        self.store = store
        self.clock = clock

    @property
    def rules(self) -> dict[str, Rule]:
        return dict(self.config.reload().rules)

    @property
    def overrides(self) -> dict[tuple[str, str], Rule | None]:
        return dict(self.config.reload().overrides)

    def rule_for(self, account: str, op: str) -> Rule | None:
        """From the cache: a call's script refuses to act when the cache is older than the account."""
        current = self.config.current
        key = (account, op)
        if key in current.overrides:
            return current.overrides[key]
        return current.rules.get(op)

    def check(self, account: str, op: str) -> None:
        """Take one token outside a vendor call (in a vendor call, the call's script takes it)."""
        rule = self.rule_for(account, op)
        if rule is None:
            return
        argv: list[str | bytes] = list(UNGATED)
        argv[LIMIT_SLICE] = limit_arguments(op, rule, self.clock)
        token = CURRENT.set(Gate(argv))
        try:
            self.store.checks(account)
        finally:
            CURRENT.reset(token)

    def set_rule(self, op: str, rule: Rule | None, account: str | None = None) -> None:
        """Change a limit for everyone or one account (None = not limited); its buckets start full."""
        keys = self.link.keys

        def write(pipe: redis.client.Pipeline, config: Config, tags: list[str]) -> None:
            if account is None:
                rules = dict(config.rules)
                if rule is None:
                    rules.pop(op, None)
                else:
                    rules[op] = rule
                pipe.hset(keys.config, RULES, rules_to_json(rules))
                for name in tags:
                    pipe.hdel(keys.account_by_tag(name).buckets, op)
            else:
                config.overrides[(account, op)] = rule
                pipe.hset(keys.config, OVERRIDES, config.overrides_json())
                pipe.hdel(keys.account(account).buckets, op)

        self.config.change(write, None if account is None else [account])

    def reset(self, account: str | None = None, rules: bool = False) -> None:
        """Refill buckets (all, or one account's); with ``rules``, also undo run-time changes."""
        keys = self.link.keys

        def write(pipe: redis.client.Pipeline, config: Config, tags: list[str]) -> None:
            if account is None:
                for name in tags:
                    pipe.delete(keys.account_by_tag(name).buckets)
                if rules:
                    pipe.hset(keys.config, mapping={RULES: rules_to_json(config.initial_rules), OVERRIDES: b"[]"})
            else:
                pipe.delete(keys.account(account).buckets)
                if rules:
                    config.overrides = {k: v for k, v in config.overrides.items() if k[0] != account}
                    pipe.hset(keys.config, OVERRIDES, config.overrides_json())

        self.config.change(write, None if account is None else [account])

    def seed(self, pipe: redis.client.Pipeline, rules: dict[str, Rule]) -> None:
        """Queue the rules of a store being seeded (also what a reset returns to)."""
        pipe.hset(self.link.keys.config, mapping={RULES: rules_to_json(rules), INITIAL_RULES: rules_to_json(rules),
                                                  OVERRIDES: b"[]"})

    def buckets(self) -> list[dict[str, object]]:
        """The current fill of every bucket in use, refilled to now (for the admin API and dashboard)."""
        self.config.reload()
        keys = self.link.keys
        with self.link.guard():
            tags = as_names(self.link.client.zrange(keys.accounts, 0, -1))
            pipe = self.link.client.pipeline(transaction=True)
            for name in tags:
                pipe.hgetall(keys.account_by_tag(name).buckets)
            replies = pipe.execute()
        now = self.clock.now()
        result = []
        for name, buckets in zip(tags, replies, strict=True):
            account = username(name)
            for raw_op, raw in buckets.items():
                op = raw_op.decode()
                rule = self.rule_for(account, op)
                if rule is None:
                    continue
                tokens, last = (float(part) for part in raw.split())
                filled = min(float(rule.count), tokens + max(0.0, now - last) * rule.count / rule.seconds)
                result.append({"account": account, "operation": op, "tokens": round(filled, 3),
                               "capacity": rule.count, "per": str(rule)})
        return result
