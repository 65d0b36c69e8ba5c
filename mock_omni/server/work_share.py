"""The event loop's time shared by work, not by request: big calls run a few steps per turn of the loop.

uvloop serves each ready connection once per turn, and the direct path answers a call whole where it is read. A
1,000-destination send holds the loop for about 7 ms; with eight connections sending them back to back a turn lasted
about 60 ms, and a small call on another connection got one answer per turn (about 100 a second where it had 16,000
alone: bench part 6c). So calls with a big body are not answered in place: their work (``VendorApi.answering``, in
steps: domain/steps.py) waits here, and each turn of the loop runs steps of it, the oldest call first, for at most
``BUDGET`` of time; the calls answered in place run between the turns. The ASGI path (``VendorApi.decide``:
``--asgi-only``, a fault rule armed, CORS...) awaits the same share (``finish``), so one server shares its time one
way whichever path a call takes. A step that overruns (a big body's parse is one step) is paid back by the next
turns' budgets, so the share holds on average. With nothing else to do, a turn is a few microseconds and the big
calls get nearly the whole loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from ..domain.steps import Steps, run

T = TypeVar("T")
log = logging.getLogger("mock_omni")

#: Seconds of big calls' work per turn of the loop: with eight connections of small calls beside, they keep about
#: half their rate alone (bench part 6c; 0.5 ms kept 0.38x).
BUDGET = 0.0003
#: A request body at least this big is answered through the share (a 100-destination send is about 4 KiB, half
#: a millisecond of work; one destination with a 1,000-character text stays in place, tens of microseconds).
BIG_BODY = 4 * 1024

#: Told the work's result, or the exception it raised.
Done = Callable[[T | None, BaseException | None], None]
#: One piece of work waiting in the share: what ``submit`` returns and ``cancel`` takes.
Entry = tuple["Steps[object]", "Done[object]"]


class WorkShare:
    """Work in steps, run ``budget`` seconds a turn of the event loop, oldest first."""

    def __init__(self, budget: float = BUDGET, clock: Callable[[], float] = time.perf_counter,
                 before_turn: Callable[[], None] | None = None) -> None:
        self.budget = budget
        self._clock = clock
        #: Run at the start of every turn: the answers already decided go out before the steps take their slice
        #: (batched_transport.py's ``Outbox.flush``).
        self.before_turn = before_turn
        self._work: deque[Entry] = deque()
        #: Time the last steps ran past their turns' budgets, not yet paid back.
        self._owed = 0.0
        self._scheduled = False
        #: The loop the work runs on (the server's; an in-process client's for an app built in a test).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._work)

    @staticmethod
    def takes(body: bytes | None) -> bool:
        """Whether a call with this body (None: over the size limit) is answered through the share."""
        return body is not None and len(body) >= BIG_BODY

    def submit(self, loop: asyncio.AbstractEventLoop, steps: Steps[T], done: Done[T]) -> Entry | None:
        """Run ``steps`` over the coming turns, then ``done(result, None)`` (or ``done(None, error)``); on a loop
        that is not the share's (``_owns``), at once (None: nothing waits)."""
        if not self._owns(loop):
            try:
                result = run(steps)
            except Exception as error:  # noqa: BLE001 - its caller answers it
                _tell(done, None, error)  # type: ignore[arg-type]
            else:
                _tell(done, result, None)  # type: ignore[arg-type]
            return None
        entry: Entry = (steps, done)  # type: ignore[assignment]
        self._work.append(entry)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._turn, loop)
        return entry

    def _owns(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether ``loop`` runs this share's work: the first loop that used it (the server's). Another (an app
        built in a test, called from two clients' threads) has its calls carried out at once: the share's
        queue is touched from one thread only."""
        with self._lock:
            if self._loop is None:
                self._loop = loop
            return self._loop is loop

    def cancel(self, entry: Entry) -> bool:
        """Stop the work of ``entry`` where it is (its generator closed: it does no more), ``done`` not told;
        False if it was no longer waiting."""
        try:
            self._work.remove(entry)
        except ValueError:
            return False
        entry[0].close()
        return True

    async def finish(self, steps: Steps[T]) -> T:
        """``steps`` run as ``submit`` runs them, from a task (the ASGI path); their result. At once on a loop
        not the share's, and under trio (an in-process app's anyio backend: no asyncio loop to share)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio
            return run(steps)
        if not self._owns(loop):
            return run(steps)
        future: asyncio.Future[T] = loop.create_future()

        def done(result: T | None, error: BaseException | None) -> None:
            if future.cancelled():
                return  # its task was cancelled (shutdown): the work was done all the same
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        self.submit(loop, steps, done)
        return await future

    def _turn(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.before_turn is not None:
            self.before_turn()
        if self._owed >= self.budget:
            self._owed -= self.budget  # this turn's budget pays back a step that overran
        else:
            budget = self.budget - self._owed
            began = self._clock()
            elapsed = 0.0
            work = self._work
            while work and elapsed < budget:
                steps, done = work[0]
                try:
                    next(steps)
                except StopIteration as finished:
                    work.popleft()
                    _tell(done, finished.value, None)
                except Exception as error:  # noqa: BLE001 - its caller answers it
                    work.popleft()
                    _tell(done, None, error)
                elapsed = self._clock() - began
            self._owed = max(0.0, elapsed - budget)
        if self._work:
            loop.call_soon(self._turn, loop)
        else:
            self._scheduled = False
            self._owed = 0.0


def _tell(done: Done[object], result: object, error: BaseException | None) -> None:
    try:
        done(result, error)
    except Exception:  # noqa: BLE001 - one caller's failure must not stop the others' work
        log.exception("mock-omni: answering a call with a big body failed")
