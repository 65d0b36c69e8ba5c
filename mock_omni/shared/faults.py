"""Fault rules on Redis: ``FaultRules`` (state.py), the memory rules' matching and effects.

Rules are configuration (config.py): every replica holds them, so a call with no rule
in sight costs nothing extra, and adding or clearing one reaches every replica before
the admin call returns (the epoch). Uses are counted on Redis, by a script: a rule for
the next 3 requests fails exactly 3, whichever replicas they reach.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping

import redis

from ..domain.errors import InvalidArgument
from ..testing.admin_models import FaultIn, validated
from ..testing.faults import MAX_RULES, Fault, apply_fault, default_sleep, fault_from_rule
from . import scripts
from .config import FAULT_ID, Config, SharedConfig, fault_to_json
from .link import Link

TAKE = scripts.named("fault_take")


class RedisFaults:
    def __init__(self, link: Link, config: SharedConfig,
                 sleep: Callable[[float], Awaitable[None]] = default_sleep) -> None:
        self.link = link
        self.config = config
        self._sleep = sleep

    def add(self, rule: FaultIn | Mapping[str, object]) -> Fault:
        """A new rule (admin API JSON, checked here if not already); the first matching one wins."""
        if not isinstance(rule, FaultIn):
            rule = validated(FaultIn, rule)
        checked = rule
        keys = self.link.keys
        added: list[Fault] = []

        def write(pipe: redis.client.Pipeline, config: Config, tags: list[str]) -> None:
            if len(config.faults) >= MAX_RULES:
                raise InvalidArgument(f"At most {MAX_RULES} faults at once; clear some first.")
            fault = fault_from_rule(config.last_fault_id + 1, checked)
            pipe.hset(keys.faults, str(fault.id), fault_to_json(fault))
            pipe.hset(keys.config, FAULT_ID, fault.id)
            added.append(fault)

        # A rule for one account concerns only that account's calls.
        self.config.change(write, None if rule.account is None else [rule.account])
        return added[-1]

    @property
    def armed(self) -> bool:
        """From the cache: whether any rule may still apply (the epoch keeps the cache honest)."""
        return any(rule.times is None or rule.hits < rule.times for rule in self.config.current.faults)

    def may_apply(self, method: str, path: str, account: str | None) -> bool:
        return account is not None and any(rule.matches(method, path, account) for rule in self.config.current.faults)

    def rules(self, account: str | None = None) -> list[Fault]:
        return [rule for rule in self.config.reload().faults if account is None or rule.account == account]

    def clear(self, account: str | None = None) -> int:
        keys = self.link.keys
        removed: list[Fault] = []

        def write(pipe: redis.client.Pipeline, config: Config, tags: list[str]) -> None:
            removed.extend(rule for rule in config.faults if account is None or rule.account == account)
            if removed:
                ids = [str(rule.id) for rule in removed]
                pipe.hdel(keys.faults, *ids)
                pipe.hdel(keys.fault_hits, *ids)

        self.config.change(write, None if account is None else [account])
        return len(removed)

    def take(self, method: str, path: str, account: str) -> Fault | None:
        """The rule that applies to this request, its use counted on Redis; None if none does."""
        candidates = [rule for rule in self.config.current.faults if rule.matches(method, path, account)]
        if not candidates:
            return None
        args: list[str] = []
        for rule in candidates:
            args += [str(rule.id), "" if rule.times is None else str(rule.times)]
        keys = self.link.keys
        taken = self.link.run(TAKE, (keys.faults, keys.fault_hits), args)
        if not taken:
            # Used up by other replicas: remember, so this replica stops looking.
            for rule in candidates:
                rule.hits = rule.times if rule.times is not None else rule.hits
            return None
        fault_id, hits = int(taken[0]), int(taken[1])
        for rule in candidates:
            if rule.id == fault_id:
                rule.hits = hits
                return copy.copy(rule)
        raise AssertionError("taken rule not among the candidates")

    async def hook(self, method: str, path: str, account: str) -> None:
        await apply_fault(self.take(method, path, account), self._sleep)
