"""One message: a destination of a send, walking the send's plan. A record; messages.py moves it on."""

from __future__ import annotations

from .delivery import PENDING_ACCEPTED, Status
from .plans import PlannedStep, SendOptions, address_for

# A message's step in its walk: (channel, outcome or "PENDING", started, ended or None). Tuples of
# atomic values, like the walk itself: the cyclic garbage collector stops tracking them, and with tens
# of thousands of messages kept, tracked containers are what its full collections pay for.
WalkStep = tuple[str, str, float, "float | None"]

#: Where a message's final report is: not yet there, waiting to be fetched, fetched (``Message.report``).
NOT_READY, READY, FETCHED = 0, 1, 2
REPORT_STATES = ("pending", "waiting", "fetched")


class Share:
    """What the messages of one send share (its plan's texts and senders, its options): counted once in the
    bytes kept (``Messages.byte_limit``) while any of them is kept (``holders``)."""

    __slots__ = ("size", "holders", "under_way")

    def __init__(self, size: int) -> None:
        self.size = size
        self.holders = 0
        #: The send is being kept in steps (``Messages.sending``) and has not ended: snapshots and exports leave
        #: its messages out, as they would have before it began (a restore of one stops it, keeping nothing).
        self.under_way = False


class Message:
    """One destination of a send, walking the plan. Mutable: only ``Messages`` changes it, under its lock."""

    __slots__ = ("seq", "account", "message_id", "bulk_id", "to", "plan", "options", "sent_at", "step", "status",
                 "pending", "due", "done_at", "walk", "report", "alive", "share", "size")

    def __init__(self, seq: int, account: str, message_id: str, bulk_id: str | None, to: dict[str, str],
                 plan: tuple[PlannedStep, ...], options: SendOptions, sent_at: float) -> None:
        self.seq = seq
        self.account = account
        self.message_id = message_id
        self.bulk_id = bulk_id
        self.to = to
        self.plan = plan
        self.options = options
        #: When the first step starts (``sendAt`` for a scheduled message).
        self.sent_at = sent_at
        self.step = 0
        self.status: Status = PENDING_ACCEPTED
        #: What happens at ``due``: "START" (scheduled) or the outcome of the step in progress.
        self.pending: str | None = None
        self.due: float | None = None
        self.done_at: float | None = None
        self.walk: tuple[WalkStep, ...] = ()
        self.report = NOT_READY
        self.alive = True
        #: Set by ``Messages`` when it keeps the message: what it shares with its send, and the bytes it holds
        #: alone (``own_size``, counted once; dropping it subtracts the same).
        self.share: Share | None = None
        self.size = 0

    def copy(self, seq: int) -> Message:
        twin = Message(seq, self.account, self.message_id, self.bulk_id, self.to, self.plan, self.options,
                       self.sent_at)
        twin.step, twin.status, twin.pending, twin.due, twin.done_at = (
            self.step, self.status, self.pending, self.due, self.done_at)
        twin.walk = self.walk
        twin.report = self.report
        twin.share = self.share  # which send it was part of (``Messages.restore`` keeps them sharing)
        return twin

    @property
    def channel(self) -> str:
        return self.walk[-1][0] if self.walk else self.plan[0].channel

    def address(self, index: int) -> str:
        """The address the step reached; the phone number (or any address) when it had none."""
        found = address_for(self.plan[index].channel, self.to)
        return found or self.to.get("phoneNumber") or next(iter(self.to.values()), "")
