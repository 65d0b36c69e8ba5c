"""Where a pushed report may go: never to a mock's own admin API, and only where the operator allows.

A send accepts any ``http``/``https`` ``notifyUrl`` (the vendor's answer does not change); each attempt to
push there first resolves the URL's host once and checks the addresses it resolved to:

- **Never the admin API.** A path under ``/__admin`` (however it is spelt: percent-encoded, with dot
  segments, doubled slashes, any case) on an address of this machine (loopback, unspecified, or one a
  socket can bind: an address of one of its interfaces) is refused, however the host is spelt
  (``localhost``, ``127.1``, ``0x7f000001``, ``2130706433``, ``[::1]``, ``0.0.0.0``, a name resolving there).
- **Only where allowed** (``--webhook-allow``): host names, ``*.suffix``, addresses and CIDR networks,
  each with an optional port or port range. A name is allowed by a name rule, or when the address it
  resolved to is in an allowed network; a name that does not resolve is refused like any forbidden target,
  so a refusal says nothing of what exists there.

The attempt then connects to the address that was checked, never resolving the name again (DNS rebinding):
the URL carries the address, the ``Host`` header the original host, and https the original name for SNI
and the certificate check (httpx's ``sni_hostname`` extension).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..testing import ADMIN_PREFIX
from ..testing.admin_paths import reaches_admin

__all__ = ["ADMIN_REFUSED", "NOT_ALLOWED", "Refused", "Rule", "Target", "parse_allow", "resolve_targets"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The reasons a refused push is recorded with (never sent, never retried).
ADMIN_REFUSED = f"refused: the notifyUrl is a mock-omni admin API ({ADMIN_PREFIX}) on this machine"
#: The same text whatever the target: a refusal must not tell what listens where.
NOT_ALLOWED = "refused: not a destination --webhook-allow (MOCK_OMNI_WEBHOOK_ALLOW) allows"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PORTS = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
_NAME = re.compile(r"^(?:\*\.)?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class Refused(Exception):
    """A push that must not go out; ``reason`` is what its record says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rule:
    """One ``--webhook-allow`` item: anywhere (``*``), a host name, ``*.suffix`` or a network; and ports."""

    text: str
    anywhere: bool = False
    name: str | None = None
    #: ``.example.com`` for ``*.example.com`` (its subdomains, not the name itself).
    suffix: str | None = None
    network: IPNetwork | None = None
    ports: tuple[int, int] = (0, 65535)

    def allows(self, host: str, address: IPAddress | None, port: int) -> bool:
        if not self.ports[0] <= port <= self.ports[1]:
            return False
        if self.anywhere:
            return True
        if self.name is not None:
            return host == self.name
        if self.suffix is not None:
            return host.endswith(self.suffix)
        return address is not None and self.network is not None and _within(address, self.network)

    @property
    def by_name(self) -> bool:
        return self.name is not None or self.suffix is not None


def parse_rule(text: str) -> Rule:
    """A rule from its text; ValueError saying what is wrong with it."""
    item = text.strip()
    where, ports = item, (0, 65535)
    if item.startswith("["):  # [IPv6 or network]:port
        inside, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: an IPv6 address or network in brackets, then an optional :PORT")
        where, port_text = inside, rest[1:] if rest else None
    elif item.count(":") == 1:
        where, _, port_text = item.partition(":")
    else:  # no port, or a bare IPv6 address or network
        port_text = None
    if port_text is not None:
        found = _PORTS.match(port_text)
        low, high = (int(found[1]), int(found[2] or found[1])) if found else (-1, -1)
        if not found or not 1 <= low <= high <= 65535:
            raise ValueError(f"{text!r}: the port must be 1 to 65535, or a range such as 8000-8999")
        ports = (low, high)
    if where == "*":
        return Rule(item, anywhere=True, ports=ports)
    try:
        return Rule(item, network=ipaddress.ip_network(where, strict=False), ports=ports)
    except ValueError:
        pass
    name = where.lower().rstrip(".")
    if not _NAME.match(name) or "*" in name[1:] or name.replace(".", "").isdigit():
        raise ValueError(f"{text!r}: expected '*', a host name, '*.suffix', an address or a network "
                         f"(CIDR), with an optional :PORT or :LOW-HIGH")
    if name.startswith("*."):
        return Rule(item, suffix=name[1:], ports=ports)
    return Rule(item, name=name, ports=ports)


def parse_allow(items: Iterable[str]) -> tuple[Rule, ...]:
    """The rules of ``--webhook-allow``; none: anywhere."""
    return tuple(parse_rule(item) for item in items)


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: the URL with the checked address for host, and what keeps the original."""

    url: str
    #: The Host header: the original host (and port).
    host: str
    #: The name TLS is to verify (https to a name), else None.
    sni_hostname: str | None

    @property
    def extensions(self) -> dict[str, Any]:
        return {} if self.sni_hostname is None else {"sni_hostname": self.sni_hostname}


async def resolve_targets(url: str, rules: Sequence[Rule]) -> list[Target]:
    """The addresses ``url`` may be pushed to, in the resolver's order; ``Refused`` when none may.

    An error of the resolver (a name that does not exist) propagates as an ``OSError`` when the rules allow
    anywhere or the name itself: an attempt that failed, as before; under other rules it is a refusal."""
    import httpx

    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii").lower()
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 80)
    name = host.rstrip(".")
    open_to_all = not rules or any(rule.anywhere and rule.ports[0] <= port <= rule.ports[1] for rule in rules)
    allowed_by_name = any(rule.by_name and rule.allows(name, None, port) for rule in rules)
    loop = asyncio.get_running_loop()
    try:
        if is_address(host):  # a literal address in its usual form: nothing to look up (no executor thread)
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        else:
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        if open_to_all or allowed_by_name:
            raise
        raise Refused(NOT_ALLOWED) from None
    addresses: list[tuple[IPAddress, Any]] = []
    for family, _, _, _, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if all(address != seen for seen, _ in addresses):
                addresses.append((address, (family, sockaddr)))
    if _admin_path(parsed.raw_path) and any(_is_local(address, where) for address, where in addresses):
        raise Refused(ADMIN_REFUSED)
    allowed = [(address, where) for address, where in addresses
               if not rules or any(rule.allows(name, address, port) for rule in rules)]
    if not allowed:
        raise Refused(NOT_ALLOWED)
    shown_port = f":{parsed.port}" if parsed.port is not None else ""
    original = f"[{host}]" if ":" in host else host
    sni = name if parsed.scheme == "https" and not is_address(host) else None
    return [Target(str(parsed.copy_with(host=str(sockaddr[0]))), original + shown_port, sni)
            for _, (_, sockaddr) in allowed]


def _admin_path(raw_path: bytes) -> bool:
    """Whether a push's path (and query), as sent, would reach ``/__admin`` (testing/admin_paths.py)."""
    return reaches_admin(raw_path.decode("latin-1"))


def _is_local(address: IPAddress, where: tuple[int, Any]) -> bool:
    """An address of this machine: loopback, unspecified (0.0.0.0 reaches it), or one it can bind."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return True
    family, sockaddr = where
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((sockaddr[0], 0, *sockaddr[2:]))
    except OSError:
        return False
    return True


def _within(address: IPAddress, network: IPNetwork) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version == network.version and address in network


def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address as written (not a name to look up)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
