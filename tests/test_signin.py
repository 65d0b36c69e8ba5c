"""Sign-in in the domain, no HTTP: scopes, clients, issued tokens, sessions on a manual clock, the store's indexes."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_omni.api.auth import Authenticator
from mock_omni.api.routes import OPERATIONS
from mock_omni.domain import credentials, signin
from mock_omni.domain.accounts import Account, Accounts
from mock_omni.domain.clock import ManualClock
from mock_omni.domain.credentials import KNOWN_SCOPES, Grant, OAuth2Client, Principal, allows, mask
from mock_omni.domain.errors import InvalidArgument, InvalidClient, InvalidScope, NotFound, Unauthorized
from mock_omni.domain.fixtures import FixtureError, accounts_from_document
from mock_omni.domain.signin import Lifetimes, SignIn
from mock_omni.server.cli import build_parser, main, settings_from_args
from mock_omni.settings import Settings

MANAGE = "omni-failover:manage"
LOGS = "omni-failover:logs:read"


pytestmark = pytest.mark.both_stores


def make_store() -> Accounts:
    alice = Account("alice", "pw-alice", ["key-all", "key-logs"], ["fixture-token"],
                    key_scopes={"key-logs": (LOGS,)},
                    oauth2_clients=[OAuth2Client("app", "app-secret"), OAuth2Client("reader", "r-secret", (LOGS,))])
    return Accounts([alice, Account("bob", "pw-bob")])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> Accounts:
    return make_store()


@pytest.fixture
def service(store: Accounts, clock: ManualClock) -> SignIn:
    return SignIn(store, clock, Lifetimes(token=100.0, session_idle=50.0))


# --- the scope rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(("held", "needed", "allowed"), [
    (None, (MANAGE,), True),                      # every scope
    ((), (), True),                               # a call needing none
    ((), (MANAGE,), False),                       # a key with no scope at all
    ((LOGS,), (LOGS, MANAGE), True),              # one of the needed ones is enough
    ((LOGS,), (MANAGE,), False),
    (("omni-failover",), (MANAGE,), False),       # a prefix is not the scope
])
def test_a_credential_needs_one_of_the_operations_scopes(held: Any, needed: Any, allowed: bool) -> None:
    assert allows(held, needed) is allowed
    assert Principal("u", held).allows(needed) is allowed


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True),
       st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True))
def test_allowed_exactly_when_the_sets_meet_or_nothing_is_needed(held: list[str], needed: list[str]) -> None:
    assert allows(tuple(held), tuple(needed)) == (not needed or bool(set(held) & set(needed)))


# --- API keys with scopes through the authenticator ------------------------------------------


def test_keys_carry_their_scopes_and_basic_tokens_every_scope(store: Accounts, service: SignIn) -> None:
    auth = Authenticator(store, service)
    assert auth.principal_for("App key-logs").scopes == (LOGS,)
    assert auth.principal_for("App key-all").scopes is None
    assert auth.principal_for("IBSSO fixture-token").scopes is None
    assert auth.principal_for("Bearer fixture-token").scopes is None


# --- OAuth2 clients and tokens --------------------------------------------------------------


def test_a_client_and_the_username_authenticate_with_their_secrets(service: SignIn) -> None:
    account, client = service.client("reader", "r-secret")
    assert (account.username, client.scopes) == ("alice", (LOGS,))
    account, client = service.client("alice", "pw-alice")  # the vendor's: client_id is the username
    assert (account.username, client.client_id, client.scopes) == ("alice", "alice", None)
    for client_id, secret in [("reader", "wrong"), ("nobody", "r-secret"), ("alice", "r-secret"), ("reader", "")]:
        with pytest.raises(InvalidClient):
            service.client(client_id, secret)


def test_an_unknown_client_costs_one_constant_time_compare_like_a_wrong_secret(
        service: SignIn, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(credentials.hmac, "compare_digest", recording)
    for client_id in ("reader", "nobody"):
        with pytest.raises(InvalidClient):
            service.client(client_id, "guess")
    assert len(calls) == 2 and all(a == b"guess" for a, _ in calls)
    calls.clear()
    for username in ("alice", "nobody"):
        with pytest.raises(Unauthorized):
            service.open_session(username, "guess")
    assert len(calls) == 2


def test_a_token_lives_its_lifetime_on_the_clock(store: Accounts, service: SignIn, clock: ManualClock) -> None:
    account, client = service.client("app", "app-secret")
    grant = service.issue_token(account, client)
    assert grant.kind == "oauth2" and grant.lifetime == 100.0 and grant.client_id == "app"
    auth = Authenticator(store, service)
    clock.advance(99.9)
    for _ in range(2):  # kept from its second coming (domain/memo.py): the expiry is then checked on the kept verdict
        assert auth.principal_for(f"Bearer {grant.token}").username == "alice"
    clock.advance(0.1)
    with pytest.raises(Unauthorized):
        auth.principal_for(f"Bearer {grant.token}")
    assert store.grants("alice") == []  # the expired token is dropped, not kept


def test_tokens_and_sessions_live_on_their_accounts_clock(store: Accounts, service: SignIn) -> None:
    store.add_account(Account("carol", "pw-carol"))
    offsets = {"alice": 0.0}
    service.account_offset = lambda username: offsets.get(username, 0.0)
    account, client = service.client("app", "app-secret")
    token, session = service.issue_token(account, client), service.session_for("alice")
    other = service.session_for("carol")
    offsets["alice"] = 40.0
    assert [entry["expiresInSeconds"] for entry in service.issued("alice")] == [60.0, 10.0]
    late = service.issue_token(account, client)
    assert late.issued_at == 40.0 and service.issued("alice")[-1]["expiresInSeconds"] == 100.0
    offsets["alice"] = 100.0
    auth = Authenticator(store, service)
    for expired in (f"Bearer {token.token}", f"IBSSO {session.token}"):
        with pytest.raises(Unauthorized):
            auth.principal_for(expired)
    assert auth.principal_for(f"Bearer {late.token}").username == "alice"
    assert auth.principal_for(f"IBSSO {other.token}").username == "carol"  # carol's clock did not move


def test_a_token_is_a_bearer_token_only(store: Accounts, service: SignIn) -> None:
    account, client = service.client("app", "app-secret")
    token = service.issue_token(account, client).token
    auth = Authenticator(store, service)
    for header in (f"IBSSO {token}", f"App {token}", f"Bearer {token}x"):
        with pytest.raises(Unauthorized):
            auth.principal_for(header)


@pytest.mark.parametrize(("client_id", "secret", "scope", "scopes"), [
    ("app", "app-secret", None, None),
    ("app", "app-secret", f"{LOGS} {MANAGE} {LOGS}", (LOGS, MANAGE)),
    ("reader", "r-secret", None, (LOGS,)),
    ("reader", "r-secret", LOGS, (LOGS,)),
])
def test_token_scopes_are_the_clients_or_fewer(service: SignIn, client_id: str, secret: str, scope: str | None,
                                               scopes: Any) -> None:
    account, client = service.client(client_id, secret)
    assert service.issue_token(account, client, scope).scopes == scopes


@pytest.mark.parametrize("scope", [MANAGE, f"{LOGS} {MANAGE}", f"{LOGS}  {LOGS}", " "])
def test_asking_for_a_scope_the_client_lacks_is_invalid_scope(service: SignIn, scope: str) -> None:
    account, client = service.client("reader", "r-secret")
    with pytest.raises(InvalidScope):
        service.issue_token(account, client, scope)


@pytest.mark.parametrize("scope", ["made-up", f"{MANAGE} made-up", "", "message:send:extra"])
def test_a_scope_the_api_does_not_name_is_invalid_even_for_a_client_with_every_scope(service: SignIn,
                                                                                      scope: str) -> None:
    account, client = service.client("app", "app-secret")
    assert client.scopes is None
    with pytest.raises(InvalidScope):
        service.issue_token(account, client, scope)
    with pytest.raises(InvalidArgument):
        service.mint_token("alice", scopes=tuple(scope.split(" ")))


def test_the_known_scopes_are_the_route_tables() -> None:
    assert KNOWN_SCOPES == {scope for operation in OPERATIONS for scope in operation.scopes}


def test_minting_for_a_test_needs_no_secret_but_keeps_the_clients_limits(service: SignIn) -> None:
    assert service.mint_token("alice").scopes is None
    assert service.mint_token("alice", "reader").scopes == (LOGS,)
    assert service.mint_token("alice", scopes=(MANAGE,)).scopes == (MANAGE,)
    with pytest.raises(InvalidArgument):
        service.mint_token("alice", "reader", (MANAGE,))
    with pytest.raises(InvalidArgument):
        service.mint_token("alice", "bob-client")
    with pytest.raises(NotFound):
        service.mint_token("carol")


def test_live_tokens_per_account_are_bounded_oldest_first(store: Accounts, service: SignIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signin, "MAX_GRANTS", 3)
    grants = [service.mint_token("alice") for _ in range(5)]
    assert [grant.token for _, grant in store.grants("alice")] == [grant.token for grant in grants[2:]]
    assert store.grant_for(grants[0].token) is None and store.grant_for(grants[4].token) is not None


def test_a_token_dropped_past_the_bound_stops_working_though_its_verdict_was_cached(
        store: Accounts, service: SignIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signin, "MAX_GRANTS", 2)
    auth = Authenticator(store, service)
    first = service.mint_token("alice")
    assert auth.principal_for(f"Bearer {first.token}").username == "alice"  # now cached
    second = service.mint_token("alice")
    assert auth.principal_for(f"Bearer {second.token}").username == "alice"
    service.mint_token("alice")
    with pytest.raises(Unauthorized):
        auth.principal_for(f"Bearer {first.token}")
    assert auth.principal_for(f"Bearer {second.token}").username == "alice"


def test_expired_tokens_are_dropped_when_new_ones_come(store: Accounts, service: SignIn, clock: ManualClock) -> None:
    old = service.mint_token("alice")
    clock.advance(100)
    new = service.mint_token("alice")
    assert [grant for _, grant in store.grants("alice")] == [new] and store.grant_for(old.token) is None


# --- sessions -----------------------------------------------------------------------------


def test_a_session_ends_after_its_idle_period_and_each_use_restarts_it(
        store: Accounts, service: SignIn, clock: ManualClock) -> None:
    session = service.open_session("alice", "pw-alice")
    auth = Authenticator(store, service)
    header = f"IBSSO {session.token}"
    for _ in range(4):  # 4 x 40 s: far past 50 s, but never 50 s idle
        clock.advance(40)
        assert auth.principal_for(header).username == "alice"
    clock.advance(50)
    with pytest.raises(Unauthorized):
        auth.principal_for(header)
    with pytest.raises(Unauthorized):
        auth.principal_for(f"Bearer {session.token}")  # never a Bearer token


def test_logging_in_again_while_a_session_lives_gives_the_same_token(service: SignIn, clock: ManualClock) -> None:
    first = service.open_session("alice", "pw-alice")
    clock.advance(49)
    assert service.open_session("alice", "pw-alice").token == first.token
    clock.advance(49)  # the second login counted as a use
    assert service.open_session("alice", "pw-alice").token == first.token
    clock.advance(50)
    assert service.open_session("alice", "pw-alice").token != first.token


def test_sessions_are_per_account(service: SignIn) -> None:
    assert service.open_session("alice", "pw-alice").token != service.open_session("bob", "pw-bob").token


@pytest.mark.parametrize(("username", "password"), [("alice", "pw-bob"), ("carol", "pw-alice"), ("alice", "")])
def test_wrong_login_is_unauthorized(service: SignIn, username: str, password: str) -> None:
    with pytest.raises(Unauthorized):
        service.open_session(username, password)


def test_ending_a_session(store: Accounts, service: SignIn) -> None:
    session = service.open_session("alice", "pw-alice")
    with pytest.raises(Unauthorized):
        service.end_session("bob", session.token)  # not bob's
    service.end_session("alice", session.token)
    with pytest.raises(Unauthorized):
        service.end_session("alice", session.token)
    with pytest.raises(Unauthorized):
        Authenticator(store, service).principal_for(f"IBSSO {session.token}")


def test_ending_a_fixture_token_lasts_until_the_account_is_reset(store: Accounts, service: SignIn) -> None:
    origin = make_store().account("alice")
    assert origin is not None
    service.end_session("alice", "fixture-token")
    auth = Authenticator(store, service)
    with pytest.raises(Unauthorized):
        auth.principal_for("IBSSO fixture-token")
    store.replace_account(origin.copy())
    assert auth.principal_for("IBSSO fixture-token").username == "alice"


def test_an_ended_fixture_token_given_to_another_account_stays_that_accounts(store: Accounts, service: SignIn) -> None:
    origin = make_store().account("alice")
    assert origin is not None
    service.end_session("alice", "fixture-token")
    store.add_account(Account("carol", "pw", tokens=["fixture-token"]))
    store.replace_account(origin.copy())  # alice's reset
    auth = Authenticator(store, service)
    assert auth.principal_for("IBSSO fixture-token").username == "carol"
    assert store.account("alice").tokens == []  # type: ignore[union-attr]


def test_an_oauth2_token_is_not_a_session_to_end(service: SignIn) -> None:
    token = service.mint_token("alice").token
    with pytest.raises(Unauthorized):
        service.end_session("alice", token)


# --- tokens belong to their account: resets drop them, snapshots copy them ------------------


def test_replacing_an_account_drops_its_tokens_and_copies_keep_them(store: Accounts, service: SignIn) -> None:
    token = service.mint_token("alice").token
    session = service.open_session("alice", "pw-alice").token
    snapshot = [account.copy() for account in store.snapshot()]
    auth = Authenticator(store, service)
    store.replace(make_store().snapshot())  # a global reset
    for header in (f"Bearer {token}", f"IBSSO {session}"):
        with pytest.raises(Unauthorized):
            auth.principal_for(header)
    store.replace(snapshot)  # a snapshot restore
    assert auth.principal_for(f"Bearer {token}").username == "alice"
    assert auth.principal_for(f"IBSSO {session}").username == "alice"


def test_a_snapshot_does_not_share_a_sessions_activity(store: Accounts, service: SignIn, clock: ManualClock) -> None:
    session = service.open_session("alice", "pw-alice")
    copy = store.snapshot()
    clock.advance(40)
    Authenticator(store, service).principal_for(f"IBSSO {session.token}")
    copied = next(iter(copy[0].grants.values()))
    assert (copied.last_used, session.last_used) == (0.0, 40.0)


def test_removing_an_account_forgets_its_tokens_and_clients(store: Accounts, service: SignIn) -> None:
    token = service.mint_token("alice").token
    store.remove_account("alice")
    assert store.grant_for(token) is None and store.client("app") is None


def test_client_ids_clash_with_other_accounts_clients_and_usernames(store: Accounts) -> None:
    for account in (Account("carol", "pw", oauth2_clients=[OAuth2Client("app", "x")]),
                    Account("carol", "pw", oauth2_clients=[OAuth2Client("bob", "x")]),
                    Account("app", "pw")):
        with pytest.raises(InvalidArgument) as caught:
            store.add_account(account)
        assert caught.value.validation_errors in ({"oauth2Clients": ["already used by another account"]},
                                                  {"username": ["already used by another account"]})


def test_the_admin_listing_never_shows_a_token(service: SignIn, clock: ManualClock) -> None:
    minted = service.mint_token("alice", "reader")
    session = service.open_session("alice", "pw-alice")
    clock.advance(10)
    listed = service.issued("alice")
    assert listed == [
        {"account": "alice", "kind": "oauth2", "token": mask(minted.token), "clientId": "reader",
         "scopes": [LOGS], "expiresInSeconds": 90.0},
        {"account": "alice", "kind": "ibsso", "token": mask(session.token), "clientId": None, "scopes": None,
         "expiresInSeconds": 40.0},
    ]
    assert minted.token not in repr(listed) and session.token not in repr(listed)
    clock.advance(45)
    assert [entry["kind"] for entry in service.issued()] == ["oauth2"]  # the session lapsed


def test_grant_expiry_rules() -> None:
    token = Grant("oauth2", "t" * 20, None, issued_at=10.0, lifetime=5.0, last_used=10.0)
    token.touch(14.0)
    assert token.alive(14.9) and not token.alive(15.0)  # use does not extend a token
    session = Grant("ibsso", "s" * 20, None, issued_at=10.0, lifetime=5.0, last_used=10.0)
    session.touch(14.0)
    assert session.alive(18.9) and not session.alive(19.0)


# --- fixture documents ----------------------------------------------------------------------


def document(**fields: object) -> dict[str, object]:
    return {"accounts": [{"username": "u", "password": "p", **fields}]}


def test_fixture_keys_with_scopes_and_clients_load_and_export_as_written() -> None:
    raw = document(apiKeys=["plain", {"key": "limited", "scopes": [LOGS]}, {"key": "none", "scopes": []},
                            {"key": "every"}],
                   oauth2Clients=[{"clientId": "c1", "clientSecret": "s1"},
                                  {"clientId": "c2", "clientSecret": "s2", "scopes": [MANAGE]}])
    (account,) = accounts_from_document(raw, "f.json")
    assert account.api_keys == ["plain", "limited", "none", "every"]
    assert account.key_scopes == {"limited": (LOGS,), "none": ()}
    assert account.oauth2_clients == [OAuth2Client("c1", "s1"), OAuth2Client("c2", "s2", (MANAGE,))]
    exported = account.to_document()
    assert exported["apiKeys"] == ["plain", {"key": "limited", "scopes": [LOGS]}, {"key": "none", "scopes": []},
                                   "every"]
    assert exported["oauth2Clients"] == [{"clientId": "c1", "clientSecret": "s1"},
                                         {"clientId": "c2", "clientSecret": "s2", "scopes": [MANAGE]}]
    (again,) = accounts_from_document({"accounts": [exported]}, "export")
    assert (again.key_scopes, again.oauth2_clients) == (account.key_scopes, account.oauth2_clients)


def test_an_account_without_clients_exports_as_before() -> None:
    (account,) = accounts_from_document(document(apiKeys=["k"]), "f.json")
    assert "oauth2Clients" not in account.to_document()


@pytest.mark.parametrize(("fields", "message"), [
    ({"apiKeys": [{"scopes": [MANAGE]}]}, "apiKeys[0].key: must be a non-empty string"),
    ({"apiKeys": [{"key": "k", "scope": [MANAGE]}]}, "apiKeys[0]: unknown field 'scope'"),
    ({"apiKeys": [{"key": "k", "scopes": MANAGE}]}, "apiKeys[0].scopes: must be a list of scope names"),
    ({"apiKeys": [{"key": "k", "scopes": ["a b"]}]}, "apiKeys[0].scopes: must be a list of scope names"),
    ({"apiKeys": ["k", {"key": "k"}]}, "apiKeys: contains a duplicate"),
    ({"apiKeys": [3]}, "apiKeys[0]: must be a non-empty string"),
    ({"oauth2Clients": {}}, "oauth2Clients: must be a list"),
    ({"oauth2Clients": ["c"]}, "oauth2Clients[0]: must be an object"),
    ({"oauth2Clients": [{"clientId": "c"}]}, "oauth2Clients[0].clientSecret: must be a non-empty string"),
    ({"oauth2Clients": [{"clientId": "c", "clientSecret": "s", "secret": "x"}]},
     "oauth2Clients[0]: unknown field 'secret'"),
    ({"oauth2Clients": [{"clientId": "c", "clientSecret": "s"}, {"clientId": "c", "clientSecret": "t"}]},
     "oauth2Clients[1].clientId: 'c' appears twice"),
    ({"oauth2Clients": [{"clientId": "u", "clientSecret": "s"}]}, "oauth2Clients[0].clientId: is the account's"),
    ({"oauth2Clients": [{"clientId": "c", "clientSecret": "s", "scopes": [1]}]},
     "oauth2Clients[0].scopes: must be a list of scope names"),
])
def test_bad_keys_and_clients_are_named_in_one_line(fields: dict[str, object], message: str) -> None:
    with pytest.raises(FixtureError) as caught:
        accounts_from_document(document(**fields), "f.json")
    assert str(caught.value).startswith(f"f.json: account 'u': {message}")


def test_client_ids_are_unique_across_accounts_and_usernames() -> None:
    client = {"clientId": "shared", "clientSecret": "s"}
    for accounts in ([{"username": "a", "password": "p", "oauth2Clients": [client]},
                      {"username": "b", "password": "p", "oauth2Clients": [client]}],
                     [{"username": "shared", "password": "p"},
                      {"username": "b", "password": "p", "oauth2Clients": [client]}]):
        with pytest.raises(FixtureError, match="oauth2Clients: a value is already used by account"):
            accounts_from_document({"accounts": accounts}, "f.json")


# --- the lifetimes are settings ---------------------------------------------------------------------


def test_lifetimes_from_env_and_flags() -> None:
    assert (Settings().token_lifetime, Settings().session_idle) == (3600, 3600)
    env = Settings.from_env({"MOCK_OMNI_TOKEN_LIFETIME": "60", "MOCK_OMNI_SESSION_IDLE": "90"})
    assert (env.token_lifetime, env.session_idle) == (60, 90)
    args = build_parser().parse_args(["serve", "--token-lifetime", "7", "--session-idle", "8"])
    flags = settings_from_args(args)
    assert (flags.token_lifetime, flags.session_idle) == (7, 8)


@pytest.mark.parametrize(("argv", "message"), [
    (["--token-lifetime", "0"], "mock-omni: --token-lifetime: must be an integer from 1 to 315360000, got 0"),
    (["--session-idle", str(10**12)], "mock-omni: --session-idle: must be an integer from 1 to 315360000, got "
                                      "1000000000000"),
])
def test_bad_lifetimes_are_one_line_at_start_up(argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *argv]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_a_bad_lifetime_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ValueError, match="^MOCK_OMNI_TOKEN_LIFETIME: must be an integer from 1 to 315360000, got -5$"):
        Settings.from_env({"MOCK_OMNI_TOKEN_LIFETIME": "-5"})
    with pytest.raises(ValueError, match="^MOCK_OMNI_SESSION_IDLE: expected an integer, got 'soon'$"):
        Settings.from_env({"MOCK_OMNI_SESSION_IDLE": "soon"})
