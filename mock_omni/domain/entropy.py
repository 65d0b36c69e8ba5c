"""Where every random value of the state comes from: IDs, scenario keys, tokens, generated credentials.

One source per context. In one process (the memory store) it is the operating system's, through
a generator seeded from it (IDs must be unique, not secret; tokens come from ``secrets``). Replicas
on Redis apply the same log of calls (replication/), and must draw the same values for the same
call: while a call of the log is applied, the source is one seeded by that call's entry.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import secrets
from collections.abc import Callable
from contextvars import ContextVar, Token

# RFC 9562's version 4 layout: version bits (48-51 from the left) 0100, variant bits (64-65) 10.
_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_VERSION_4 = (0x4 << 76) | (0x2 << 62)


class Entropy:
    """Random values; ``seed`` None: the operating system's (secret tokens from ``secrets``)."""

    __slots__ = ("_bits", "_seed", "_counter")

    def __init__(self, seed: bytes | None = None) -> None:
        self._seed = seed
        # Made on the first ID: most calls draw none (a PUT, a read), and making one is 5 us (a Mersenne
        # Twister's state). IDs need 122 random bits without a system call each (os.urandom was a sixth of a send).
        self._bits: Callable[[int], int] | None = None
        self._counter = 0

    def uuid4(self) -> str:
        """A random UUID (version 4) as text, like the vendor's message and bulk IDs."""
        bits = self._bits
        if bits is None:
            bits = self._bits = random.Random(self._seed if self._seed is not None else os.urandom(32)).getrandbits
        h = ((bits(128) & _KEEP) | _VERSION_4).to_bytes(16, "big").hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def secret(self, size: int) -> bytes:
        """``size`` bytes for a secret: the OS's, or a keyed hash of the seed (not the ID generator's)."""
        if self._seed is None:
            return secrets.token_bytes(size)
        self._counter += 1
        out = b""
        while len(out) < size:
            out += hashlib.blake2b(self._counter.to_bytes(8, "big") + len(out).to_bytes(4, "big"),
                                   key=self._seed[:64], digest_size=64).digest()
        return out[:size]

    def token_hex(self, size: int) -> str:
        return self.secret(size).hex()

    def token_urlsafe(self, size: int) -> str:
        return base64.urlsafe_b64encode(self.secret(size)).rstrip(b"=").decode("ascii")

    def secret_uuid4(self) -> str:
        """A UUID (version 4) from secret bytes: a session token."""
        h = ((int.from_bytes(self.secret(16), "big") & _KEEP) | _VERSION_4).to_bytes(16, "big").hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_SYSTEM = Entropy()
_CURRENT: ContextVar[Entropy] = ContextVar("mock_omni_entropy", default=_SYSTEM)


def current() -> Entropy:
    """The source in force: the OS's, or the seeded one of the log entry being applied."""
    return _CURRENT.get()


def use(source: Entropy) -> Token[Entropy]:
    """Draw from ``source`` until ``restore(token)`` (replicas applying an entry: its seed's source)."""
    return _CURRENT.set(source)


def restore(token: Token[Entropy]) -> None:
    _CURRENT.reset(token)
