"""What a credential is and what it may do: scopes, OAuth2 clients, issued tokens, the principal. No HTTP.

The vendor's rule (its API authorization page and every operation's ``x-scopes``): an
authenticated call needs a credential holding **at least one** of the operation's
scopes. An API key carries the scopes given to it; Basic credentials, fixture tokens and
IBSSO sessions carry their account's (every scope); an OAuth2 token carries its client's.

``Scopes`` is a tuple of scope names, or None for every scope (a plain-string API key,
an account's own username and password).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import Literal

Scopes = tuple[str, ...] | None

#: The vendor's x-scopes (its OMNI OpenAPI): of every scenario call; of sending and reading reports; of logs.
MANAGE = ("omni-failover:manage",)
SEND = ("message:send", "omni-failover:message:send", "omni-failover:manage")
LOGS = ("omni-failover:logs:read", "omni-failover:manage")
#: Every scope the vendor's OMNI API names: a token asked for any other is ``invalid_scope`` (RFC 6749 5.2:
#: "unknown"), whatever the client holds; a client holding every scope holds these.
KNOWN_SCOPES = frozenset((*MANAGE, *SEND, *LOGS))

#: An IBSSO session (``POST /auth/1/session``) or an OAuth2 access token (``POST /auth/1/oauth2/token``).
GrantKind = Literal["ibsso", "oauth2"]


def allows(held: Scopes, needed: tuple[str, ...]) -> bool:
    """Whether a credential holding ``held`` may call an operation needing one of ``needed``."""
    return held is None or not needed or any(scope in held for scope in needed)


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets (time depends on the length only, not on the content)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def secret_digest(secret: str) -> bytes:
    # Secrets are indexed by digest, so a dict lookup leaks nothing of the secret.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class OAuth2Client:
    """A fixture's OAuth2 client (``oauth2Clients``); its tokens carry its scopes."""

    client_id: str
    client_secret: str
    scopes: Scopes = None

    def to_document(self) -> dict[str, object]:
        document: dict[str, object] = {"clientId": self.client_id, "clientSecret": self.client_secret}
        if self.scopes is not None:
            document["scopes"] = list(self.scopes)
        return document


@dataclass(slots=True)
class Grant:
    """A token the mock issued: an IBSSO session or an OAuth2 access token, alive on the mock's clock.

    An OAuth2 token lives ``lifetime`` seconds from issue; a session lives until ``lifetime``
    seconds pass without a call using it (its inactivity period).
    """

    kind: GrantKind
    token: str
    scopes: Scopes
    issued_at: float
    lifetime: float
    last_used: float
    #: The OAuth2 client that obtained it (None for sessions).
    client_id: str | None = None

    @property
    def digest(self) -> bytes:
        return secret_digest(self.token)

    def expires_at(self) -> float:
        return (self.issued_at if self.kind == "oauth2" else self.last_used) + self.lifetime

    def alive(self, now: float) -> bool:
        return now < self.expires_at()

    def touch(self, now: float) -> None:
        """A call used it: a session's inactivity period starts again."""
        self.last_used = now

    def copy(self) -> Grant:
        return replace(self)

    def view(self, now: float) -> dict[str, object]:
        """What the admin API lists: never the token itself, only its first characters."""
        return {
            "kind": self.kind, "token": mask(self.token), "clientId": self.client_id,
            "scopes": None if self.scopes is None else list(self.scopes),
            "expiresInSeconds": max(0.0, round(self.expires_at() - now, 3)),
        }


def mask(secret: str) -> str:
    """Enough of a secret to tell two apart in a listing, not enough to use it."""
    return f"{secret[:4]}***" if len(secret) >= 16 else "***"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a credential proves and what it may call."""

    username: str
    scopes: Scopes = None
    #: The issued token behind the credential, if it is one (then it must still be alive).
    grant: Grant | None = None

    def allows(self, needed: tuple[str, ...]) -> bool:
        return allows(self.scopes, needed)
