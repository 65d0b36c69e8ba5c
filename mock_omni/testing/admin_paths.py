"""Whether a path, as some server on the way would read it, reaches an admin API (``/__admin``).

Used where the mock sends requests on others' behalf and must never reach an admin API: a pushed report
(api/webhook_targets.py) and a call ``mock-omni record`` forwards (upstream/record.py). More is refused
than a server would route, never less.
"""

from __future__ import annotations

from urllib.parse import unquote

from . import ADMIN_PREFIX

#: How many times a path is decoded at most (``%255F`` is ``%5F`` is ``_``: a proxy may decode once more).
MAX_DECODINGS = 8


def reaches_admin(path: str) -> bool:
    """``path`` (a query or fragment after it is ignored) decoded until it no longer changes, ``\\`` as ``/``,
    dot segments resolved, slashes merged, in any case: whether it is under ``/__admin``."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    for _ in range(MAX_DECODINGS):
        decoded = unquote(path, encoding="latin-1")
        if decoded == path:
            break
        path = decoded
    segments: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return ("/" + "/".join(segments)).lower().startswith(ADMIN_PREFIX.lower())
