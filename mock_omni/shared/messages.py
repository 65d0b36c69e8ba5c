"""Messages on Redis (domain/messages.py, shared by every replica): sends, the walk on the clock,
one-time reports, logs, pushes.

Each account's messages live in its slot (keys.py's ``MessageKeys``): records by seq, indexes by
message and bulk ID, the transitions due by time on the account's clock, the final reports ready
(in the order they became so) and fetched, and the pushes to make. The walk itself is the memory
class's code (``_start``, ``_end_step``, ``_walk_due``), run on records read from Redis:

- A send checks the call first (``hold``: credentials, scopes, 415, 429, 400, the fence), walks its
  new messages, commits in {g} what the walk used of the delivery rules with the messages' new seqs
  (lua/messages/commit.lua; a walk on rules changed meanwhile walks again), then writes them in one
  script (write.lua), which also queues their pushes.
- What falls due is walked by one replica at a time: the account's claim (claim.lua) hands its due
  transitions to one replica, with a lease, until that replica writes them back. Every replica's
  ticker looks at the accounts whose next transition is due ({g}'s schedule); a call that reads
  messages (reports, logs) first walks its account's due transitions, waiting for another
  replica's claim if need be, so it sees the clock's present as one process would.
- A final report is taken by exactly one call (take.lua), whichever replica it reaches.
- A push is made by the replica whose script queued it (each queued once), then acknowledged; if
  that replica dies first, the push's lease runs out and another replica's ticker makes it.
- The bound on kept messages holds across accounts: {g} keeps every message's seq in send order,
  and a send past the bound drops the oldest, wherever they are.

In a vendor call, everything random or drawn from this replica's caches comes through ``stable``,
so the call's step runs again the same way after each round trip (link.py).
"""

from __future__ import annotations

import functools
import heapq
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..domain.delivery import PENDING_ACCEPTED, PENDING_ENROUTE, STATUS_OF, DeliveryRules, Rule
from ..domain.errors import GeneralError, InvalidArgument
from ..domain.message import FETCHED, NOT_READY, READY, Message
from ..domain.message_documents import message_document, message_from_document
from ..domain.messages import LogQuery, Messages, Notification, Notify, chosen, send_answer
from ..domain.plans import PlannedStep, SendOptions
from ..domain.scenarios import Step
from ..domain.send_request import OmniAdvancedRequest
from . import scripts
from .clock import SharedClock
from .delivery import SharedDeliveryRules
from .gate import CURRENT, TICKET, Fenced, hold
from .keys import tag, untag
from .link import RECORDING, Link, StoreUnavailable, as_bytes, as_names, stable
from .store import RedisStore, dumps, load_json

log = logging.getLogger("mock_omni")

FLOW = scripts.named("messages/flow", "bucket")
COMMIT = scripts.named("messages/commit")
WRITE = scripts.named("messages/write", "messages/schedule")
CLAIM = scripts.named("messages/claim", "bucket", "messages/schedule")
TAKE = scripts.named("messages/take")
READ = scripts.named("messages/read")
DROP = scripts.named("messages/drop")
ACK = scripts.named("messages/ack")
DUE = scripts.named("messages/due", "bucket")
RESCHEDULE = scripts.named("messages/reschedule")

#: Seconds a claim on an account's due transitions, and a push, stays with the replica that took it.
LEASE = 10.0
#: Transitions one claim hands over at most (the rest in the next).
MAX_CLAIM = 2000
#: Accounts one tick of a replica looks at at most.
TICK_ACCOUNTS = 100
#: Tries of a call that must see its account's transitions walked, while another replica walks them.
WAITS = 200
#: Walks of one send or advance before giving up, each after the delivery rules changed under it.
ATTEMPTS = 5
#: Messages read at once for the logs (newest first, until the limit is met).
PAGE = 1000

_STATUSES = {status.name: status for status in (PENDING_ACCEPTED, PENDING_ENROUTE, *STATUS_OF.values())}


def record(message: Message) -> bytes:
    """A message as Redis keeps it (where its report is, is kept beside it: ready, fetched)."""
    options = message.options
    return dumps({
        "i": message.message_id, "b": message.bulk_id, "t": message.to,
        "p": [[s.channel, s.sender, s.text, s.validity, s.parts, s.price] for s in message.plan],
        "o": [options.scenario_key, options.notify_url, options.content_type, options.notify, options.intermediate,
              options.callback_data],
        "s": message.sent_at, "k": message.step, "st": message.status.name, "pe": message.pending, "d": message.due,
        "dn": message.done_at, "w": message.walk,
    })


def message_from(seq: int, account: str, raw: bytes, report: int) -> Message:
    data = load_json(raw)
    message = Message(seq, account, data["i"], data["b"], data["t"], tuple(PlannedStep(*step) for step in data["p"]),
                      SendOptions(*data["o"]), data["s"])
    message.step, message.status, message.pending, message.due, message.done_at = (
        data["k"], _STATUSES[data["st"]], data["pe"], data["d"], data["dn"])
    message.walk = tuple((channel, outcome, started, ended) for channel, outcome, started, ended in data["w"])
    message.report = report
    return message


def _as_they_are(messages: list[Message], walked: _Walk) -> list[Message]:
    """A walk that moves nothing: messages loaded as they were."""
    return messages


def _notification(raw: bytes) -> Notification:
    account, url, content_type, report, callback_data = load_json(raw)
    return Notification(account, url, content_type, report, callback_data)


@dataclass
class _Walk:
    """What one walk did: transitions still ahead (``heap``), reports made ready, pushes to make."""

    trial: DeliveryRules
    heap: list[tuple[float, int, Message]] = field(default_factory=list)
    ready: set[int] = field(default_factory=set)
    pushes: list[Notification] = field(default_factory=list)
    finished: list[dict[str, object]] = field(default_factory=list)


class SharedMessages(Messages):
    def __init__(self, link: Link, store: RedisStore, clock: SharedClock, rules: SharedDeliveryRules, *,
                 limit: int, notify: Notify | None = None, wall_clock: Callable[[], float] = time.time) -> None:
        # The base class's store serves only its flow(), replaced here.
        super().__init__(store, clock, rules, limit=limit, notify=notify,  # type: ignore[arg-type]
                         wall_clock=wall_clock)
        self.link = link
        self.shared_clock = clock
        self.delivery = rules
        self._walking: _Walk | None = None
        # Dates are the mock's clock plus one offset for every replica: the first replica's, kept on Redis.
        keys = link.keys
        with link.guard():
            link.client.set(keys.config + ":dates", repr(self._epoch), nx=True)
            self._epoch = float(as_bytes(link.client.get(keys.config + ":dates")) or self._epoch)
        rules.reload()

    # --- counts kept on Redis ------------------------------------------------------------------

    @property
    def sent(self) -> int:
        with self.link.guard():
            return int(as_bytes(self.link.client.get(self.link.keys.msg_sent)) or 0)

    @sent.setter
    def sent(self, value: int) -> None:
        """Counted by the sends' scripts (the base class starts it at 0)."""

    @property
    def dropped(self) -> int:
        with self.link.guard():
            return int(as_bytes(self.link.client.get(self.link.keys.msg_dropped)) or 0)

    @dropped.setter
    def dropped(self, value: int) -> None:
        """Counted by the sends' scripts."""

    def count(self, account: str | None = None) -> int:
        keys = self.link.keys
        with self.link.guard():
            return int(self.link.client.zcard(keys.msg_order if account is None else keys.messages(account).order))

    # --- sending ---------------------------------------------------------------------------------

    def flow(self, account: str, key: str | None) -> tuple[str, tuple[Step, ...]]:
        chosen, flow, _ = self._flow(account, key)
        return chosen, flow

    def _flow(self, account: str, key: str | None) -> tuple[str, tuple[Step, ...], float]:
        """The scenario's key and flow, and the account's time now."""
        keys = self.link.keys.account(account)
        reply = self.link.run(FLOW, (keys.account, keys.scenarios), [key or "", *self._time()])
        code = reply[0]
        if code == b"U":
            raise InvalidArgument(validation_errors={"scenarioKey": ["the account has no scenarios"]})
        if code == b"D":
            raise InvalidArgument(validation_errors={"scenarioKey": ["is required: the account has no default "
                                                                     "scenario"]})
        if code == b"K":
            raise InvalidArgument(validation_errors={"scenarioKey": [f"no scenario {reply[1].decode()}"]})
        flow = tuple(Step(step.get("from"), step["channel"]) for step in load_json(reply[2]))
        return reply[1].decode(), flow, float(reply[3])

    def send(self, account: str, request: OmniAdvancedRequest) -> dict[str, object]:
        scenario_key, flow, now = self._flow(account, request.scenarioKey)
        tos, plan, options = self._prepared.get(request, scenario_key, flow)
        start = self.start_time(request, now)
        ids, bulk_id = stable(lambda: self.message_ids(request))
        hold(self.link, account)  # the call's checks before its first change

        def walk(walked: _Walk) -> list[Message]:
            messages = [Message(index, account, message_id, bulk_id, to, plan, options, start)
                        for index, (to, message_id) in enumerate(zip(tos, ids, strict=True))]
            for message in messages:
                self.launch(message, now, walked.pushes)
            return messages

        messages, walked, first, dropped = self._committed(account, len(ids), walk)
        for index, message in enumerate(messages):
            message.seq = first + index
        gate = CURRENT.get()
        ticket = str(gate.argv[TICKET]) if gate is not None else ""
        self._write(account, messages, walked, new=True, ticket=ticket)
        self._drop_bound(dropped)
        return send_answer(tos, ids, bulk_id)

    # --- the walk ----------------------------------------------------------------------------------

    def _wait(self, message: Message, pending: str, due: float) -> None:
        assert self._walking is not None
        message.pending, message.due = pending, due
        heapq.heappush(self._walking.heap, (due, message.seq, message))

    def _ready(self, message: Message) -> None:
        assert self._walking is not None
        self._walking.ready.add(id(message))

    @contextmanager
    def _walk(self, rules: Iterable[Rule]) -> Iterator[_Walk]:
        """A walk on a copy of ``rules``: the base class's code decides, waits and readies into it."""
        with self._lock, self.delivery.walking(rules) as trial:
            self._walking = walked = _Walk(trial)
            try:
                yield walked
            finally:
                self._walking = None

    def _committed(self, account: str, new: int, walk: Callable[[_Walk], list[Message]],
                   ) -> tuple[list[Message], _Walk, int, list[str]]:
        """Walk (``walk``), then commit the rules it used and number ``new`` messages; walk again on rules
        changed meanwhile. The messages, the walk, the first new seq and the messages the bound dropped."""
        keys = self.link.keys
        for _ in range(ATTEMPTS):
            version, rules = stable(self.delivery.snapshot)

            messages, walked = stable(functools.partial(self._walked, rules, walk))
            used = walked.trial.used or {}
            if not new and not used:
                return messages, walked, 0, []
            uses = [str(part) for rule_id, count in used.items() for part in (rule_id, count)]
            reply = self.link.run(COMMIT, (*self.delivery.keys, keys.msg_seq, keys.msg_order, keys.msg_sent,
                                           keys.msg_dropped), [version, str(new), str(self.limit), tag(account), *uses])
            if reply[0] == b"O":
                return messages, walked, int(reply[1]), [member.decode() for member in reply[2:]]
            self.delivery.reload()
        raise GeneralError("The delivery rules kept changing; try again.")

    def _walked(self, rules: list[Rule], walk: Callable[[_Walk], list[Message]]) -> tuple[list[Message], _Walk]:
        with self._walk(rules) as walked:
            return walk(walked), walked

    def _write(self, account: str, messages: list[Message], walked: _Walk, *, new: bool = False, ticket: str = "",
               token: str = "", reports: Mapping[int, int] | None = None) -> bool:
        """Write ``messages`` (new, or walked under the claim ``token``) and queue the walk's pushes; make them.
        ``reports`` gives the report state of loaded messages by seq. False if the claim was lost."""
        keys = self.link.keys.messages(account)
        args: list[str | bytes] = [ticket, token, repr(LEASE), repr(self.shared_clock.config.current.offset),
                                   str(len(messages))]
        for message in messages:
            if reports is not None:
                report = {READY: "1", FETCHED: "2"}.get(reports.get(message.seq, NOT_READY), "")
            else:
                report = "1" if id(message) in walked.ready else ""
            meta = (f"{message.walk[-1][0]}\t{message.done_at!r}\t{message.bulk_id or ''}"
                    if report == "1" and message.walk else "")
            args += [str(message.seq), record(message), message.message_id if new else "", message.bulk_id or "",
                     "" if message.due is None else repr(message.due), report, meta]
        args += [dumps(list(push)) for push in walked.pushes]
        reply = self.link.run(WRITE, keys, args)
        if reply[0] == b"F":
            raise Fenced()
        if reply[0] == b"L":
            log.warning("mock-omni: the claim on %s's messages ran out before its walk was written; walked again",
                        account)
            return False
        self._reschedule(account, reply[1], reply[2])
        self._deliver(account, [(job_id, push) for job_id, push in zip(reply[3:], walked.pushes, strict=True)])
        return True

    def _deliver(self, account: str, jobs: list[tuple[bytes, Notification]]) -> None:
        """Make the pushes (once, however often a vendor call's step runs), then let their jobs go."""
        if not jobs:
            return
        try:
            stable(lambda: self._push([push for _, push in jobs]))
        finally:
            keys = self.link.keys.messages(account)
            self.link.run(ACK, (keys.pushes, keys.push_jobs), [job_id for job_id, _ in jobs])

    def _reschedule(self, account: str, version: bytes, look: bytes) -> None:
        keys = self.link.keys
        self.link.run(RESCHEDULE, (keys.msg_scheduled, keys.msg_versions), [tag(account), version, look])

    def _drop_bound(self, members: list[str]) -> None:
        """Drop the messages the bound chose ("seq tag" members of {g}'s order), account by account."""
        by_account: dict[str, list[str]] = {}
        for member in members:
            seq, _, tagged = member.partition(" ")
            by_account.setdefault(tagged, []).append(seq)
        for tagged, seqs in by_account.items():
            keys = self.link.keys.messages_by_tag(tagged)
            self.link.run(DROP, (keys.msgs, keys.order, keys.ids, keys.bulks, keys.due, keys.ready, keys.ready_meta,
                                 keys.fetched), seqs)

    def _time(self) -> tuple[str, str]:
        """The time a script should take ('' for Redis's) and the global clock's offset."""
        return self.shared_clock.base(), repr(self.shared_clock.config.current.offset)

    # --- what falls due ----------------------------------------------------------------------------

    def advance(self) -> list[dict[str, object]]:
        """The ticker's look at the accounts whose transitions are due (any replica's ticker may take one)."""
        if RECORDING.get() is not None:
            return []  # in a vendor call: its account's own operations walk what they need
        keys = self.link.keys
        finished = []
        try:
            for tagged in self.link.run(DUE, (keys.msg_scheduled,), [*self._time(), str(TICK_ACCOUNTS)]):
                finished += self._advance(untag(tagged), wait=False)[0]
        except StoreUnavailable:
            pass  # Redis is away (the link said so once): the next tick after it is back does it
        return finished

    def _advance(self, account: str, wait: bool) -> tuple[list[dict[str, object]], float]:
        """Walk the account's due transitions (if no other replica is: with ``wait``, once it has); the final
        reports that became ready, and the account's time now."""
        keys = self.link.keys.messages(account)
        token = stable(lambda: secrets.token_hex(8))
        for _ in range(WAITS if wait else 1):
            reply = self.link.run(CLAIM, (keys.account, keys.msgs, keys.due, keys.pushes, keys.push_jobs),
                                  [token, repr(LEASE), *self._time(), str(MAX_CLAIM)])
            if reply[0] != b"B":
                break
            if RECORDING.get() is None:
                time.sleep(0.002)  # a vendor call's step waits a round trip instead
        now = float(reply[1])
        if reply[0] == b"B":
            return [], now  # still walked elsewhere: the reader sees the state as it is
        if reply[0] == b"N":
            self._reschedule(account, reply[2], reply[3])
            return [], now
        count = int(reply[2])
        claimed = [(int(reply[3 + 3 * i]), reply[4 + 3 * i]) for i in range(count) if reply[4 + 3 * i] is not None]
        lapsed = reply[3 + 3 * count:]

        def walk(walked: _Walk) -> list[Message]:
            messages = [message_from(seq, account, raw, NOT_READY) for seq, raw in claimed]
            for message in messages:
                if message.due is not None:
                    heapq.heappush(walked.heap, (message.due, message.seq, message))
            self._walk_due(walked.heap, now, walked.pushes, walked.finished)
            return messages

        messages, walked, _, _ = self._committed(account, 0, walk)
        if not self._write(account, messages, walked, token=token):
            return [], now
        self._deliver(account, [(lapsed[i], _notification(lapsed[i + 1])) for i in range(0, len(lapsed), 2)
                                if lapsed[i + 1] is not None])
        return walked.finished, now

    # --- reports and logs ------------------------------------------------------------------------

    def take_reports(self, account: str, bulk_id: str | None = None, message_id: str | None = None,
                     channel: str | None = None, limit: int = 50) -> list[dict[str, object]]:
        hold(self.link, account)
        self._advance(account, wait=True)
        keys = self.link.keys.messages(account)
        reply = self.link.run(TAKE, (keys.msgs, keys.ready, keys.ready_meta, keys.ids, keys.bulks, keys.fetched),
                              [bulk_id or "", message_id or "", channel or "", str(limit)])
        taken = [message_from(int(reply[i]), account, reply[i + 1], FETCHED) for i in range(0, len(reply), 2)]
        return [self._report(message, len(message.walk) - 1) for message in taken]

    def logs(self, account: str, *, sender: str | None = None, to: str | None = None,
             bulk_ids: Iterable[str] = (), message_ids: Iterable[str] = (), general_status: str | None = None,
             channel: str | None = None, since: float | None = None, until: float | None = None,
             limit: int = 50, mcc: str | None = None, mnc: str | None = None) -> list[dict[str, object]]:
        hold(self.link, account)
        _, now = self._advance(account, wait=True)
        query = LogQuery(now, sender, to, set(bulk_ids), set(message_ids), general_status, channel, since, until,
                         limit, mcc, mnc)
        if limit <= 0:
            return []
        if query.message_ids or query.bulk_ids:
            chosen = self._read(account, "ids" if query.message_ids else "bulks",
                                *sorted(query.message_ids or query.bulk_ids))
            return self._logs_of(reversed(chosen), query)
        return self._logs_of(self._newest_first_pages(account), query)

    def _newest_first_pages(self, account: str) -> Iterator[Message]:
        start = 0
        while True:
            page = self._read(account, "newest", str(start), str(PAGE))
            yield from page
            if len(page) < PAGE:
                return
            start += PAGE

    def _read(self, account: str, what: str, *args: str) -> list[Message]:
        keys = self.link.keys.messages(account)
        reply = self.link.run(READ, (keys.msgs, keys.order, keys.ids, keys.bulks, keys.ready, keys.fetched),
                              [what, *args])
        return [message_from(int(reply[i]), account, reply[i + 1], int(reply[i + 2])) for i in range(0, len(reply), 3)]

    # --- the testing toolkit's view, snapshots, state ------------------------------------------------

    def _accounts(self) -> list[str]:
        """Every account that may have messages: those in the bound's order and those scheduled."""
        keys = self.link.keys
        with self.link.guard():
            members = as_names(self.link.client.zrange(keys.msg_order, 0, -1))
            scheduled = as_names(self.link.client.zrange(keys.msg_scheduled, 0, -1))
        tags = {member.partition(" ")[2] for member in members} | set(scheduled)
        return [untag(tagged) for tagged in sorted(tags)]

    def _every(self, account: str | None) -> list[Message]:
        """Every message (or one account's), oldest first, with its walk up to now."""
        if account is not None:
            self._advance(account, wait=True)
            return self._read(account, "all")
        self.advance()
        found = [message for name in self._accounts() for message in self._read(name, "all")]
        return sorted(found, key=lambda message: message.seq)

    def messages(self, account: str | None = None, message_id: str | None = None, bulk_id: str | None = None,
                 limit: int | None = None) -> list[dict[str, object]]:
        if account is not None and (message_id is not None or bulk_id is not None):
            self._advance(account, wait=True)
            pool = self._read(account, "ids" if message_id is not None else "bulks", message_id or bulk_id or "")
        else:
            pool = self._every(account)
        return [self.view(message) for message in chosen(pool, message_id, bulk_id, limit)]

    def snapshot(self, account: str | None = None) -> list[Message]:
        return self._every(account)

    def restore(self, messages: Iterable[Message], account: str | None = None) -> None:
        self.clear(account)
        self._insert_all(list(messages))

    def load(self, documents: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        self.clear()
        self._insert_all([message_from_document(0, account, document, self.clock_time)
                          for account, items in documents.items() for document in items])

    def _insert_all(self, messages: list[Message]) -> None:
        """Messages as they are (snapshots, documents), under new seqs, account by account."""
        by_account: dict[str, list[Message]] = {}
        for message in messages:
            by_account.setdefault(message.account, []).append(message)
        for account, own in by_account.items():
            copies = [message.copy(0) for message in own]
            _, walked, first, dropped = self._committed(account, len(copies), functools.partial(_as_they_are, copies))
            reports = {}
            for index, (copy, original) in enumerate(zip(copies, own, strict=True)):
                copy.seq = first + index
                reports[copy.seq] = original.report
            self._write(account, copies, walked, new=True, reports=reports)
            self._drop_bound(dropped)

    def export(self, account: str | None = None) -> dict[str, list[dict[str, object]]]:
        exported: dict[str, list[dict[str, object]]] = {}
        for message in self._every(account):
            exported.setdefault(message.account, []).append(message_document(message, self.date))
        return exported

    def clear(self, account: str | None = None) -> None:
        keys = self.link.keys
        accounts = self._accounts() if account is None else [account]
        with self.link.guard():
            pipe = self.link.client.pipeline(transaction=True)
            for name in accounts:
                own = keys.messages(name)
                if account is not None:
                    seqs = as_names(self.link.client.zrange(own.order, 0, -1))
                    if seqs:
                        pipe.zrem(keys.msg_order, *(f"{seq} {tag(name)}" for seq in seqs))
                    pipe.zrem(keys.msg_scheduled, tag(name))
                pipe.delete(*own.owned)
            if account is None:
                pipe.delete(keys.msg_order, keys.msg_scheduled, keys.msg_versions)
            pipe.execute()
