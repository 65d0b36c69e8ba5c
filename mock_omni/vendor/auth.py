"""The four Authorization schemes the vendor accepts on every OMNI call.

``Basic base64(user:password)``, ``App <apiKey>``, ``IBSSO <token>``, ``Bearer <token>``.
Secrets are compared in constant time; API keys and tokens are found by digest.
A verdict is cached per distinct header value (clients repeat one header), and
the cache is dropped whenever any credential changes.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode

from ..domain.errors import Unauthorized
from ..domain.store import Store

_CACHE_LIMIT = 4096
# uvicorn (httptools) takes header values of any length; caching megabyte-long ones would let
# 4096 requests pin gigabytes. No real credential is this long: such values are checked uncached.
_CACHEABLE_LENGTH = 1024


def parse_basic(credentials: str) -> tuple[str, str] | None:
    """(username, password) from a Basic credential, or None if it is not well formed."""
    try:
        decoded = b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class Authenticator:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, str | None] = {}
        self._cache_revision = -1

    def account_for(self, authorization: str | None) -> str:
        """The username that ``authorization`` proves, or raise 401 UNAUTHORIZED."""
        if not authorization:
            raise Unauthorized()
        if self._cache_revision != self._store.credentials_revision:
            self._cache.clear()
            self._cache_revision = self._store.credentials_revision
        try:
            username = self._cache[authorization]
        except KeyError:
            username = self._check(authorization)
            if len(authorization) <= _CACHEABLE_LENGTH:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[authorization] = username
        if username is None:
            raise Unauthorized()
        return username

    def _check(self, authorization: str) -> str | None:
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if not credentials:
            return None
        if scheme == "basic":
            pair = parse_basic(credentials)
            if pair is None:
                return None
            account = self._store.account(pair[0])
            if account is None:
                # Compare anyway so an unknown user costs the same as a wrong password.
                hmac.compare_digest(pair[1].encode(), pair[1].encode())
                return None
            ok = hmac.compare_digest(
                pair[1].encode("utf-8", "surrogatepass"), account.password.encode("utf-8", "surrogatepass")
            )
            return account.username if ok else None
        if scheme == "app":
            account = self._store.account_for_api_key(credentials)
            return account.username if account and _holds(account.api_keys, credentials) else None
        if scheme in ("ibsso", "bearer"):
            account = self._store.account_for_token(credentials)
            return account.username if account and _holds(account.tokens, credentials) else None
        return None


def _holds(secrets: list[str], candidate: str) -> bool:
    given = candidate.encode("utf-8", "surrogatepass")
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(secret.encode("utf-8", "surrogatepass"), given)
    return found
