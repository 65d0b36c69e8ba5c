"""The request path's memo: bounded in entries and in the size of what it keeps, keeping what comes twice."""

from __future__ import annotations

import pytest

from mock_omni.domain.memo import MISSING, Memo


def test_none_is_a_result_and_absence_is_missing() -> None:
    memo: Memo[str, str | None] = Memo(limit=4, max_size=10)
    assert memo.get("a", MISSING) is MISSING
    for _ in range(2):
        assert memo.remember("a", None, 1) is None
    assert memo.get("a", MISSING) is None


def test_a_result_is_kept_the_second_time_its_input_comes() -> None:
    """An input seen once (every body new) is not kept; one that comes again is, and then found."""
    memo: Memo[bytes, int] = Memo(limit=4, max_size=10)
    for n in range(3):
        assert memo.remember(b"%d" % n, n, 1) == n
    assert len(memo) == 0 and all(memo.get(b"%d" % n, MISSING) is MISSING for n in range(3))
    assert memo.remember(b"1", 1, 1) == 1
    assert memo.get(b"1", MISSING) == 1 and len(memo) == 1


def test_full_memo_starts_over_and_oversized_inputs_are_not_kept() -> None:
    memo: Memo[int, int] = Memo(limit=3, max_size=10)
    for n in range(7):
        for _ in range(2):
            assert memo.remember(n, n * 2, 1) == n * 2
        assert 0 < len(memo) <= 3 and memo.get(n, MISSING) == n * 2
    for _ in range(3):
        assert memo.remember(99, 5, 11) == 5
    assert memo.get(99, MISSING) is MISSING and 0 < len(memo) <= 3


def test_what_it_has_seen_is_bounded_too() -> None:
    """A stream of new inputs (numbered bodies) holds at most ``limit`` hashes, never a growing set."""
    memo: Memo[int, int] = Memo(limit=8, max_size=10)
    for n in range(1000):
        memo.remember(n, n, 1)
        assert len(memo._seen) <= 8
    assert len(memo) == 0


def test_conversions_by_identity_are_kept_from_the_second_coming_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flow list (a parsed body's, found again by the body memo) and a send request are remembered by identity
    the second time they come: a first-time body's objects are never seen again and are not held."""
    from mock_omni.domain import scenarios
    from mock_omni.domain.plans import PreparedSends
    from mock_omni.domain.scenarios import StepIn, steps_from_input
    from mock_omni.domain.send_request import OmniAdvancedRequest
    from mock_omni.domain.validation import validate_json

    # A fresh memo: the module's has seen the ids of other tests' lists, which a new list may take.
    monkeypatch.setattr(scenarios, "_CONVERTED", Memo(256, 0))
    flow = [StepIn.model_validate({"from": "InfoSMS", "channel": "SMS"})]
    once = steps_from_input(flow)
    assert id(flow) not in scenarios._CONVERTED
    assert steps_from_input(flow) == once and scenarios._CONVERTED[id(flow)] == (flow, once)

    prepared = PreparedSends()
    request = validate_json(OmniAdvancedRequest, b'{"destinations": [{"to": {"phoneNumber": "41793026727"}}], '
                                                 b'"scenarioKey": "K", "sms": {"text": "hi"}}')
    first = prepared.get(request, "K", once)
    assert len(prepared._entries) == 0
    second = prepared.get(request, "K", once)
    assert second is not first and second == first and len(prepared._entries) == 1
    assert prepared.get(request, "K", once) is second
