"""Credentials on Redis: who an Authorization header claims to be, and what proves it.

The claim is read here, without a round trip in the common case: the username of Basic
credentials is in the header, and the account of an API key or token is looked up once by
digest and remembered. The proof is checked by the call's script (call.lua) against the
account's own hash, so a credential removed or moved on another replica stops working on
the next call everywhere; a remembered lookup that has gone stale is looked up again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import Unauthorized
from ..vendor.auth import parse_basic
from .link import Link, as_bytes
from .store import digest

_CACHE_LIMIT = 4096
# As vendor/auth.py: no real credential is this long; such headers are read each time.
_CACHEABLE_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Claim:
    username: str
    #: b: password, k: API key, t: token (call.lua compares the digest with the account's).
    kind: str
    digest: str


class SharedAuthenticator:
    def __init__(self, link: Link) -> None:
        self.link = link
        self._cache: dict[str, Claim] = {}

    def account_for(self, authorization: str | None) -> str:
        """The account the header claims (not yet proven: the call's script proves it), or 401."""
        return self.claim(authorization).username

    def claim(self, authorization: str | None) -> Claim:
        if not authorization:
            raise Unauthorized()
        claim = self._cache.get(authorization)
        if claim is None:
            claim = self._read(authorization)
            if len(authorization) <= _CACHEABLE_LENGTH:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[authorization] = claim
        return claim

    def forget(self, authorization: str | None) -> bool:
        """Drop what was remembered; whether a fresh look-up could now find another account."""
        claim = self._cache.pop(authorization or "", None)
        return claim is not None and claim.kind != "b"

    def _read(self, authorization: str) -> Claim:
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if credentials:
            if scheme == "basic":
                pair = parse_basic(credentials)
                if pair is not None:
                    return Claim(pair[0], "b", digest(pair[1]))
            elif scheme in ("app", "ibsso", "bearer"):
                kind = "k" if scheme == "app" else "t"
                secret = digest(credentials)
                keys = self.link.keys
                with self.link.guard():
                    owner = as_bytes(self.link.client.hget(keys.apikeys if kind == "k" else keys.tokens, secret))
                if owner is not None:
                    return Claim(owner.decode("utf-8", "surrogatepass"), kind, secret)
        raise Unauthorized()
