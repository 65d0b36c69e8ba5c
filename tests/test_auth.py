"""The four Authorization schemes, and the per-header cache."""

from __future__ import annotations

import base64

import pytest

from mock_omni.api.auth import CACHE_LIMIT, CACHEABLE_LENGTH, Authenticator, parse_basic
from mock_omni.domain.accounts import Account, Accounts
from mock_omni.domain.errors import Unauthorized


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def store() -> Accounts:
    return Accounts([Account("alice", "s3cret:x", ["api-key-1"], ["token-1"]), Account("bob", "pw", ["api-key-2"])])


@pytest.mark.parametrize(
    ("header", "user"),
    [
        (basic("alice", "s3cret:x"), "alice"),
        (basic("bob", "pw"), "bob"),
        ("App api-key-1", "alice"),
        ("App api-key-2", "bob"),
        ("IBSSO token-1", "alice"),
        ("Bearer token-1", "alice"),
        ("basic " + basic("bob", "pw").split()[1], "bob"),
    ],
)
def test_valid_credentials(store: Accounts, header: str, user: str) -> None:
    assert Authenticator(store).account_for(header) == user


@pytest.mark.parametrize(
    "header",
    [
        None, "", "Basic", "Basic ", basic("alice", "wrong"), basic("carol", "pw"), "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(), "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "App wrong", "App token-1", "IBSSO api-key-1", "Bearer nope", "Digest abc", "Token token-1", "App",
        "api-key-1", "App  ",
    ],
)
def test_invalid_credentials(store: Accounts, header: str | None) -> None:
    with pytest.raises(Unauthorized) as info:
        Authenticator(store).account_for(header)
    assert info.value.envelope() == {
        "requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}
    }


def test_cache_forgets_credentials_of_a_removed_account(store: Accounts) -> None:
    auth = Authenticator(store)
    for _ in range(2):  # kept from its second coming (domain/memo.py): once would not test the cache
        assert auth.account_for("App api-key-2") == "bob"
    assert "App api-key-2" in auth._cache
    store.remove_account("bob")
    with pytest.raises(Unauthorized):
        auth.account_for("App api-key-2")


def test_cache_remembers_failures_and_successes(store: Accounts) -> None:
    auth = Authenticator(store)
    for _ in range(3):
        assert auth.account_for("App api-key-1") == "alice"
        with pytest.raises(Unauthorized):
            auth.account_for("App missing")
    assert "App api-key-1" in auth._cache and "App missing" in auth._cache


def test_cache_is_bounded_and_keeps_no_overlong_header(store: Accounts) -> None:
    auth = Authenticator(store)
    overlong = "App " + "k" * CACHEABLE_LENGTH
    for n in range(CACHE_LIMIT + 10):
        for _ in range(2):  # a verdict is kept from its second coming (domain/memo.py)
            with pytest.raises(Unauthorized):
                auth.account_for(f"App wrong-{n}")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            auth.account_for(overlong)
    assert 0 < len(auth._cache) <= CACHE_LIMIT and overlong not in auth._cache
    assert auth.account_for("App api-key-1") == "alice"  # a full cache is emptied, never refuses


def test_parse_basic() -> None:
    assert parse_basic(base64.b64encode(b"a:b:c").decode()) == ("a", "b:c")
    assert parse_basic("====") is None
