"""Raw HTTP/1.1 over a socket, for what no client library will send: lying lengths, broken chunks."""

from __future__ import annotations

import socket

TIMEOUT = 10.0


def exchange(port: int, data: bytes, *, half_close: bool = False, timeout: float = TIMEOUT) -> bytes:
    """Send ``data``, optionally close our side, and read until the server closes (bounded by ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(data)
            if half_close:
                conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (413) and closed while we were still sending
        received = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                return received
            received += chunk
    return received


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split what came back into (status, headers, body) by Content-Length."""
    found = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        pairs = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
        length = int(headers.get("content-length", "0"))
        found.append((status, headers, rest[:length]))
        raw = rest[length:]
    return found


def request(method: str, path: str, port: int, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part) + b"0\r\n\r\n"


def read_one(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read exactly one response (it may arrive in several segments) from a keep-alive connection."""
    return read_one_after(conn, b"")


def read_one_after(conn: socket.socket, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """``read_one``, its first bytes ``data`` already read."""
    while True:
        found = responses(data)
        if found and len(found[0][2]) == int(found[0][1].get("content-length", "0")):
            return found[0]
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
