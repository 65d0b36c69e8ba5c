"""A bounded soak: many keep-alive connections doing mixed reads, creates, promotions and demotions.

Every answer is checked as it arrives (statuses the contract allows, exactly one default in every
list); the caller checks the state and the process afterwards. Bounded in time and in requests.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from defusedxml.ElementTree import fromstring

from mock_omni.domain.accounts import EXACTLY_ONE_DEFAULT

#: Page size of the soak's list calls; accounts grow past it in a long soak (make soak).
LIST_LIMIT = 1000
OPERATIONS = ("list", "list-default", "get", "get-xml", "create", "promote", "demote", "rename")
WEIGHTS = (20, 10, 25, 5, 4, 14, 14, 8)
ALLOWED = {200, 201, 400}


@dataclass
class Account:
    name: str
    authorization: str
    keys: list[str]


@dataclass
class Result:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    #: Answers the contract does not allow, or lists without exactly one default.
    violations: list[str] = field(default_factory=list)
    transport_errors: int = 0
    #: Answers a fault rule accounts for, by (account, operation, status; 0 for a dropped connection).
    injected: Counter[tuple[str, str, int]] = field(default_factory=Counter)


#: Whether an answer (status, 0 for a dropped connection) to (account, operation) may be an injected fault.
Injected = Callable[[str, str, int], bool]


def _none_injected(account: str, op: str, status: int) -> bool:
    return False


class Connection:
    """One keep-alive HTTP/1.1 connection. httpx's async pool serialises 64 connections (~130 req/s
    here); this reads our server's answers, which always carry Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer, parts.netloc)

    async def request(self, method: str, path: str, headers: dict[str, str], body: object = None) -> Answer:
        if body is None:
            return await self.raw(method, path, headers, b"")
        return await self.raw(method, path, {**headers, "Content-Type": "application/json"}, json.dumps(body).encode())

    async def raw(self, method: str, path: str, headers: dict[str, str], data: bytes) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(data)}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return Answer(status, await self.reader.readexactly(length))

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass  # reset by the server: closed all the same


@dataclass
class Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.content)
        return data


async def _one(conn: Connection, account: Account, op: str, rng: random.Random, result: Result,
               injected: Injected) -> None:
    headers = {"Authorization": account.authorization}
    key = rng.choice(account.keys)
    if op == "list":
        response = await conn.request("GET", f"/omni/1/scenarios?limit={LIST_LIMIT}", headers)
    elif op == "list-default":
        response = await conn.request("GET", "/omni/1/scenarios?isDefault=true", headers)
    elif op == "get":
        response = await conn.request("GET", f"/omni/1/scenarios/{key}", headers)
    elif op == "get-xml":
        response = await conn.request("GET", f"/omni/1/scenarios/{key}", {**headers, "Accept": "application/xml"})
    elif op == "create":
        body = {"name": f"soak {rng.random()}", "flow": [{"from": "soak", "channel": "SMS"}],
                "default": rng.random() < 0.3}
        response = await conn.request("POST", "/omni/1/scenarios", headers, body)
        if response.status_code == 201:
            account.keys.append(str(response.json()["key"]))
    elif op == "promote":
        response = await conn.request("PUT", f"/omni/1/scenarios/{key}", headers, {"default": True})
    elif op == "demote":
        response = await conn.request("PUT", f"/omni/1/scenarios/{key}", headers, {"default": False})
    else:
        response = await conn.request("PUT", f"/omni/1/scenarios/{key}", headers, {"name": f"renamed {op}"})
    status = response.status_code
    result.requests += 1
    result.statuses[status] += 1
    result.by_operation[op] += 1
    if injected(account.name, op, status):
        result.injected[(account.name, op, status)] += 1
        return
    if status not in ALLOWED or (status == 201) != (op == "create"):
        result.violations.append(f"{op}: {status} {response.text[:200]}")
    elif status == 400 and not (op == "demote" and EXACTLY_ONE_DEFAULT in response.text):
        result.violations.append(f"{op}: unexpected 400 {response.text[:200]}")
    elif op.startswith("list"):
        scenarios = response.json()["scenarios"]
        assert isinstance(scenarios, list)
        defaults = [s["default"] for s in scenarios].count(True)
        # A full page of a long account may end before the default: then it shows none, never two.
        whole = op == "list-default" or len(scenarios) < LIST_LIMIT
        if defaults > 1 or (defaults == 0 and whole):
            result.violations.append(f"{op}: {defaults} defaults in {response.text[:300]}")
    elif op == "get-xml" and fromstring(response.content, forbid_dtd=True).tag != "scenario":
        result.violations.append(f"get-xml: not a scenario {response.text[:200]}")
    elif op == "promote" and response.json()["default"] is not True:
        result.violations.append(f"promote answered default=false: {response.text[:200]}")


async def _connection(url: str, accounts: list[Account], deadline: float, max_requests: int,
                      seed: int, result: Result, injected: Injected) -> None:
    rng = random.Random(seed)
    conn = await Connection.open(url)
    try:
        for _ in range(max_requests):
            if time.monotonic() >= deadline:
                return
            op = rng.choices(OPERATIONS, WEIGHTS)[0]
            account = rng.choice(accounts)
            try:
                await asyncio.wait_for(_one(conn, account, op, rng, result, injected), 30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                result.transport_errors += 1
                if injected(account.name, op, 0):
                    result.injected[(account.name, op, 0)] += 1
                else:
                    result.violations.append(f"{op}: transport error {exc!r}")
                await conn.close()
                try:
                    conn = await Connection.open(url)
                except OSError:
                    return  # the server is gone (a test killed it)
    finally:
        await conn.close()


async def soak(url: str, accounts: list[Account], seconds: float, connections: int = 64,
               max_requests_per_connection: int = 100_000, injected: Injected = _none_injected,
               result: Result | None = None) -> Result:
    """Run ``connections`` keep-alive clients for ``seconds`` (or until each sent its maximum)."""
    result = result or Result()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(
        _connection(url, accounts, deadline, max_requests_per_connection, seed, result, injected)
        for seed in range(connections)
    ))
    return result
