"""Token-bucket rate limits per account and operation, as the vendor's x-throttling-info states.

The vendor's limits and the operation names come from the route table (routes.py): create
20 per 10 minutes, update 40 per 10 minutes; reads are not limited. A bucket starts full
and refills continuously. A refused request gets
429 TOO_MANY_REQUESTS with no Retry-After header: the vendor documents none.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from ..domain.errors import TooManyRequests
from .limits import UNITS, Rule
from .routes import OPERATION_NAMES as OPERATIONS
from .routes import VENDOR_LIMITS

__all__ = ["OPERATIONS", "VENDOR_LIMITS", "RateLimitSpecError", "RateLimiter", "Rule", "parse_profile", "parse_rule"]


_SPEC = re.compile(r"^\s*(\w+)\s*=\s*([0-9]{1,9})\s*/\s*([0-9]{0,9}(?:\.[0-9]{1,9})?)\s*(ms|s|m|h|d)\s*$")


class RateLimitSpecError(ValueError):
    pass


def parse_rule(text: str) -> tuple[str, Rule]:
    """``update=5/1m`` -> ("update", Rule(5, 60.0)). A bare unit means one of it: ``5/m``."""
    match = _SPEC.match(text)
    if not match:
        raise RateLimitSpecError(f"bad rate limit {text!r}: expected OP=COUNT/DURATION, e.g. update=5/1m")
    op, count, amount, unit = match.groups()
    if op not in OPERATIONS:
        raise RateLimitSpecError(f"bad rate limit {text!r}: operation must be one of {', '.join(OPERATIONS)}")
    seconds = float(amount or 1) * UNITS[unit]
    if int(count) < 1 or seconds <= 0:
        raise RateLimitSpecError(f"bad rate limit {text!r}: count and duration must be positive")
    return op, Rule(int(count), seconds)


def parse_profile(specs: Iterable[str]) -> dict[str, Rule]:
    """The limits a list of CLI/env specs describes: the vendor's, ``off``, or overrides of them.

    Each item may itself be comma-separated (the env var form).
    """
    items = [part.strip() for spec in specs for part in spec.split(",") if part.strip()]
    if not items:
        return dict(VENDOR_LIMITS)
    if items == ["off"]:
        return {}
    if "off" in items:
        raise RateLimitSpecError("'off' cannot be combined with other rate limits")
    profile = dict(VENDOR_LIMITS)
    for item in items:
        op, rule = parse_rule(item)
        profile[op] = rule
    return profile


class RateLimiter:
    """Buckets keyed by (account, operation); rules may be overridden per account at run time."""

    def __init__(self, rules: dict[str, Rule], clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._initial = dict(rules)
        self.rules: dict[str, Rule] = dict(rules)
        #: (account, op) -> rule, or None for "not limited" for that account.
        self.overrides: dict[tuple[str, str], Rule | None] = {}
        self._buckets: dict[tuple[str, str], list[float]] = {}  # [tokens, last refill]

    def rule_for(self, account: str, op: str) -> Rule | None:
        key = (account, op)
        if key in self.overrides:
            return self.overrides[key]
        return self.rules.get(op)

    def check(self, account: str, op: str) -> None:
        """Take one token for (account, op) or raise 429."""
        if not self.rules and not self.overrides:
            return
        rule = self.rule_for(account, op)
        if rule is None:
            return
        now = self._clock()
        key = (account, op)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [float(rule.count), now]
            else:
                elapsed = max(0.0, now - bucket[1])
                bucket[0] = min(float(rule.count), bucket[0] + elapsed * rule.count / rule.seconds)
                bucket[1] = now
            if bucket[0] < 1.0:
                wait = (1.0 - bucket[0]) * rule.seconds / rule.count
                whose = "this account's" if key in self.overrides else "the"
                raise TooManyRequests().because(
                    f"{whose} rate limit of '{op}' ({rule} per account) is used up: the next call is let in "
                    f"{wait:.3g} s later on the mock's clock (POST /__admin/clock/advance moves it)")
            bucket[0] -= 1.0

    def set_rule(self, op: str, rule: Rule | None, account: str | None = None) -> None:
        """Change a limit at run time: for everyone, or for one account (None = not limited)."""
        with self._lock:
            if account is None:
                if rule is None:
                    self.rules.pop(op, None)
                else:
                    self.rules[op] = rule
                self._buckets = {k: v for k, v in self._buckets.items() if k[1] != op}
            else:
                self.overrides[(account, op)] = rule
                self._buckets.pop((account, op), None)

    def age(self, account: str, seconds: float) -> None:
        """One account's own clock moves on: its buckets refill as if ``seconds`` had passed for it alone."""
        with self._lock:
            for key, bucket in self._buckets.items():
                if key[0] == account:
                    bucket[1] -= seconds

    def reset(self, account: str | None = None, rules: bool = False) -> None:
        """Refill buckets (all, or one account's); with ``rules``, also undo run-time changes."""
        with self._lock:
            if account is None:
                self._buckets.clear()
                if rules:
                    self.rules = dict(self._initial)
                    self.overrides.clear()
            else:
                self._buckets = {k: v for k, v in self._buckets.items() if k[0] != account}
                if rules:
                    self.overrides = {k: v for k, v in self.overrides.items() if k[0] != account}

    def buckets(self) -> list[dict[str, object]]:
        """The current fill of every bucket in use, refilled to now (for the admin API and dashboard)."""
        now = self._clock()
        with self._lock:
            items = list(self._buckets.items())
        result = []
        for (account, op), (tokens, last) in items:
            rule = self.rule_for(account, op)
            if rule is None:
                continue
            filled = min(float(rule.count), tokens + max(0.0, now - last) * rule.count / rule.seconds)
            result.append({"account": account, "operation": op, "tokens": round(filled, 3),
                           "capacity": rule.count, "per": str(rule)})
        return result
