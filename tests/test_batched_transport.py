"""Answers written at the end of the event loop's turn, together (server/batched_transport.py).

The transport holds what is written until the loop runs its ready callbacks, and everything else done to the
connection (close, abort, write_eof, a fault's reset) happens after what was written before it, as when each
write went out at once. Then the protocol: the requests of one turn are answered in one write, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from uvicorn import Config
from uvicorn.server import ServerState

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH
from mock_omni.app import create_app
from mock_omni.server.batched_transport import HOLD_LIMIT, BatchedTransport, Outbox
from mock_omni.server.http_protocol import protocol_for
from mock_omni.server.work_share import WorkShare
from mock_omni.settings import Settings
from mock_omni.testing.faults import reset


class Recording(asyncio.Transport):
    """A transport that notes what is done to it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, bytes]] = []
        self.closing = False
        self.ended = False
        self.buffered = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closing, "written after it was closed"
        if self.ended:
            raise RuntimeError("Cannot call write() after write_eof()")  # as uvloop's and asyncio's transports
        self.events.append(("write", bytes(data)))

    def close(self) -> None:
        self.events.append(("close", b""))
        self.closing = True

    def abort(self) -> None:
        self.events.append(("abort", b""))
        self.closing = True

    def write_eof(self) -> None:
        self.events.append(("eof", b""))
        self.ended = True

    def can_write_eof(self) -> bool:
        return True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        self.events.append(("pause", b""))

    def resume_reading(self) -> None:
        self.events.append(("resume", b""))

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.events.append(("set_protocol", b""))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def end_of_turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_writes_wait_for_the_end_of_the_turn_then_go_out_as_one(loop: asyncio.AbstractEventLoop) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    transport.write(b"HTTP/1.1 200 OK\r\n")
    transport.write(bytearray(b"content-length: 0\r\n\r\n"))
    assert inner.events == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    end_of_turn(loop)
    assert inner.events == [("write", b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")]
    assert transport.get_write_buffer_size() == 0
    transport.write(b"next")
    end_of_turn(loop)
    assert inner.events[1:] == [("write", b"next")]


def test_a_buffer_written_is_copied_so_its_owner_may_reuse_it(loop: asyncio.AbstractEventLoop) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    buffer = bytearray(b"first")
    transport.write(buffer)
    buffer[:] = b"later"
    end_of_turn(loop)
    assert inner.events == [("write", b"first")]


@pytest.mark.parametrize("action, event", [("close", "close"), ("abort", "abort"), ("write_eof", "eof")])
def test_closing_or_ending_the_connection_comes_after_what_was_written(
        loop: asyncio.AbstractEventLoop, action: str, event: str) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    transport.write(b"answer")
    getattr(transport, action)()
    assert inner.events == [("write", b"answer"), (event, b"")]
    end_of_turn(loop)
    assert inner.events == [("write", b"answer"), (event, b"")]  # nothing written twice


def test_a_write_after_write_eof_fails_where_it_is_made(loop: asyncio.AbstractEventLoop) -> None:
    """As the transport's own write does. Held, it failed in the flush at the end of the turn instead: an
    "Exception in callback" on the loop, far from the code that wrote."""
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    transport.write(b"answer")
    transport.write_eof()
    with pytest.raises(RuntimeError, match="after write_eof"):
        transport.write(b"more")
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    end_of_turn(loop)
    assert errors == [] and inner.events == [("write", b"answer"), ("eof", b"")]


def test_a_faults_reset_comes_after_what_was_written(loop: asyncio.AbstractEventLoop) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    transport.write(b"an earlier answer")
    reset(transport)
    assert inner.events == [("write", b"an earlier answer"), ("abort", b"")]


def test_a_big_write_goes_out_at_once_behind_what_is_held(loop: asyncio.AbstractEventLoop) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    big = b"x" * HOLD_LIMIT
    transport.write(big)
    assert inner.events == [("write", big)]  # the transport's own flow control sees it now
    transport.write(b"head")
    transport.write(big)
    assert inner.events[1:] == [("write", b"head"), ("write", big)]  # in order, and the body not copied into one
    end_of_turn(loop)
    assert len(inner.events) == 3


def test_nothing_is_written_to_a_client_that_left(loop: asyncio.AbstractEventLoop) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    transport.write(b"answer")
    inner.closing = True  # the connection was lost before the turn ended
    end_of_turn(loop)
    assert inner.events == []


def test_everything_else_is_the_transports_after_what_was_written(loop: asyncio.AbstractEventLoop) -> None:
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    transport.write(b"answer")
    transport.pause_reading()
    transport.resume_reading()
    assert transport.get_extra_info("peername") == ("127.0.0.1", 50000)
    assert inner.events == [("pause", b""), ("resume", b"")]  # reading is not writing: nothing flushed
    transport.set_protocol(asyncio.Protocol())
    assert inner.events[2:] == [("write", b"answer"), ("set_protocol", b"")]


def seed_put(name: str, *, close: bool = False) -> bytes:
    body = SEED_JSON.replace("SMS or VIBER", name).encode()
    head = [f"PUT {SEED_PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            "Accept: application/json", f"Authorization: {ALADDIN_BASIC}", f"Content-Length: {len(body)}"]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def connection(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Protocol, Recording]:
    mock = create_app(Settings())
    protocol_class = protocol_for(mock)
    config = Config(mock, http=protocol_class, ws="none", lifespan="off")
    config.load()
    protocol = protocol_class(config, ServerState(), {}, _loop=loop)
    inner = Recording()
    protocol.connection_made(inner)
    return protocol, inner


def test_the_requests_of_one_turn_are_answered_in_one_write_in_order(loop: asyncio.AbstractEventLoop) -> None:
    protocol, inner = connection(loop)
    protocol.data_received(seed_put("first") + seed_put("second"))  # pipelined, in one packet
    protocol.data_received(seed_put("third"))
    assert [kind for kind, _ in inner.events if kind == "write"] == []
    end_of_turn(loop)
    writes = [data for kind, data in inner.events if kind == "write"]
    assert len(writes) == 1
    answers = writes[0].split(b"HTTP/1.1 ")[1:]
    assert [answer.split(b" ", 1)[0] for answer in answers] == [b"200", b"200", b"200"]
    assert [b'"name":"Test update: first"' in answers[0], b'"name":"Test update: second"' in answers[1],
            b'"name":"Test update: third"' in answers[2]] == [True, True, True]
    protocol.connection_lost(None)


def test_a_closing_request_is_answered_before_the_connection_closes(loop: asyncio.AbstractEventLoop) -> None:
    protocol, inner = connection(loop)
    protocol.data_received(seed_put("last", close=True))
    kinds = [kind for kind, _ in inner.events if kind in ("write", "eof", "close")]
    assert kinds[:1] == ["write"] and "close" in kinds, inner.events
    written = next(data for kind, data in inner.events if kind == "write")
    assert written.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close\r\n" in written
    end_of_turn(loop)
    assert [kind for kind, _ in inner.events].count("write") == 1
    protocol.connection_lost(None)


def test_one_callback_writes_every_connections_held_answers(loop: asyncio.AbstractEventLoop) -> None:
    outbox = Outbox()
    inners = [Recording() for _ in range(3)]
    transports = [BatchedTransport(inner, loop, outbox) for inner in inners]
    for number, transport in enumerate(transports):
        transport.write(b"answer %d" % number)
    assert len(outbox.held) == 3 and all(inner.events == [] for inner in inners)
    end_of_turn(loop)
    assert [inner.events for inner in inners] == [[("write", b"answer %d" % number)] for number in range(3)]
    assert outbox.held == []


@pytest.mark.parametrize("before", [b"", b"head"])
def test_a_big_write_to_a_client_that_left_is_dropped_like_a_held_one(
        loop: asyncio.AbstractEventLoop, before: bytes) -> None:
    """Written at once, a big write reached a transport already lost (uvloop raises: "the handler is closed", an
    "Exception in ASGI application" for a pipelined request's big answer after the client's reset)."""
    inner = Recording()
    transport = BatchedTransport(inner, loop, Outbox())
    if before:
        transport.write(before)
    inner.closing = True
    transport.write(b"x" * HOLD_LIMIT)  # Recording fails a write after the close
    end_of_turn(loop)
    assert inner.events == []


def test_a_connection_on_another_loop_is_written_by_its_own_loop(loop: asyncio.AbstractEventLoop) -> None:
    outbox = Outbox()
    first = Recording()
    BatchedTransport(first, loop, outbox).write(b"on the outbox's loop")
    other_loop = asyncio.new_event_loop()
    try:
        other = Recording()
        BatchedTransport(other, other_loop, outbox).write(b"on another loop")
        assert len(outbox.held) == 1  # the other loop's connection is not in this outbox
        end_of_turn(other_loop)
        assert other.events == [("write", b"on another loop")] and first.events == []
        async def share_turn_there() -> None:  # a share's turn on the other loop: not its connections to write
            outbox.flush()

        other_loop.run_until_complete(share_turn_there())
        assert first.events == []
    finally:
        other_loop.close()
    end_of_turn(loop)
    assert first.events == [("write", b"on the outbox's loop")]


def test_the_work_shares_turn_sends_held_answers_before_its_steps(loop: asyncio.AbstractEventLoop) -> None:
    outbox = Outbox()
    share = WorkShare(before_turn=outbox.flush)
    inner = Recording()
    transport = BatchedTransport(inner, loop, outbox)
    seen_by_step: list[list[tuple[str, bytes]]] = []

    def big_call() -> Iterator[None]:
        seen_by_step.append(list(inner.events))
        yield

    async def turn() -> None:
        # The share's turn is already queued when a small call is answered (its answer held), as under load.
        share.submit(loop, big_call(), lambda result, error: None)
        transport.write(b"a small call's answer")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    loop.run_until_complete(turn())
    assert seen_by_step == [[("write", b"a small call's answer")]]


class Failing(Recording):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        raise RuntimeError("the transport broke")


def test_a_write_that_fails_closes_its_connection_and_spares_the_others(
        loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox()
    broken, sound = Failing(), Recording()
    BatchedTransport(broken, loop, outbox).write(b"lost")
    BatchedTransport(sound, loop, outbox).write(b"answer")
    end_of_turn(loop)
    assert broken.events == [("abort", b"")]
    assert sound.events == [("write", b"answer")]
    assert "writing a held answer failed" in caplog.text
