"""Pushed reports go only where they should: never to a mock's own admin API (however its address and path are
spelt), only where ``--webhook-allow`` allows (checked on the resolved addresses, saying nothing of what
listens), credentials masked in every record; and a reset or a restore frees a URL stalled by a receiver."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.webhook_targets import ADMIN_REFUSED, NOT_ALLOWED, _admin_path, parse_rule
from mock_omni.domain.callbacks import masked_url

from .receiver import Receiver, receiver
from .sending import body, send, sending_app, sending_client

TO = "41793026727"
FAST = {"webhook_backoff": 0.05}
pytestmark = pytest.mark.both_stores


@pytest.fixture
def target() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def build(new_app: Callable[..., MockOmni], **settings: Any) -> TestClient:
    return sending_client(sending_app(new_app, **{**FAST, **settings}))


def push(client: TestClient, url: str, message_id: str = "M1") -> None:
    send(client, body(None, TO, channels=["SMS", "VIBER"], notifyUrl=url) | {
        "destinations": [{"messageId": message_id, "to": {"phoneNumber": TO}}]})


def callbacks(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get("/__admin/callbacks", params=query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def settled(client: TestClient, count: int = 1, **query: Any) -> list[dict[str, Any]]:
    """The callbacks once ``count`` of them are no longer pending."""
    deadline = time.monotonic() + 20
    while True:
        found = [c for c in callbacks(client, **query)["callbacks"] if c["state"] != "pending"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def local_addresses() -> list[str]:
    """This machine's addresses other than loopback (the one it routes by, and its name's), as URL hosts."""
    found = set()
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                found.add(udp.getsockname()[0])
        except OSError:
            pass
    try:
        found.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), 9, type=socket.SOCK_STREAM))
    except OSError:
        pass
    return sorted(f"[{a}]" if ":" in a else a for a in found if not a.startswith(("127.", "::1")) and "%" not in a)


# --- never the mock's own admin API -------------------------------------------------------------

HOSTS = ["localhost", "127.0.0.1", "[::1]", "0x7f000001", "2130706433", "127.1", "0.0.0.0", "127.0.0.2",
         "[::ffff:127.0.0.1]", "LocalHost"]
PATHS = ["/__admin/reset", "/x/../__admin/reset", "/%5F_admin/snapshots/x/restore", "/%5f%5Fadmin/state",
         "//__admin/reset", "/__ADMIN/reset", "/./__admin", "/%252F__admin/reset", "/__admin"]


def test_a_push_to_a_mock_admin_api_on_this_machine_is_refused_by_any_spelling(
    new_app: Callable[..., MockOmni],
) -> None:
    urls = [f"http://{host}:8080{path}" for host in HOSTS for path in PATHS[:1]]
    urls += [f"http://127.0.0.1:9{path}" for path in PATHS[1:]]
    urls += [f"https://{host}/__admin/reset" for host in local_addresses()]
    with build(new_app) as client:
        for n, url in enumerate(urls):
            push(client, url, f"M{n}")
        found = settled(client, len(urls))
    assert len(found) == len(urls)
    for callback in found:
        # Failed at once: no attempt, no retry, the reason says why; the send itself was the vendor's 200.
        assert (callback["state"], callback["reason"], callback["attempts"]) == ("failed", ADMIN_REFUSED, []), callback


def test_other_paths_on_this_machine_are_pushed_as_before(new_app: Callable[..., MockOmni], target: Receiver) -> None:
    port = target.url.rsplit(":", 1)[1]
    urls = [f"http://localhost:{port}/hooks/__admin", f"http://127.0.0.1:{port}/administration",
            f"http://0x7f000001:{port}/_admin/x"]
    with build(new_app) as client:
        for n, url in enumerate(urls):
            push(client, url, f"M{n}")
        found = settled(client, len(urls))
    assert [c["state"] for c in found] == ["delivered"] * 3, found
    assert sorted(r.path for r in target.received) == ["/_admin/x", "/administration", "/hooks/__admin"]


# --- only where the operator allows ------------------------------------------------------------


def test_a_push_where_webhook_allow_does_not_allow_is_refused_whatever_is_there(
    new_app: Callable[..., MockOmni], target: Receiver,
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]  # bound, never listening: connections are refused
    try:
        with build(new_app, webhook_allow=["10.0.0.0/8", "*.example.invalid", "192.0.2.0/24:80"]) as client:
            urls = [f"{target.url}/open", f"http://127.0.0.1:{closed_port}/closed", f"http://localhost:{closed_port}/",
                    "http://no-such-host.invalid/x", "http://192.0.2.7:81/x"]
            for n, url in enumerate(urls):
                push(client, url, f"M{n}")
            found = settled(client, len(urls))
    finally:
        closed.close()
    assert target.received == []
    # The same record whatever is there (a listening port, a closed one, a name that does not resolve).
    assert {(c["state"], c["reason"], len(c["attempts"])) for c in found} == {("failed", NOT_ALLOWED, 0)}, found
    assert "--webhook-allow" in NOT_ALLOWED and "MOCK_OMNI_WEBHOOK_ALLOW" in NOT_ALLOWED


def test_allowed_networks_names_and_ports_are_pushed_to(new_app: Callable[..., MockOmni], target: Receiver) -> None:
    port = int(target.url.rsplit(":", 1)[1])
    with build(new_app, webhook_allow=[f"127.0.0.0/8:{port}", f"localhost:{port - 1}-{port + 1}"]) as client:
        push(client, f"{target.url}/by-network", "A")
        push(client, f"http://localhost:{port}/by-name", "B")   # the name rule, whatever it resolves to
        push(client, f"http://127.0.0.1:{port + 2}/other-port", "C")
        found = {c["messageId"]: c for c in settled(client, 3)}
    assert (found["A"]["state"], found["B"]["state"]) == ("delivered", "delivered"), found
    assert (found["C"]["state"], found["C"]["reason"]) == ("failed", NOT_ALLOWED)


def test_a_name_resolving_into_a_network_not_allowed_is_refused(
    new_app: Callable[..., MockOmni], target: Receiver,
) -> None:
    port = target.url.rsplit(":", 1)[1]
    with build(new_app, webhook_allow=["10.0.0.0/8", "*.localhost"]) as client:
        push(client, f"http://localhost:{port}/x")   # localhost is 127.0.0.1: not in 10/8, and not *.localhost
        (callback,) = settled(client)
    assert (callback["state"], callback["reason"]) == ("failed", NOT_ALLOWED) and target.received == []


@given(st.lists(st.sampled_from(["plain", "upper", "percent", "double"]), min_size=14, max_size=14),
       st.sampled_from(["", "/x/..", "/./", "//", "/a/b/../.."]))
def test_every_spelling_of_an_admin_path_is_an_admin_path(encodings: list[str], detour: str) -> None:
    """Each character of ``/__admin/reset`` left as it is, upper-cased, percent-encoded or encoded twice,
    after a detour of dot segments or doubled slashes: still the admin API's path."""
    spelt = "".join(
        char if how == "plain" or char == "/" else char.upper() if how == "upper"
        else f"%{ord(char):02X}" if how == "percent" else f"%25{ord(char):02X}"
        for char, how in zip("/__admin/reset", encodings, strict=True))
    assert _admin_path((detour + spelt).encode())


@pytest.mark.parametrize("path", ["/", "/hooks/__admin", "/_admin", "/admin", "/__admi", "/x/__admin/reset"])
def test_paths_outside_the_admin_api_are_not_admin_paths(path: str) -> None:
    assert not _admin_path(path.encode())


@pytest.mark.parametrize(("text", "problem"), [
    ("10.0.0.0/33", "CIDR"), ("host:0", "port"), ("host:9-8", "port"), ("[::1", "brackets"), ("a b", "host name"),
    ("*", None), ("*:8000-8100", None), ("[fd00::/8]:443", None), ("fd00::/8", None), ("*.corp.example", None),
    ("Receiver.Example.:8080", None), ("127.1", "host name"),
])
def test_webhook_allow_rules_parse_or_say_what_is_wrong(text: str, problem: str | None) -> None:
    if problem is None:
        parse_rule(text)
    else:
        with pytest.raises(ValueError, match=problem):
            parse_rule(text)


# --- credentials in a notifyUrl ---------------------------------------------------------------

SECRET = "s3cret-Pa55"


def test_credentials_in_a_notify_url_are_sent_as_basic_auth_and_masked_in_every_record(
    new_app: Callable[..., MockOmni], target: Receiver,
) -> None:
    host = target.url.removeprefix("http://")
    url = f"http://hook-user:{SECRET}@{host}/cb"
    with build(new_app) as client:
        push(client, url)
        (callback,) = settled(client)
        # Found by the URL as the test knows it, or as it is shown.
        assert len(callbacks(client, url=url)["callbacks"]) == 1
        assert len(callbacks(client, url=f"http://hook-user:***@{host}/cb")["callbacks"]) == 1
        # Compared masked: a wrong password finds it too, so the filter cannot be used to guess one.
        assert len(callbacks(client, url=f"http://hook-user:guess@{host}/cb")["callbacks"]) == 1
        assert callbacks(client, url=f"http://other-user:{SECRET}@{host}/cb")["callbacks"] == []
        shown = [client.get(path).text for path in
                 ("/__admin/callbacks", "/__admin/state", "/__admin/requests", "/__admin/messages")]
        shown.append(client.get("/", headers={"Accept": "application/json"}).text)  # the dashboard's data
    assert callback["state"] == "delivered" and callback["url"] == f"http://hook-user:***@{host}/cb"
    (received,) = target.received
    assert received.authorization == "Basic " + base64.b64encode(f"hook-user:{SECRET}".encode()).decode()
    for text in shown:
        assert SECRET not in text
    assert "hook-user:***@" in shown[2]  # the journal shows the send's body with the URL masked
    assert all("hook-user:***@" in text for text in shown), shown


def test_masked_url_masks_every_spelling_of_credentials() -> None:
    assert masked_url("http://u:p@h/x") == "http://u:***@h/x"
    assert masked_url("https://token@h:8443/x?y=a@b") == "https://***@h:8443/x?y=a@b"
    assert masked_url("http://a@b:c@h/") == "http://a@b:***@h/"
    assert masked_url("see http://u:p%40q@h/ and HTTP://x:y@z") == "see http://u:***@h/ and HTTP://x:***@z"
    assert masked_url("http://h/x@y") == "http://h/x@y"
    assert masked_url(masked_url("http://u:p@h/")) == "http://u:***@h/"


# --- a reset or a restore frees a stalled URL --------------------------------------------------


@pytest.mark.parametrize("how", ["reset", "account reset", "restore"])
def test_a_reset_abandons_an_attempt_to_a_stalled_receiver_and_the_next_push_goes_out_at_once(
    new_app: Callable[..., MockOmni], how: str,
) -> None:
    with receiver(stall_first=1) as stalled, build(new_app, webhook_timeout=120) as client:
        if how == "restore":
            assert client.post("/__admin/snapshots/before").status_code in (200, 201)
        url = f"{stalled.url}/hook"
        push(client, url, "STALLED")
        assert stalled.wait_arrived(1), "the first push never reached the receiver"
        answer = {"reset": lambda: client.post("/__admin/reset"),
                  "account reset": lambda: client.post("/__admin/reset", params={"account": "Aladdin"}),
                  "restore": lambda: client.post("/__admin/snapshots/before/restore")}[how]()
        assert answer.status_code in (200, 204), answer.text
        started = time.monotonic()
        push(client, url, "NEXT")
        (callback,) = settled(client)
        took = time.monotonic() - started
        # Well under the 120 s the stalled attempt has left: the next push did not wait for it.
        assert callback["messageId"] == "NEXT" and callback["state"] == "delivered" and took < 60, (callback, took)
        stalled.release()
        time.sleep(0.2)
        # Nothing more is recorded for the abandoned callback (its record went with the reset).
        assert [c["messageId"] for c in callbacks(client)["callbacks"]] == ["NEXT"]


# --- https: the name is verified, on the address checked ----------------------------------------


@pytest.fixture
def tls_server(tmp_path: Any) -> Iterator[tuple[int, list[str | None]]]:
    """A TLS server on loopback with a self-signed certificate (no client trusts it) recording each
    handshake's SNI name."""
    import ssl
    import subprocess
    import threading

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1], names
    finally:
        listener.close()


def test_https_to_a_name_sends_the_name_for_sni_and_verifies_the_certificate(
    new_app: Callable[..., MockOmni], tls_server: tuple[int, list[str | None]],
) -> None:
    port, names = tls_server
    with build(new_app, webhook_attempts=1) as client:
        push(client, f"https://localhost:{port}/hook", "NAME")
        push(client, f"https://127.0.0.1:{port}/hook", "ADDRESS")
        found = {c["messageId"]: c for c in settled(client, 2)}
    for callback in found.values():
        (attempt,) = callback["attempts"]
        assert callback["state"] == "failed" and "CERTIFICATE_VERIFY_FAILED" in attempt["error"], callback
    # Connected to the address checked, with the URL's name in the handshake (an address is sent no SNI).
    assert sorted(names, key=str) == [None, "localhost"], names


def test_the_name_is_resolved_once_per_attempt_and_the_checked_address_is_the_one_connected_to(
    new_app: Callable[..., MockOmni], target: Receiver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name answering an allowed address to the check, then another one, reaches the first."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            asked.append(host)
            return real("127.0.0.1" if len(asked) == 1 else "192.0.2.99", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = target.url.rsplit(":", 1)[1]
    with build(new_app, webhook_allow=["127.0.0.0/8"]) as client:
        push(client, f"http://rebind.test:{port}/hook")
        (callback,) = settled(client)
    assert callback["state"] == "delivered" and asked == ["rebind.test"], (callback, asked)
    assert [r.path for r in target.received] == ["/hook"]
