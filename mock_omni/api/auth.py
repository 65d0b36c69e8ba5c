"""The four Authorization schemes the vendor accepts on every OMNI call, and what each credential may call.

``Basic base64(user:password)``, ``App <apiKey>``, ``IBSSO <token>``, ``Bearer <token>``.
IBSSO takes fixture tokens and sessions from ``POST /auth/1/session``; Bearer takes fixture
tokens and OAuth2 access tokens from ``POST /auth/1/oauth2/token``. The result is a
``Principal``: the account and the credential's scopes (the dispatcher answers 403 when
they miss the operation's).

Secrets are compared in constant time; API keys and tokens are found by digest.
A verdict is cached per distinct header value from its second coming (clients repeat one header), and
the cache is dropped whenever any credential changes; an issued token's verdict is
checked against the clock on every use (it may expire while cached).
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import cast

from ..domain.accounts import Accounts
from ..domain.clock import Clock
from ..domain.credentials import GrantKind, Principal, same_secret
from ..domain.errors import Unauthorized
from ..domain.memo import MISSING, Memo
from ..domain.signin import SignIn

#: Verdicts kept, and the longest header value kept (no real credential is longer: such values are
#: checked each time; memo.py says why).
CACHE_LIMIT = 4096
CACHEABLE_LENGTH = 1024


def parse_basic(credentials: str) -> tuple[str, str] | None:
    """(username, password) from a Basic credential, or None if it is not well formed."""
    try:
        decoded = b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class Authenticator:
    def __init__(self, store: Accounts, signin: SignIn | None = None) -> None:
        self._accounts = store
        self._signin = signin or SignIn(store, Clock())
        self._cache: Memo[str, Principal | str] = Memo(CACHE_LIMIT, CACHEABLE_LENGTH)
        self._cache_revision = -1

    def account_for(self, authorization: str | None) -> str:
        """The username that ``authorization`` proves, or raise 401 UNAUTHORIZED."""
        return self.principal_for(authorization).username

    def principal_for(self, authorization: str | None) -> Principal:
        """Who ``authorization`` proves and with which scopes, or raise 401 UNAUTHORIZED (with the reason)."""
        if authorization is None:
            raise Unauthorized().because("no Authorization header")
        if not authorization:
            # VendorRequest.read leaves "" for two Authorization headers.
            raise Unauthorized().because("an empty Authorization header, or two of them (ambiguous)")
        if self._cache_revision != self._accounts.credentials_revision:
            self._cache.clear()
            self._cache_revision = self._accounts.credentials_revision
        found = self._cache.get(authorization, MISSING)
        if found is MISSING:
            verdict = self._check(authorization)
            if not isinstance(verdict, _Fleeting):
                self._cache.remember(authorization, verdict, len(authorization))
        else:
            verdict = cast("Principal | str", found)
            # An issued token may have expired since it was cached (checking it records the use).
            if isinstance(verdict, Principal) and verdict.grant is not None and not self._signin.use(verdict):
                verdict = self._signin.refusal(verdict.grant.kind, authorization.strip().partition(" ")[2].strip())
        if isinstance(verdict, str):
            raise Unauthorized().because(str(verdict))  # a plain str, not _Fleeting
        return verdict

    def _check(self, authorization: str) -> Principal | str:
        """The principal ``authorization`` proves, or why it proves none."""
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if not credentials:
            # One word: a scheme without its credential, or (often) a credential without its scheme, which the
            # journal masks whole: never echoed here.
            if scheme in ("basic", "app", "ibsso", "bearer"):
                return f"the {scheme} scheme without a credential"
            return "an Authorization header of one word: no scheme (Basic, App, IBSSO or Bearer) before a credential"
        if scheme not in ("basic", "app", "ibsso", "bearer"):
            return f"the scheme {scheme!r} is none of Basic, App, IBSSO and Bearer"
        if scheme == "basic":
            pair = parse_basic(credentials)
            if pair is None:
                return "a Basic credential that is not base64 of username:password"
            account = self._accounts.account(pair[0])
            if account is None:
                # Compare anyway so an unknown user costs the same as a wrong password.
                same_secret(pair[1], pair[1])
                near = next((name for name in self._accounts.usernames() if name.lower() == pair[0].lower()), None)
                return f"Basic: no account named {pair[0]!r}" + (
                    "" if near is None else f" (usernames are case-sensitive: {near!r} differs only in case)")
            if same_secret(pair[1], account.password):
                return Principal(account.username)
            return f"Basic: the password of {account.username} is not the one given"
        if scheme == "app":
            account = self._accounts.account_for_api_key(credentials)
            if account is None or not _holds(account.api_keys, credentials):
                hint = self._other_scheme(credentials)
                return "App: no account has this API key" if hint is None else _Fleeting(f"App: {hint}")
            return Principal(account.username, account.key_scopes.get(credentials))
        account = self._accounts.account_for_token(credentials)
        if account is not None and _holds(account.tokens, credentials):
            return Principal(account.username)
        kind: GrantKind = "ibsso" if scheme == "ibsso" else "oauth2"
        principal = self._signin.principal(kind, credentials)
        if principal is not None:
            return principal
        hint = self._other_scheme(credentials, kind)
        shown = "IBSSO" if kind == "ibsso" else "Bearer"
        return _Fleeting(f"{shown}: {hint}" if hint is not None else self._signin.refusal(kind, credentials))

    def _other_scheme(self, credentials: str, kind: GrantKind | None = None) -> str | None:
        """What a credential refused under one scheme is under another (a session sent as Bearer, an API key as
        IBSSO: a common mistake), or None. Only on a refusal: never on the path of an accepted call."""
        account = self._accounts.account_for_api_key(credentials) if kind is not None else None
        if account is not None and _holds(account.api_keys, credentials):
            return f"this is an API key of {account.username}: send it as App <key>"
        account = self._accounts.account_for_token(credentials) if kind is None else None
        if account is not None and _holds(account.tokens, credentials):
            return f"this is a fixture token of {account.username}: send it as IBSSO <token> or Bearer <token>"
        found = self._accounts.grant_for(credentials)
        if found is None or found[1].kind == kind:
            return None
        what, scheme = (("an IBSSO session", "IBSSO") if found[1].kind == "ibsso"
                        else ("an OAuth2 access token", "Bearer"))
        return f"this is {what} of {found[0].username}: send it as {scheme} <token>"


class _Fleeting(str):
    """A refusal that changes while the credentials do not (how long ago a token ended, a session's wrong scheme
    while the session lives): asked anew at each call, never remembered."""

    __slots__ = ()


def _holds(secrets: list[str], candidate: str) -> bool:
    found = False
    for secret in secrets:
        found |= same_secret(candidate, secret)
    return found
