"""One entry of the log: a call as it came (or an event of the mock's own), with the time and the
randomness it is applied with, so that every replica applying it gets the same answer and state.

Encoded as a JSON head, a newline, and the raw body (bytes, kept as they came).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import orjson

#: The kinds of entry (what replica.py applies them with).
SEED = "seed"  # a new log: every part of the state back to the fixtures it started with
VENDOR = "vendor"  # a vendor call (api/dispatcher.py)
RESUME = "resume"  # the rest of a vendor call held by a delay fault
ADMIN = "admin"  # a change through the web app (the admin API)
TICK = "tick"  # the messages' transitions that are due at its time
ATTEMPT = "attempt"  # a pushed report's attempt, by the replica that sent it
GONE = "gone"  # a replica stopped without a word: the reports it was to send never go out
UNANSWERED = "unanswered"  # a call answered 500 because Redis could not take it: for the journal


def new_seed() -> bytes:
    """An entry's seed. Tokens and generated credentials are drawn from it (domain/entropy.py): from the OS
    (0.3 us; a user-space generator would be predictable, and a keyed hash costs more)."""
    return os.urandom(16)


@dataclass
class Entry:
    kind: str
    #: The replica that appended it.
    origin: str
    #: The appending replica's clock source and wall clock when it made the entry.
    time: float
    wall: float
    seed: bytes = field(default_factory=new_seed)
    method: str = ""
    path: str = ""
    query: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    #: Anything else the kind needs (a fence ticket, an attempt, settings).
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        head = {"k": self.kind, "o": self.origin, "t": self.time, "w": self.wall, "s": self.seed.hex(),
                "m": self.method, "p": self.path, "q": self.query.decode("latin-1"),
                "h": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in self.headers],
                "x": self.extra}
        return orjson.dumps(head) + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        head_end = raw.find(b"\n")
        head = orjson.loads(raw[:head_end])
        return cls(head["k"], head["o"], float(head["t"]), float(head["w"]), bytes.fromhex(head["s"]),
                   head["m"], head["p"], head["q"].encode("latin-1"),
                   [(name.encode("latin-1"), value.encode("latin-1")) for name, value in head["h"]],
                   raw[head_end + 1:], head["x"])


