"""A rate limit: so many calls per so many seconds (ratelimit.py enforces them; routes.py states the vendor's)."""

from __future__ import annotations

from dataclasses import dataclass

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class Rule:
    count: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.count}/{format_seconds(self.seconds)}"


def format_seconds(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        size = UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds}s"
