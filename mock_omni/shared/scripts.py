"""The Lua scripts, composed from shared/lua: each vendor operation is one script (call.lua
around the operation's part), so one call is one round trip and atomic across replicas."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources


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
    return Script(_source("journal.lua") + template)


@cache
def named(name: str, with_journal: bool = False) -> Script:
    """A script of its own (lua/NAME.lua)."""
    return Script((_source("journal.lua") if with_journal else "") + _source(f"{name}.lua"))
