"""Credentials on Redis: who an Authorization header claims to be, and what proves it.

The claim is read here, without a round trip in the common case: the username of Basic
credentials is in the header, and the account of an API key or token is looked up once by
digest and remembered. The proof is checked by the call's script (call.lua) against the
account's own hash, so a credential removed or moved on another replica stops working on
the next call everywhere; a remembered lookup that has gone stale is looked up again. The
script also checks the credential's scopes (the 403), and an issued token's life on the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.credentials import Principal
from ..domain.errors import Unauthorized
from ..vendor.auth import CACHE_LIMIT, CACHEABLE_LENGTH, parse_basic
from ..vendor.memo import Memo
from .link import Link
from .store import decoded, digest

#: Proof kinds of call.lua by scheme: b password, k API key, i IBSSO token, o Bearer token.
KINDS = {"basic": "b", "app": "k", "ibsso": "i", "bearer": "o"}


@dataclass(frozen=True, slots=True)
class Claim:
    username: str
    #: call.lua's proof kind (KINDS).
    kind: str
    digest: str


class SharedAuthenticator:
    def __init__(self, link: Link) -> None:
        self.link = link
        self._cache: Memo[str, Claim] = Memo(CACHE_LIMIT, CACHEABLE_LENGTH)

    def principal_for(self, authorization: str | None) -> Principal:
        """The account the header claims, with every scope: the call's script proves the claim and checks
        the scopes the credential holds (401 and 403 come from there). 401 if it names no account."""
        return Principal(self.claim(authorization).username)

    def claim(self, authorization: str | None) -> Claim:
        if not authorization:
            raise Unauthorized()
        claim = self._cache.get(authorization)
        if claim is None:
            claim = self._cache.remember(authorization, self._read(authorization), len(authorization))
        return claim

    def forget(self, authorization: str | None) -> bool:
        """Drop what was remembered; whether a fresh look-up could now find another account."""
        claim = self._cache.pop(authorization or "", None)
        return claim is not None and claim.kind != "b"

    def _read(self, authorization: str) -> Claim:
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        kind = KINDS.get(scheme)
        if credentials and kind is not None:
            if kind == "b":
                pair = parse_basic(credentials)
                if pair is not None:
                    return Claim(pair[0], kind, digest(pair[1]))
            else:
                secret = digest(credentials)
                keys = self.link.keys
                with self.link.guard():
                    if kind == "k":
                        owners = [self.link.client.hget(keys.apikeys, secret)]
                    else:
                        # A fixture token, or one the mock issued (a session, an OAuth2 token).
                        pipe = self.link.client.pipeline(transaction=False)
                        pipe.hget(keys.tokens, secret)
                        pipe.hget(keys.grants, secret)
                        owners = pipe.execute()
                owner = next((found for found in owners if found is not None), None)
                if isinstance(owner, bytes):
                    return Claim(decoded(owner), kind, secret)
        raise Unauthorized()
