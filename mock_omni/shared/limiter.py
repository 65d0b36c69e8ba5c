"""Rate-limit buckets on Redis: ``RateLimits`` (state.py), the memory limiter's rules.

A bucket is one field of the account's bucket hash ("tokens last-refill"); a call takes
its token inside the call's own script (call.lua), so 41 updates spread over any number
of replicas get exactly one 429 under 40/10 min. Rules and per-account overrides are
configuration (config.py): cached by every replica, changed in one transaction that also
drops the buckets they concern.
"""

from __future__ import annotations

import redis

from ..domain.errors import TooManyRequests
from ..vendor.ratelimit import Rule
from . import scripts
from .clock import SharedClock
from .config import INITIAL_RULES, OVERRIDES, RULES, Config, SharedConfig, rules_to_json
from .gate import CURRENT, LIMIT_SLICE, UNGATED, Gate
from .keys import untag
from .link import Link, as_names
from .store import RedisStore

TAKE = scripts.named("take", "bucket")


def limit_arguments(op: str, rule: Rule | None, clock: SharedClock) -> list[str | bytes]:
    """call.lua's ARGV 8-12: the limited operation, count and seconds ('' when not limited), the time, the offset."""
    limited: list[str | bytes] = ["", "", ""] if rule is None else [op, str(rule.count), repr(rule.seconds)]
    return [*limited, clock.base(), repr(clock.config.current.offset)]


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
        """Take one token outside an account's call (in one, the call's script takes it): the sign-in calls'
        buckets (no account) are in {g}."""
        rule = self.rule_for(account, op)
        if rule is None:
            return
        if not account:
            if not self.link.run(TAKE, (self.link.keys.buckets,), limit_arguments(op, rule, self.clock)):
                raise TooManyRequests()
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
                pipe.hdel(keys.buckets, op)
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
                pipe.delete(keys.buckets, *(keys.account_by_tag(name).buckets for name in tags))
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
            pipe.hgetall(keys.buckets)
            for name in tags:
                pipe.hgetall(keys.account_by_tag(name).buckets)
                pipe.hget(keys.account_by_tag(name).account, "clock")
            replies = pipe.execute()
        now = self.clock.now()
        # The sign-in calls' buckets (no account) first, then each account's, on its own clock.
        owners = [("", replies[0], 0.0), *((untag(name), replies[1 + 2 * index], float(replies[2 + 2 * index] or 0))
                                          for index, name in enumerate(tags))]
        result = []
        for account, buckets, own in owners:
            for raw_op, raw in buckets.items():
                op = raw_op.decode()
                rule = self.rule_for(account, op)
                if rule is None:
                    continue
                tokens, last = (float(part) for part in raw.split())
                filled = min(float(rule.count), tokens + max(0.0, now + own - last) * rule.count / rule.seconds)
                result.append({"account": account, "operation": op, "tokens": round(filled, 3),
                               "capacity": rule.count, "per": str(rule)})
        return result
