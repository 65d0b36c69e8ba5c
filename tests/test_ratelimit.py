"""Token buckets per account and operation, on a manual clock (no sleeping)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_omni.api.ratelimit import VENDOR_LIMITS, RateLimiter, RateLimitSpecError, Rule, parse_profile, parse_rule
from mock_omni.domain.clock import Clock, ManualClock
from mock_omni.domain.errors import TooManyRequests


def drain(limiter: RateLimiter, account: str, op: str, attempts: int) -> int:
    allowed = 0
    for _ in range(attempts):
        try:
            limiter.check(account, op)
            allowed += 1
        except TooManyRequests:
            pass
    return allowed


def test_vendor_profile_is_create_20_and_update_40_per_10_minutes_logs_120_per_minute() -> None:
    assert parse_profile([]) == {"create": Rule(20, 600.0), "update": Rule(40, 600.0), "logs": Rule(120, 60.0)}
    limiter = RateLimiter(VENDOR_LIMITS, ManualClock())
    assert drain(limiter, "a", "create", 30) == 20
    assert drain(limiter, "a", "update", 50) == 40
    assert drain(limiter, "a", "list", 500) == 500
    assert drain(limiter, "a", "get", 500) == 500


def test_buckets_are_per_account_and_operation() -> None:
    limiter = RateLimiter({"update": Rule(2, 60)}, ManualClock())
    assert drain(limiter, "a", "update", 5) == 2
    assert drain(limiter, "b", "update", 5) == 2


def test_bucket_refills_with_time() -> None:
    clock = ManualClock()
    limiter = RateLimiter({"update": Rule(40, 600)}, clock)
    assert drain(limiter, "a", "update", 40) == 40
    with pytest.raises(TooManyRequests):
        limiter.check("a", "update")
    clock.advance(15)  # 40 per 600 s: one token every 15 s
    limiter.check("a", "update")
    with pytest.raises(TooManyRequests):
        limiter.check("a", "update")
    clock.advance(6000)
    assert drain(limiter, "a", "update", 100) == 40  # never above capacity


def test_run_time_rules_and_reset() -> None:
    limiter = RateLimiter({"update": Rule(1, 60)}, ManualClock())
    limiter.check("a", "update")
    limiter.set_rule("update", None, account="a")
    assert drain(limiter, "a", "update", 10) == 10
    assert drain(limiter, "b", "update", 10) == 1
    limiter.reset(rules=True)
    assert drain(limiter, "a", "update", 10) == 1
    limiter.set_rule("update", Rule(3, 60))
    assert drain(limiter, "c", "update", 10) == 3
    limiter.set_rule("update", None)
    assert drain(limiter, "c", "update", 10) == 10


def test_buckets_report() -> None:
    clock = ManualClock()
    limiter = RateLimiter({"update": Rule(4, 60)}, clock)
    drain(limiter, "a", "update", 2)
    assert limiter.buckets() == [{"account": "a", "operation": "update", "tokens": 2.0, "capacity": 4, "per": "4/1m"}]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("update=5/1m", ("update", Rule(5, 60))), ("create=20/10m", ("create", Rule(20, 600))),
     ("get=1/s", ("get", Rule(1, 1))), (" list = 3 / 2h ", ("list", Rule(3, 7200))),
     ("update=10/500ms", ("update", Rule(10, 0.5)))],
)
def test_parse_rule(spec: str, expected: tuple[str, Rule]) -> None:
    assert parse_rule(spec) == expected


@pytest.mark.parametrize("spec", ["update", "update=5", "update=5/", "delete=1/m", "update=0/1m", "update=5/0m",
                                  "update=-1/1m", "update=5/1y", "=5/1m",
                                  f"update={'9' * 5000}/1m", f"update=1/{'9' * 5000}s"])
def test_parse_rule_rejects(spec: str) -> None:
    with pytest.raises(RateLimitSpecError):
        parse_rule(spec)


def test_parse_profile() -> None:
    assert parse_profile(["off"]) == {}
    assert parse_profile(["update=5/1m"]) == {"create": Rule(20, 600), "update": Rule(5, 60), "logs": Rule(120, 60)}
    assert parse_profile(["update=5/1m,create=1/1s"]) == {"create": Rule(1, 1), "update": Rule(5, 60),
                                                          "logs": Rule(120, 60)}
    with pytest.raises(RateLimitSpecError):
        parse_profile(["off", "update=5/1m"])


def test_clock_only_moves_forward() -> None:
    clock = Clock(lambda: 100.0)
    clock.advance(5)
    assert clock() == 105.0 and clock.offset == 5
    with pytest.raises(ValueError):
        clock.advance(-1)


@given(
    count=st.integers(1, 50), seconds=st.floats(1, 1000),
    steps=st.lists(st.tuples(st.floats(0, 100), st.integers(0, 10)), max_size=30),
)
def test_never_more_than_capacity_plus_refill(count: int, seconds: float, steps: list[tuple[float, int]]) -> None:
    """Over any schedule, allowed requests <= capacity + elapsed * rate (the token-bucket bound)."""
    clock = ManualClock()
    limiter = RateLimiter({"update": Rule(count, seconds)}, clock)
    allowed = 0
    elapsed = 0.0
    for wait, attempts in steps:
        clock.advance(wait)
        elapsed += wait
        allowed += drain(limiter, "a", "update", attempts)
        assert allowed <= count + elapsed * count / seconds + 1e-6
