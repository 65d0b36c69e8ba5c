"""Messages sent through scenarios: each destination walks its scenario's flow on the mock's clock.

A send plans the steps (channel, sender, text, validity period, price) from the scenario's
flow and the request's per-channel payloads, then starts the first step at once, or at
``sendAt``. Each step's outcome comes from the delivery rules (delivery.py) when the step
starts: DELIVERED ends the walk (after the delivery delay, if any); UNDELIVERABLE and
REJECTED hand over to the next step (at once, unless the rule has a delay); EXPIRED hands
over when the step's validity period has run out on the clock. The last step's failure is the message's final status.
A destination without an address for a step's channel is REJECTED there (MISSING_TO).

Transitions that lie in the future wait in a heap ordered by due time; ``advance(now)``
(called on every vendor access, by the admin clock and by the app's ticker) performs all
that are due, each at its own due time, so reports carry the times the clock dictates
however late anybody looks. The final report of a message is then available once through
``take_reports`` (the vendor's one-time reports) and, when the send asked for it, pushed
through ``notify`` (intermediate reports too with ``intermediateReport``).

Memory is bounded: at most ``limit`` messages are kept, across accounts, and at most ``byte_limit``
bytes of what they hold (``own_size`` and ``shared_size``: the UTF-8 lengths of their texts, senders, addresses, IDs and
options; what the messages of one send share is counted once); the oldest is dropped (with its report,
if nobody fetched it) when a send goes past either bound. Sizes are lengths, not ``sys.getsizeof``:
replicas (replication/) apply the same sends and must drop the same messages.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple

from .accounts import Accounts
from .addresses import matching_form
from .callbacks import masked_url
from .delivery import CURRENCY, NO_ERROR, PENDING_ENROUTE, STATUS_OF, DeliveryRules, mcc_mnc
from .errors import InvalidArgument
from .message import FETCHED, READY, REPORT_STATES, Message, Share
from .message_documents import message_document, message_from_document
from .plans import Prepared, PreparedSends, address_for, new_id, new_ids, shared_size, to_size, utf8_length
from .scenarios import Step
from .send_request import HOURS_48, OmniAdvancedRequest, parse_date
from .steps import Steps

DEFAULT_LIMIT = 10_000
#: Bytes of texts, addresses and the like kept in messages (``own_size``, ``shared_size``), all accounts together.
DEFAULT_BYTE_LIMIT = 64 * 1024 * 1024
#: The smallest byte bound: the largest send (a 1 MiB body) holds about 2 MiB (a destination's generated ID is
#: longer than its JSON), so a send always fits whole.
MIN_BYTE_LIMIT = 4 * 1024 * 1024
#: Destinations a send keeps per step (``Messages.sending``): 0.3 to 0.5 ms of work, about a turn's budget
#: (server/work_share.py); a step over it is paid back by the next turns.
SEND_STEP = 100
#: ``sendAt`` must be sooner than this (the vendor's OpenAPI).
MAX_SCHEDULE = 180 * 86400.0
#: Logs without ``sentSince`` cover this much (the vendor's logs example: "from the last 48h").
LOGS_WINDOW = HOURS_48

#: ``notify(account, url, content_type, report, callback_data)``: push one report; must not block.
log = logging.getLogger("mock_omni")
Notify = Callable[[str, str, "str | None", dict[str, object], "str | None"], None]


class LogQuery(NamedTuple):
    """What ``GET /omni/1/logs`` asks for (``since``/``until``: exact POSIX seconds), and the account's time now."""

    now: float
    sender: str | None
    to: str | None
    bulk_ids: set[str]
    message_ids: set[str]
    general_status: str | None
    channel: str | None
    since: Fraction | None
    until: Fraction | None
    limit: int
    mcc: str | None
    mnc: str | None


class Notification(NamedTuple):
    account: str
    url: str
    content_type: str | None
    report: dict[str, object]
    callback_data: str | None


class RecordedNotifications:
    """The default ``notify``: remembers the newest pushes it was asked for and sends nothing.

    The webhook sender replaces it (``MockOmni.messages.notify``).
    """

    def __init__(self, limit: int = 1000) -> None:
        self.calls: deque[Notification] = deque(maxlen=limit)

    def __call__(self, account: str, url: str, content_type: str | None, report: dict[str, object],
                 callback_data: str | None) -> None:
        self.calls.append(Notification(account, url, content_type, report, callback_data))


class _Index:
    """Messages by an ID, in send order. Most IDs name one message: that one is kept as it is, without a
    collection of its own (a dict per message would be a quarter of a message's memory)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, Message | dict[int, Message]] = {}

    def add(self, key: str, message: Message) -> None:
        found = self._entries.get(key)
        if found is None:
            self._entries[key] = message
        elif isinstance(found, Message):
            self._entries[key] = {found.seq: found, message.seq: message}
        else:
            found[message.seq] = message

    def remove(self, key: str, message: Message) -> None:
        found = self._entries[key]
        if isinstance(found, Message):
            del self._entries[key]
            return
        del found[message.seq]
        if len(found) == 1:
            self._entries[key] = next(iter(found.values()))

    def get(self, key: str) -> list[Message]:
        found = self._entries.get(key)
        if found is None:
            return []
        return [found] if isinstance(found, Message) else list(found.values())

    def newest_first(self, key: str) -> Iterator[Message]:
        """The messages of ``key``, newest first, without copying them (a bulk may hold thousands)."""
        found = self._entries.get(key)
        if found is None:
            return iter(())
        return iter((found,)) if isinstance(found, Message) else reversed(found.values())


class _Outbox:
    """One account's messages, with the indexes its queries use (none scans the whole account)."""

    __slots__ = ("messages", "by_id", "by_bulk", "reports")

    def __init__(self) -> None:
        #: seq -> message, in send order.
        self.messages: dict[int, Message] = {}
        self.by_id = _Index()
        self.by_bulk = _Index()
        #: seq -> message whose final report waits to be fetched, in the order reports became ready.
        self.reports: dict[int, Message] = {}

    def add(self, message: Message) -> None:
        self.messages[message.seq] = message
        self.by_id.add(message.message_id, message)
        if message.bulk_id is not None:
            self.by_bulk.add(message.bulk_id, message)
        if message.report == READY:
            self.reports[message.seq] = message

    def remove(self, message: Message) -> None:
        del self.messages[message.seq]
        self.by_id.remove(message.message_id, message)
        if message.bulk_id is not None:
            self.by_bulk.remove(message.bulk_id, message)
        self.reports.pop(message.seq, None)


def send_answer(tos: list[dict[str, str]], ids: list[str], bulk_id: str | None) -> dict[str, object]:
    """The vendor's answer to a send: each destination pending, with its message ID."""
    pending = PENDING_ENROUTE.data
    if len(ids) == 1 and bulk_id is None:  # most sends
        return {"messages": [{"to": tos[0], "status": pending, "messageId": ids[0]}]}
    answer: dict[str, object] = {"bulkId": bulk_id} if bulk_id is not None else {}
    answer["messages"] = [{"to": to, "status": pending, "messageId": message_id}
                          for to, message_id in zip(tos, ids, strict=True)]
    return answer


def vendor_date(seconds: float) -> str:
    """POSIX seconds the vendor's way, to the nearest millisecond: ``2015-02-23T16:41:11.833+0000`` (UTC)."""
    whole, millis = divmod(vendor_millis(seconds), 1000)
    return f"{_second(whole)}.{millis:03d}+0000"


def vendor_millis(seconds: float) -> int:
    """The millisecond ``vendor_date`` writes for ``seconds`` (the nearest): what date filters compare."""
    return round(seconds * 1000)


@lru_cache(maxsize=4096)
def _second(whole: int) -> str:
    # Messages of one send, and reports read together, share their seconds: format each once.
    return f"{datetime.fromtimestamp(whole, UTC):%Y-%m-%dT%H:%M:%S}"


def own_size(message: Message) -> int:
    """Bytes of what a message holds alone: its IDs and addresses (plans.py: ``shared_size`` is its send's)."""
    return utf8_length(message.message_id) + utf8_length(message.bulk_id) + to_size(message.to)


def _price(amount: float) -> int | float:
    # The vendor writes a zero price as 0, not 0.0.
    return 0 if amount == 0 else round(amount, 6)


class _Batch:
    """One send on its way (``Messages.send``): what it means, then its time and IDs, then the messages kept."""

    __slots__ = ("account", "prepared", "share", "now", "start", "ids", "bulk_id", "lost", "pushes")

    def __init__(self, account: str, prepared: Prepared) -> None:
        self.account = account
        self.prepared = prepared
        self.share = Share(prepared.shared)
        self.now = self.start = 0.0
        self.ids: list[str] = []
        self.bulk_id: str | None = None
        #: Its own messages the send's own steps dropped past the bound.
        self.lost = 0
        #: Reports its messages push, sent once it is all kept (never before its answer is decided).
        self.pushes: list[Notification] = []


class Messages:
    """Every account's messages and their delivery reports. Thread-safe; every public method is atomic, but for
    ``sending``'s work in steps (a big send), atomic step by step."""

    def __init__(self, store: Accounts, clock: Callable[[], float], rules: DeliveryRules, *,
                 limit: int = DEFAULT_LIMIT, byte_limit: int = DEFAULT_BYTE_LIMIT, notify: Notify | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._accounts = store
        self._clock = clock
        self.rules = rules
        self.limit = max(1, limit)
        self.byte_limit = byte_limit
        #: Bytes kept (``own_size`` of each message, ``shared_size`` of each send once).
        self.bytes = 0
        #: Where pushed reports go; the app replaces it with the webhook sender.
        self.notify: Notify = notify or RecordedNotifications()
        #: Wall-clock dates are the mock's clock plus this offset: advancing the clock moves them too.
        self.dates_offset = wall_clock() - clock()
        self._lock = threading.RLock()
        self._seq = 0
        self._all: dict[int, Message] = {}
        #: Every message in send order, for dropping the oldest (may hold cleared ones: they are skipped).
        self._order: deque[Message] = deque()
        self._prepared = PreparedSends()
        self._outboxes: dict[str, _Outbox] = {}
        #: Per account, the transitions that lie ahead, by due time on that account's clock.
        self._heaps: dict[str, list[tuple[float, int, Message]]] = {}
        #: Heap entries of dropped messages, not yet popped.
        self._stale = 0
        #: Seconds one account's clock is ahead of everyone's (the admin API moves it); the app sets it.
        self.account_offset: Callable[[str], float] = lambda account: 0.0
        #: How many messages were ever sent and how many the bounds dropped.
        self.sent = 0
        self.dropped = 0

    # --- time: every read goes through these ------------------------------------------------------

    def now(self, account: str | None = None) -> float:
        """The mock's clock for ``account``: everyone's, plus how far that account's own was moved."""
        return self._clock() if account is None else self._clock() + self.account_offset(account)

    def date(self, seconds: float) -> str:
        return vendor_date(self.dates_offset + seconds)

    def millis(self, seconds: float) -> int:
        """The millisecond ``date`` writes for ``seconds`` of the mock's clock."""
        return vendor_millis(self.dates_offset + seconds)

    def clock_time(self, wall: float) -> float:
        """A wall-clock instant (POSIX seconds) on the mock's clock."""
        return wall - self.dates_offset

    # --- sending -----------------------------------------------------------------------------

    def send(self, account: str, request: OmniAdvancedRequest, notes: list[str] | None = None) -> dict[str, object]:
        """Send ``request`` through its scenario (the default one without ``scenarioKey``); the vendor's answer.
        A send that outgrows the message bounds loses its oldest messages at once: that is said in ``notes``
        (the journal's reason) and logged, and counted in ``dropped``; the vendor's answer is unchanged."""
        batch = self._begin(account, request)
        with self._lock:  # at once: nobody sees part of it
            for begin in range(0, len(batch.ids), SEND_STEP):
                self._keep(batch, begin)
        return self._sent(batch, notes)

    def sending(self, account: str, request: OmniAdvancedRequest,
                notes: list[str] | None = None) -> dict[str, object] | Steps[dict[str, object]]:
        """``send``'s answer, or for more than ``SEND_STEP`` destinations the same send in steps (domain/steps.py):
        the plan and IDs, then ``SEND_STEP`` destinations a step. Each step keeps its messages (and starts their
        walks) under the lock, so between steps other calls see some of a big send's messages, as they may on
        the vendor; what the answer says (IDs, plan, start) is decided before the first. A caller that stops
        between steps (a reset meanwhile: testing/fence.py) keeps no more of it."""
        if len(request.destinations) <= SEND_STEP:
            return self.send(account, request, notes)
        return self._send_in_steps(account, request, notes)

    def _send_in_steps(self, account: str, request: OmniAdvancedRequest,
                       notes: list[str] | None) -> Steps[dict[str, object]]:
        batch = self._begin(account, request)
        batch.share.under_way = True
        try:
            for begin in range(0, len(batch.ids), SEND_STEP):
                yield
                self._keep(batch, begin)
        finally:  # done, stopped by a reset (its messages went with the state) or by a defect (those kept stay)
            batch.share.under_way = False
        return self._sent(batch, notes)

    def _begin(self, account: str, request: OmniAdvancedRequest) -> _Batch:
        """What a send means (the scenario's flow, addresses, plan, sizes), its time and IDs: nothing kept yet."""
        self.advance()
        scenario_key, flow = self.flow(account, request.scenarioKey)
        batch = _Batch(account, self._prepared.get(request, scenario_key, flow))
        batch.now = self.now(account)
        batch.start = self.start_time(request, batch.now)
        batch.ids, batch.bulk_id = self.message_ids(request)
        return batch

    def _keep(self, batch: _Batch, begin: int) -> None:
        """Keep the send's messages from ``begin`` (``SEND_STEP`` of them) and start their walks."""
        account, (tos, plan, options, shared, to_sizes), share = batch.account, batch.prepared, batch.share
        ids, bulk_id, start, now, pushes = batch.ids, batch.bulk_id, batch.start, batch.now, batch.pushes
        with self._lock:
            outbox = self._outboxes.get(account)
            if outbox is None:
                outbox = self._outboxes[account] = _Outbox()
            end = min(begin + SEND_STEP, len(ids))
            # Bytes kept (own_size of each message, its send's once while any is kept), counted here: this is
            # every send's path.
            size = shared if share.holders == 0 else 0
            bulk_bytes = utf8_length(bulk_id)
            share.holders += end - begin
            for index in range(begin, end):
                message_id = ids[index]
                self._seq += 1
                message = Message(self._seq, account, message_id, bulk_id, tos[index], plan, options, start)
                message.share = share
                message.size = own = to_sizes[index] + bulk_bytes + (
                    len(message_id) if message_id.isascii() else utf8_length(message_id))
                size += own
                self._all[message.seq] = message
                self._order.append(message)
                outbox.add(message)
                self.launch(message, now, pushes)
            self.bytes += size
            self.sent += end - begin
            batch.lost += self._bound(share)

    def _sent(self, batch: _Batch, notes: list[str] | None) -> dict[str, object]:
        """The vendor's answer to a send all kept, its reports pushed; what the bound dropped of it said in
        ``notes``."""
        self._push(batch.pushes)
        lost = batch.lost
        if lost:
            text = (f"the send outgrew the message bound: {lost} of its {len(batch.ids)} messages were dropped at "
                    f"once, with their reports (at most {self.limit} messages and {self.byte_limit} bytes are "
                    "kept: --message-limit, --message-bytes); the vendor's answer lists them all")
            log.warning("mock-omni: %s", text)
            if notes is not None:
                notes.append(text)
        return send_answer(batch.prepared.tos, batch.ids, batch.bulk_id)

    def start_time(self, request: OmniAdvancedRequest, now: float) -> float:
        """When a send's first steps start: now, or its ``sendAt`` (sooner than 180 days)."""
        if request.sendAt is None:
            return now
        start = max(now, self.clock_time(parse_date(request.sendAt)))
        if start - now >= MAX_SCHEDULE:
            raise InvalidArgument(validation_errors={"sendAt": ["must be sooner than 180 days from now"]})
        return start

    @staticmethod
    def message_ids(request: OmniAdvancedRequest) -> tuple[list[str], str | None]:
        """Each destination's message ID (given, or new) and the bulk ID (given, or new for several)."""
        destinations = request.destinations
        if len(destinations) == 1:  # most sends: no bulk ID is made for one destination
            return [destinations[0].messageId or new_id()], request.bulkId
        given = [destination.messageId for destination in destinations]
        bulk_id = request.bulkId
        new_bulk = bulk_id is None and len(given) > 1
        fresh = iter(new_ids(given.count(None) + new_bulk))
        if new_bulk:
            bulk_id = next(fresh)
        return [message_id or next(fresh) for message_id in given], bulk_id

    def launch(self, message: Message, now: float, pushes: list[Notification]) -> None:
        """A new message's first step starts now, or waits for its ``sendAt``."""
        if message.sent_at > now:
            self._wait(message, "START", message.sent_at)
        else:
            self._start(message, message.sent_at, pushes)

    def flow(self, account: str, key: str | None) -> tuple[str, tuple[Step, ...]]:
        """The key and flow of the scenario a send goes through; INVALID_ARGUMENT naming scenarioKey if none."""
        found = self._accounts.account(account)
        if found is None:
            raise InvalidArgument(validation_errors={"scenarioKey": ["the account has no scenarios"]})
        if key is None:
            key = found.default_key
            if key is None:
                raise InvalidArgument(validation_errors={
                    "scenarioKey": ["is required: the account has no default scenario"]})
        scenario = found.scenarios.get(key)
        if scenario is None:
            raise InvalidArgument(validation_errors={"scenarioKey": [f"no scenario {key}"]})
        return key, scenario.flow

    # --- the walk ------------------------------------------------------------------------------

    def _wait(self, message: Message, pending: str, due: float) -> None:
        message.pending, message.due = pending, due
        heapq.heappush(self._heaps.setdefault(message.account, []), (due, message.seq, message))

    def _start(self, message: Message, at: float, pushes: list[Notification]) -> None:
        """Start the current step at ``at``, and the following ones while steps end at once."""
        message.status = PENDING_ENROUTE
        while True:
            step = message.plan[message.step]
            address = address_for(step.channel, message.to)
            if address is None:
                outcome, delay = "MISSING_TO", 0.0
            else:
                outcome, delay = self.rules.decide(message.account, address, step.channel)
                if outcome == "EXPIRED":
                    delay = step.validity
            if delay > 0:
                message.walk = (*message.walk, (step.channel, "PENDING", at, None))
                self._wait(message, outcome, at + delay)
                return
            # Ends as it starts (most steps): the walk gets the step ended, not pending then ended.
            message.walk = (*message.walk, (step.channel, outcome, at, at))
            if self._step_ended(message, outcome, at, pushes):
                return

    def _end_step(self, message: Message, outcome: str, at: float, pushes: list[Notification]) -> bool:
        """The current step ends with ``outcome``; True when that ends the message."""
        channel, _, started, _ = message.walk[-1]
        message.walk = (*message.walk[:-1], (channel, outcome, started, at))
        message.pending = message.due = None
        return self._step_ended(message, outcome, at, pushes)

    def _step_ended(self, message: Message, outcome: str, at: float, pushes: list[Notification]) -> bool:
        """What follows the current step's end (in the walk already): True when that ends the message."""
        options = message.options
        if outcome == "DELIVERED" or message.step == len(message.plan) - 1:
            message.status = STATUS_OF[outcome]
            message.done_at = at
            message.report = READY
            self._ready(message)
            if options.pushes:
                pushes.append(self._notification(message, len(message.walk) - 1))
            return True
        if options.pushes and options.intermediate:
            pushes.append(self._notification(message, len(message.walk) - 1))
        message.step += 1
        return False

    def _ready(self, message: Message) -> None:
        """``message``'s final report is ready to be fetched."""
        self._outboxes[message.account].reports[message.seq] = message

    def _notification(self, message: Message, index: int) -> Notification:
        options = message.options
        assert options.notify_url is not None
        return Notification(message.account, options.notify_url, options.content_type,
                            self._report(message, index), options.callback_data)

    def will_push(self, account: str | None = None, url: str | None = None) -> bool:
        """Whether a message still on its walk will push a report (of ``account``, to ``url``: None for any;
        ``url`` compared with credentials masked, as callback records show it)."""
        wanted = None if url is None else masked_url(url)
        with self._lock:
            pool: Iterable[Message] = self._all.values() if account is None else (
                outbox.messages.values() if (outbox := self._outboxes.get(account)) is not None else ())
            return any(message.done_at is None and message.options.pushes
                       and (wanted is None or masked_url(message.options.notify_url or "") == wanted)
                       for message in pool)

    @property
    def in_flight(self) -> bool:
        """Whether a transition lies ahead (a message not at the end of its walk)."""
        return bool(self._heaps)

    def due_at(self, now: float) -> bool:
        """Whether a transition is due at ``now`` on everyone's clock (``advance`` then has something to do,
        perhaps only a stale entry to drop)."""
        with self._lock:
            return any(heap and heap[0][0] <= now + self.account_offset(account)
                       for account, heap in self._heaps.items())

    def advance(self) -> list[dict[str, object]]:
        """Perform every transition that is due on its account's clock, each at its own due time.

        Returns the final reports that became available; pushes what the sends asked for. Costs a
        dict test when nothing waits (it runs on every call).
        """
        if not self._heaps:
            return []
        pushes: list[Notification] = []
        finished: list[dict[str, object]] = []
        with self._lock:
            for account, heap in list(self._heaps.items()):
                self._walk_due(heap, self.now(account), pushes, finished)
                if not heap:
                    del self._heaps[account]
        self._push(pushes)
        return finished

    def _walk_due(self, heap: list[tuple[float, int, Message]], now: float, pushes: list[Notification],
                  finished: list[dict[str, object]]) -> None:
        """Perform the transitions of one account's ``heap`` that are due at ``now``, in order."""
        while heap and heap[0][0] <= now:
            due, _, message = heapq.heappop(heap)
            if not message.alive or message.due != due:
                self._stale = max(0, self._stale - 1)
                continue
            pending = message.pending
            assert pending is not None
            if pending == "START":
                message.pending = message.due = None
                self._start(message, due, pushes)
            elif not self._end_step(message, pending, due, pushes):
                self._start(message, due, pushes)
            if message.done_at is not None:
                finished.append(self._report(message, len(message.walk) - 1))

    def _push(self, pushes: list[Notification]) -> None:
        notify = self.notify
        for push in pushes:
            notify(*push)

    # --- reports and logs ------------------------------------------------------------------------

    def _report(self, message: Message, index: int) -> dict[str, object]:
        """The vendor's delivery report of step ``index`` of ``message``'s walk (the last one: the final report)."""
        channel, outcome, _, ended = message.walk[index]
        assert ended is not None  # reports are of steps that ended
        step = message.plan[index]
        report: dict[str, object] = {"bulkId": message.bulk_id} if message.bulk_id is not None else {}
        report["messageId"] = message.message_id
        report["to"] = message.address(index)
        report["sentAt"] = self.date(message.sent_at)
        report["doneAt"] = self.date(ended)
        report["messageCount"] = step.parts
        network = mcc_mnc(message.to.get("phoneNumber")) if channel != "EMAIL" else None
        if network is not None:
            report["mccMnc"] = network
        charged = outcome in ("DELIVERED", "UNDELIVERABLE", "EXPIRED")
        report["price"] = {"pricePerMessage": _price(step.price if charged else 0.0), "currency": CURRENCY}
        report["status"] = STATUS_OF[outcome].data
        report["error"] = NO_ERROR
        report["channel"] = channel
        if message.options.callback_data is not None:
            report["callbackData"] = message.options.callback_data
        return report

    def take_reports(self, account: str, bulk_id: str | None = None, message_id: str | None = None,
                     channel: str | None = None, limit: int = 50) -> list[dict[str, object]]:
        """The final reports not fetched before, newest first (as the vendor's examples list them); each is
        returned once, then never again."""
        self.advance()
        with self._lock:
            outbox = self._outboxes.get(account)
            if outbox is None or not outbox.reports or limit <= 0:
                return []
            candidates: Iterable[Message]
            if message_id is not None or bulk_id is not None:
                group = (outbox.by_id.get(message_id) if message_id is not None
                         else outbox.by_bulk.get(bulk_id) if bulk_id is not None else [])
                ready = [message for message in group if message.report == READY]
                # Newest report first: the order in which reports became ready, as without a filter.
                candidates = sorted(ready, key=lambda message: (message.done_at, message.seq), reverse=True)
            else:
                candidates = reversed(outbox.reports.values())
            taken: list[Message] = []
            for message in candidates:
                if ((bulk_id is None or message.bulk_id == bulk_id)
                        and (channel is None or message.walk[-1][0] == channel)):
                    taken.append(message)
                    if len(taken) == limit:
                        break
            for message in taken:
                message.report = FETCHED
                del outbox.reports[message.seq]
            return [self._report(message, len(message.walk) - 1) for message in taken]

    def logs(self, account: str, *, sender: str | None = None, to: str | None = None,
             bulk_ids: Iterable[str] = (), message_ids: Iterable[str] = (), general_status: str | None = None,
             channel: str | None = None, since: Fraction | None = None, until: Fraction | None = None,
             limit: int = 50, mcc: str | None = None, mnc: str | None = None) -> list[dict[str, object]]:
        """Every message's current state, newest first; repeatable. ``since``/``until`` are exact POSIX seconds,
        both inclusive: a message is in when the ``sentAt`` it is written with lies between them."""
        self.advance()
        query = LogQuery(self.now(account), sender, to, set(bulk_ids), set(message_ids), general_status, channel,
                         since, until, limit, mcc, mnc)
        with self._lock:
            outbox = self._outboxes.get(account)
            if outbox is None or limit <= 0:
                return []
            return self._logs_of(self._newest_first(outbox, query.bulk_ids, query.message_ids), query)

    def _logs_of(self, messages: Iterable[Message], query: LogQuery) -> list[dict[str, object]]:
        """The logs of the ``messages`` (newest first) that ``query`` asks for."""
        # Compared in the milliseconds sentAt is written in, so a message's own printed sentAt as either bound
        # takes it in (sub-millisecond clock times would leave it out about half the time); exact bounds, so a
        # finer one (.8335) is between two printed dates, not rounded onto either.
        low = self.millis(query.now - LOGS_WINDOW) if query.since is None else math.ceil(query.since * 1000)
        high = None if query.until is None else math.floor(query.until * 1000)
        bulk_ids, sender, to, channel, mcc, mnc = (query.bulk_ids, query.sender, query.to, query.channel, query.mcc,
                                                   query.mnc)
        to = None if to is None else matching_form(to)
        found: list[dict[str, object]] = []
        for message in messages:
            sent = self.millis(message.sent_at)
            if sent < low or (high is not None and sent > high):
                continue
            if bulk_ids and message.bulk_id not in bulk_ids:
                continue
            index = max(0, len(message.walk) - 1)
            step = message.plan[index]
            if ((sender is not None and step.sender != sender)
                    or (to is not None and matching_form(message.address(index)) != to)
                    or (channel is not None and message.channel != channel)
                    or (query.general_status is not None and message.status.group_name != query.general_status)):
                continue
            network = mcc_mnc(message.to.get("phoneNumber")) if step.channel != "EMAIL" else None
            if (mcc is not None or mnc is not None) and (
                    network is None or (mcc is not None and network[:3] != mcc)
                    or (mnc is not None and network[3:] != mnc)):
                continue
            found.append(self._log(message, index, network))
            if len(found) == query.limit:
                break
        return found

    @staticmethod
    def _newest_first(outbox: _Outbox, bulk_ids: set[str], message_ids: set[str]) -> Iterator[Message]:
        if not message_ids and not bulk_ids:
            return reversed(outbox.messages.values())
        index, keys = (outbox.by_id, message_ids) if message_ids else (outbox.by_bulk, bulk_ids)
        if len(keys) == 1:
            return index.newest_first(next(iter(keys)))
        chosen: dict[int, Message] = {}
        for key in keys:
            chosen.update((message.seq, message) for message in index.get(key))
        return iter([chosen[seq] for seq in sorted(chosen, reverse=True)])

    def _log(self, message: Message, index: int, network: str | None) -> dict[str, object]:
        step = message.plan[index]
        log: dict[str, object] = {"bulkId": message.bulk_id} if message.bulk_id is not None else {}
        log["messageId"] = message.message_id
        log["to"] = message.address(index)
        if step.sender is not None:
            log["from"] = step.sender
        if step.text is not None:
            log["text"] = step.text
        log["sentAt"] = self.date(message.sent_at)
        if message.done_at is not None:
            log["doneAt"] = self.date(message.done_at)
        log["messageCount"] = step.parts
        if network is not None:
            log["mccMnc"] = network
        charged = message.status.group_name in ("DELIVERED", "UNDELIVERABLE", "EXPIRED", "PENDING")
        log["price"] = {"pricePerMessage": _price(step.price if charged else 0.0), "currency": CURRENCY}
        log["status"] = message.status.data
        log["channel"] = step.channel
        return log

    # --- the testing toolkit's view ------------------------------------------------------------------

    def view(self, message: Message) -> dict[str, object]:
        """A message with its walk through the flow (admin API, plugin, dashboard)."""
        steps = []
        for index, (channel, outcome, started, ended) in enumerate(message.walk):
            steps.append({"channel": channel, "from": message.plan[index].sender, "outcome": outcome,
                          "startedAt": self.date(started), "endedAt": None if ended is None else self.date(ended)})
        return {
            "account": message.account, "messageId": message.message_id, "bulkId": message.bulk_id,
            "to": message.to, "scenarioKey": message.options.scenario_key, "status": message.status.data,
            "channel": message.channel, "sentAt": self.date(message.sent_at),
            "doneAt": None if message.done_at is None else self.date(message.done_at),
            "nextAt": None if message.due is None else self.date(message.due),
            "report": REPORT_STATES[message.report],
            "callbackData": message.options.callback_data, "notifyUrl": _shown_url(message.options.notify_url),
            "flow": [step.channel for step in message.plan], "steps": steps,
        }

    def messages(self, account: str | None = None, message_id: str | None = None, bulk_id: str | None = None,
                 limit: int | None = None) -> list[dict[str, object]]:
        """Messages with their walks, oldest first (the newest ``limit`` when given)."""
        self.advance()
        with self._lock:
            if account is not None:
                outbox = self._outboxes.get(account)
                pool: Iterable[Message] = () if outbox is None else (
                    outbox.by_id.get(message_id) if message_id is not None
                    else outbox.by_bulk.get(bulk_id) if bulk_id is not None
                    else outbox.messages.values())
            else:
                pool = self._all.values()
            return [self.view(message) for message in chosen(pool, message_id, bulk_id, limit)]

    def count(self, account: str | None = None) -> int:
        with self._lock:
            if account is None:
                return len(self._all)
            outbox = self._outboxes.get(account)
            return 0 if outbox is None else len(outbox.messages)

    # --- reset, snapshots, bound ---------------------------------------------------------------

    def _count_in(self, message: Message, share: Share) -> None:
        message.share = share
        share.holders += 1
        message.size = own_size(message)
        self.bytes += message.size + (share.size if share.holders == 1 else 0)

    def _count_out(self, message: Message) -> None:
        share = message.share
        assert share is not None
        share.holders -= 1
        self.bytes -= message.size + (share.size if share.holders == 0 else 0)

    def _bound(self, share: Share | None = None) -> int:
        """Drop the oldest messages past the limits (``_order`` is send order; cleared ones are skipped); never
        the newest message. How many of those dropped were of the send of ``share``."""
        order = self._order
        mine = 0
        while len(self._all) > self.limit or (self.bytes > self.byte_limit and len(self._all) > 1):
            oldest = order.popleft()
            if oldest.alive:
                mine += oldest.share is share
                self._drop(oldest)
                self.dropped += 1
        if len(order) > 2 * len(self._all) + 1024:
            self._order = deque(message for message in order if message.alive)
        return mine

    def _drop(self, message: Message) -> None:
        message.alive = False
        del self._all[message.seq]
        self._count_out(message)
        outbox = self._outboxes[message.account]
        outbox.remove(message)
        if not outbox.messages:
            del self._outboxes[message.account]
        if message.due is not None:
            self._stale += 1
            if self._stale > 1024 and self._stale * 2 > sum(map(len, self._heaps.values())):
                # Entries of dropped messages would otherwise stay until due (48 hours, say).
                for account, heap in list(self._heaps.items()):
                    kept = [entry for entry in heap if entry[2].alive]
                    heapq.heapify(kept)
                    if kept:
                        self._heaps[account] = kept
                    else:
                        del self._heaps[account]
                self._stale = 0

    def clear(self, account: str | None = None) -> None:
        """Forget every message and report (or one account's)."""
        with self._lock:
            if account is None:
                for message in self._all.values():
                    message.alive = False
                self._all.clear()
                self.bytes = 0
                self._order.clear()
                self._outboxes.clear()
                self._heaps.clear()
                self._stale = 0
                # A whole reset starts the counts again (the dashboard's and /__admin/messages' "sent", "dropped").
                self.sent = self.dropped = 0
                return
            outbox = self._outboxes.get(account)
            if outbox is not None:
                for message in list(outbox.messages.values()):
                    self._drop(message)
            gone = self._heaps.pop(account, None)
            if gone:
                self._stale = max(0, self._stale - len(gone))

    def snapshot(self, account: str | None = None) -> list[Message]:
        """Copies of every message (or one account's), for ``restore``."""
        with self._lock:
            pool = self._all.values() if account is None else (
                self._outboxes[account].messages.values() if account in self._outboxes else ())
            return [message.copy(message.seq) for message in pool if not under_way(message)]

    def restore(self, messages: Iterable[Message], account: str | None = None) -> None:
        """Replace every message (or ``account``'s) with copies of ``messages``; due transitions resume."""
        with self._lock:
            self.clear(account)
            #: The originals' shares to their copies': messages of one send go on sharing.
            shares: dict[int, tuple[Share, Share]] = {}
            for original in messages:
                self._seq += 1
                copy = original.copy(self._seq)
                share = original.share
                if share is None:
                    new = Share(shared_size(copy.plan, copy.options))
                else:
                    new = shares.setdefault(id(share), (share, Share(share.size)))[1]
                self._insert(copy, new)
            self._bound()

    def _insert(self, message: Message, share: Share) -> None:
        self._all[message.seq] = message
        self._order.append(message)
        outbox = self._outboxes.get(message.account)
        if outbox is None:
            outbox = self._outboxes[message.account] = _Outbox()
        outbox.add(message)
        if message.due is not None:
            heapq.heappush(self._heaps.setdefault(message.account, []), (message.due, message.seq, message))
        self._count_in(message, share)

    # --- state documents (GET/PUT /__admin/state) ------------------------------------------------

    def export(self, account: str | None = None) -> dict[str, list[dict[str, object]]]:
        """username -> message documents, oldest first."""
        self.advance()
        exported: dict[str, list[dict[str, object]]] = {}
        with self._lock:
            for message in (self._all.values() if account is None else
                            (self._outboxes[account].messages.values() if account in self._outboxes else ())):
                if not under_way(message):
                    exported.setdefault(message.account, []).append(message_document(message, self.date))
        return exported

    def load(self, documents: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        """Replace every message with those of documents checked by ``message_from_document``."""
        with self._lock:
            self.clear()
            for account, items in documents.items():
                last: Message | None = None
                for document in items:
                    self._seq += 1
                    message = message_from_document(self._seq, account, document, self.clock_time)
                    if last is not None and last.plan == message.plan and last.options == message.options:
                        # One send's messages, exported one by one: they share again (memory and bytes).
                        message.plan, message.options = last.plan, last.options
                        assert last.share is not None
                        share = last.share
                    else:
                        share = Share(shared_size(message.plan, message.options))
                    self._insert(message, share)
                    last = message
            self._bound()


def under_way(message: Message) -> bool:
    """Whether ``message``'s send is still being kept in steps (``Share.under_way``)."""
    return message.share is not None and message.share.under_way


def chosen(pool: Iterable[Message], message_id: str | None, bulk_id: str | None,
           limit: int | None) -> list[Message]:
    """The messages of ``pool`` with that message or bulk ID (None: any), the newest ``limit`` of them."""
    found = [message for message in pool if (message_id is None or message.message_id == message_id)
             and (bulk_id is None or message.bulk_id == bulk_id)]
    if limit is not None:
        found = found[-limit:] if limit > 0 else []
    return found


def _shown_url(url: str | None) -> str | None:
    """A notifyUrl as records show it: its credentials masked."""
    return None if url is None else masked_url(url)
