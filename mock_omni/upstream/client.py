"""The one way to the upstream: httpx with verified TLS, timeouts and retries on 429.

Plain ``http`` goes only to loopback addresses unless ``allow_http`` is given: an upstream in
real use is the vendor over ``https``, and credentials must not cross a network in clear.
Certificates are verified against ``ca_file`` (``--upstream-ca``), else ``SSL_CERT_FILE``,
else the system's store. Every failure to reach the upstream is an ``UpstreamUnusable`` with
one sentence (unreachable, certificate, time-out), which the CLI prints with exit status 2.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from . import DEFAULT_RETRIES, DEFAULT_TIMEOUT

RETRY_FALLBACK = 1.0
#: A Retry-After longer than this is not waited for: the 429 is the answer.
MAX_RETRY_WAIT = 120.0
#: Request headers a proxy never forwards (RFC 9110 7.6.1), plus Host (the upstream's own is sent).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
    "proxy-authorization", "proxy-authenticate", "host", "content-length",
})


class UpstreamUnusable(Exception):
    """The upstream cannot be used at all (exit status 2): the message is one line."""


@dataclass(frozen=True)
class Reply:
    """One answer, as a client sees it: status, headers (lower-case names, in order) and decoded body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_http: bool = False) -> str:
    """``url`` without a trailing slash, or UpstreamUnusable naming what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number from 0 to 65535 raises here
    except ValueError as error:
        raise UpstreamUnusable(f"--upstream: not a URL ({error})") from None
    if port == 0:
        raise UpstreamUnusable("--upstream: port 0 is no one's")
    if parts.username is not None or parts.password is not None:
        # It would be printed in every message and written in every report: credentials go in --authorization.
        raise UpstreamUnusable("--upstream: must not hold credentials (user:password@); use --authorization")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamUnusable(f"--upstream: must be an http:// or https:// URL, got {url!r}")
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise UpstreamUnusable(
            f"--upstream: plain http to {parts.hostname} would send credentials in clear; use https, "
            "or --allow-http if you mean it")
    if parts.query or parts.fragment:
        raise UpstreamUnusable(f"--upstream: must not have a query or fragment, got {url!r}")
    return url.rstrip("/")


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification on: ``ca_file``, else ``SSL_CERT_FILE``, else the system's trust store."""
    cafile = ca_file or os.environ.get("SSL_CERT_FILE") or None
    if cafile is not None and not Path(cafile).is_file():
        flag = "--upstream-ca" if ca_file else "SSL_CERT_FILE"
        raise UpstreamUnusable(f"{flag}: {Path(cafile).absolute()}: file not found")
    try:
        return ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, ValueError) as error:
        flag = "--upstream-ca" if ca_file else "SSL_CERT_FILE"
        raise UpstreamUnusable(f"{flag}: {cafile}: not a CA bundle ({error})") from None


def retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); RETRY_FALLBACK if absent."""
    if not value:
        return RETRY_FALLBACK
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit alone takes "²", which float() refuses
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return RETRY_FALLBACK


class Upstream:
    """Calls to one upstream. ``sleep`` is injectable so the 429 path is testable without waiting."""

    def __init__(self, url: str, *, ca_file: str | None = None, allow_http: bool = False,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = check_url(url, allow_http)
        self.retries = retries
        self._sleep = sleep
        # No proxies from the environment: calls go to the upstream named, nowhere else. No redirects
        # followed: a 3xx is an answer to compare, and following one could carry credentials elsewhere.
        self._client = httpx.Client(verify=tls_context(ca_file), timeout=timeout, trust_env=False,
                                    follow_redirects=False)
        # httpx's default headers (Accept: */*, Accept-Encoding, User-Agent) would change what a probe asks
        # and what a recorded call says: only the headers given are sent.
        self._client.headers.clear()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, query: str = "",
             headers: Mapping[str, str] | list[tuple[str, str]] | None = None, body: bytes = b"", *,
             raw: bool = False, retries: int | None = None) -> Reply:
        """One call, retried on 429 after Retry-After (``retries``, else the client's); ``raw`` keeps the body
        as it came (still encoded) and adds no header."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        # And those the Connection header names: hop-by-hop for this connection only (RFC 9110 7.6.1).
        named = {token.strip().lower() for name, value in pairs if name.lower() == "connection"
                 for token in value.split(",")}
        sent = [(name, value) for name, value in pairs if name.lower() not in HOP_BY_HOP | named]
        url = self.url + path + (f"?{query}" if query else "")
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            reply = self._once(method, url, sent, body, raw)
            if reply.status != 429 or attempt == retries:
                return reply
            wait = retry_after(reply.header("retry-after"))
            if wait > MAX_RETRY_WAIT:
                return reply
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, raw: bool) -> Reply:
        try:
            request = self._client.build_request(method, url, headers=headers, content=body or None)
        except (httpx.InvalidURL, ValueError) as error:
            raise UpstreamUnusable(f"{self.url}: cannot ask {method} {url[len(self.url):]}: {error}") from None
        if not raw:
            # A probe's answer is compared as sent: no compression asked for.
            request.headers.setdefault("accept-encoding", "identity")
        try:
            response = self._client.send(request, stream=True)
            try:
                content = b"".join(response.iter_raw()) if raw else response.read()
            finally:
                response.close()
        except httpx.ConnectError as error:
            raise UpstreamUnusable(self._why(error)) from None
        except httpx.TimeoutException:
            raise UpstreamUnusable(f"{self.url}: no answer in time") from None
        except httpx.HTTPError as error:
            raise UpstreamUnusable(f"{self.url}: {error.__class__.__name__}: {error}") from None
        return Reply(response.status_code,
                     tuple((name.decode("latin-1").lower(), value.decode("latin-1"))
                           for name, value in response.headers.raw),
                     content)

    def _why(self, error: httpx.ConnectError) -> str:
        text = str(error)
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, ssl.SSLCertVerificationError):
                return (f"{self.url}: certificate not trusted ({cause.verify_message}); give its CA with "
                        "--upstream-ca FILE or SSL_CERT_FILE")
            if isinstance(cause, ssl.SSLError):
                return f"{self.url}: TLS failed ({cause.reason or cause})"
            cause = cause.__cause__ or cause.__context__
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return (f"{self.url}: certificate not trusted; give its CA with --upstream-ca FILE or SSL_CERT_FILE")
        return f"{self.url}: unreachable ({text or error.__class__.__name__})"
