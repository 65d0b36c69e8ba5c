"""Stand-ins for the vendor on loopback: a drifting proxy (plain or TLS, with a throwaway CA) and Prism.

The proxy forwards every call to a real mock-omni and changes a few answers on purpose: an extra
field in a scenario, the 404's text, the 401's Content-Type. Prism (npm ``@stoplight/prism-cli``,
installed by ``make prism`` into .cache/prism) serves the vendor's own OpenAPI.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
SPEC_IN_REPO = ROOT / "tests" / "reference" / "infobip-omni-failover-openapi.json"
PRISM = ROOT / ".cache" / "prism" / "node_modules" / ".bin" / "prism"
DRIFT_FIELD = "drifted"
DRIFT_404_TEXT = "Not found."


def drifted(path: str, status: int, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """The few answers the proxy changes."""
    if status == 200 and path.startswith("/omni/1/scenarios/") and body.startswith(b"{"):
        data = orjson.loads(body)
        data[DRIFT_FIELD] = True
        body = orjson.dumps(data)
    elif status == 404:
        body = body.replace(b"Scenario not found.", DRIFT_404_TEXT.encode())
    elif status == 401:
        headers["content-type"] = "text/plain"
    return headers, body


class DriftingProxy:
    def __init__(self, target: str, tls: ssl.SSLContext | None = None, drift: bool = True) -> None:
        client = httpx.Client(base_url=target, trust_env=False)
        client.headers.clear()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                sent = [(k, v) for k, v in self.headers.items() if k.lower() not in ("host", "content-length")]
                answer = client.request(self.command, self.path, headers=sent, content=body or None)
                headers = {k.lower(): v for k, v in answer.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                content = answer.content
                owner.seen.append((self.command, self.path.split("?", 1)[0]))
                if drift:
                    headers, content = drifted(self.path.split("?", 1)[0], answer.status_code, headers, content)
                self.send_response_only(answer.status_code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = _any  # noqa: N815

        self.seen: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._client = client
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


@contextmanager
def drifting_proxy(target: str, tls: ssl.SSLContext | None = None, drift: bool = True) -> Iterator[DriftingProxy]:
    proxy = DriftingProxy(target, tls, drift)
    try:
        yield proxy
    finally:
        proxy.close()


def throwaway_ca(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (its certificate written to ``folder/ca.pem``) and a server context for 127.0.0.1 it signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mock-omni throwaway CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return ca_file, context


def prism_command() -> list[str]:
    if PRISM.exists():
        return [str(PRISM)]
    found = shutil.which("prism")
    assert found, f"Prism is not installed: `make prism` installs it into {PRISM.parent.parent.parent}"
    return [found]


@contextmanager
def prism(port: int) -> Iterator[str]:
    """Prism serving the vendor's OpenAPI on 127.0.0.1:port (its log in the failure message)."""
    spec = SPEC_IN_REPO  # the vendor's OpenAPI as the repository keeps it (a clean clone has no ../shared)
    command = [*prism_command(), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]  # before the log: a
    # missing Prism left it open, and its ResourceWarning failed a later test of the same worker
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below: a file, not a pipe nobody reads
    try:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except BaseException:
        log.close()
        raise
    url = f"http://127.0.0.1:{port}"

    def shown() -> str:
        log.seek(0)
        return log.read().decode("utf-8", "replace")[-4000:]

    try:
        deadline = time.monotonic() + 120  # a bound against hanging, not a timing assertion
        while True:
            assert process.poll() is None, f"Prism exited: {shown()}"
            try:
                httpx.get(url + "/omni/1/logs", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"Prism did not start within 120 s: {shown()}"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
