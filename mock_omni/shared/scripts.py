"""The Lua scripts, composed from shared/lua: each vendor operation is one script (call.lua around the
operation's part), so one call is one round trip and atomic across replicas. The libraries (journal.lua,
bucket.lua, grants.lua) are functions the scripts share, put in front of those that call them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

#: What call.lua uses: journal entries, buckets and the clock, issued tokens.
CALL_LIBRARIES = ("journal", "bucket", "grants")


@dataclass(frozen=True)
class Script:
    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())


def _source(name: str) -> str:
    return resources.files("mock_omni.shared").joinpath(f"lua/{name}").read_text("utf-8")


@cache
def call(operation: str) -> Script:
    """The script of one operation (lua/ops/NAME.lua) inside the checks every call makes."""
    text = _source(f"ops/{operation}.lua")
    precheck, _, body = text.partition("-- operation\n")
    precheck = precheck.partition("-- precheck\n")[2]
    template = _source("call.lua")
    for marker, part in (("-- precheck\n", precheck), ("-- operation\n", body)):
        assert template.count(marker) == 1, marker
        template = template.replace(marker, part)
    return Script("".join(_source(f"{library}.lua") for library in CALL_LIBRARIES) + template)


@cache
def named(name: str, *libraries: str) -> Script:
    """A script of its own (lua/NAME.lua), after the libraries it calls."""
    return Script("".join(_source(f"{library}.lua") for library in libraries) + _source(f"{name}.lua"))
