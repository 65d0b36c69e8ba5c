"""The garbage collector, set for a server that keeps many objects alive for long.

A server holds tens of thousands of live objects that never become garbage: modules, the
routes and models, and up to the message bound (10,000 by default) of messages. CPython's
collector walks them again and again: each young collection comes every 700 new objects (a
1,000-destination send makes about ten thousand), and each full one walks everything. Measured
on a 1,000-destination send, a third of its time went there (bench/RESULTS.md, part 6).

Start-up makes hundreds of thousands of objects (modules, classes, models) and almost no garbage, and
the collector would walk them dozens of times while they are made: ``mock-omni serve`` pauses it from
its first line (``pause``, about a tenth of the time to the first answer) until ``settle``.

So, once the app is built (the web app too, in the background: server/cli.py): what exists then is moved out
of the collector's sight for good (``gc.freeze``: it is freed as usual when its references go, only cycles
among it would stay), and young collections come much less often. Nothing here creates reference cycles to
collect, and what the server keeps is bounded, so memory does not grow for it.

The young threshold is above what one 1,000-destination send holds at once (its parsed models,
messages and answer: 7,000 to 10,000 tracked objects). The collector counts objects made less
objects freed, and past the message bound a send frees about as many as it keeps, so a load test
of such sends then runs with no collection at all (100 sends in-process: 92 young and 8 middle
collections with a threshold of 7,000, none with 20,000); one that does come walks at most 20,000
young objects, about a millisecond.
"""

from __future__ import annotations

import gc

#: New objects between young collections (CPython's default is 700).
YOUNG_THRESHOLD = 20_000


def pause() -> None:
    """No collection until ``settle`` (or ``resume``): the start-up of the serving process."""
    gc.disable()


def resume() -> None:
    """The collector as it was before ``pause``: a command that does not serve."""
    gc.enable()


def settle() -> None:
    """Freeze what exists now and space out young collections; for the serving process only, once built.
    Collection is on again afterwards (after ``pause``).

    No collection first: the garbage start-up leaves (about 2,000 objects, a few hundred KB) is frozen with
    the rest, where a full collection of everything just built would hold the interpreter (the vendor
    calls answered meanwhile) for about 30 ms. Objects of the calls in flight at that instant are frozen too:
    a cycle among them (a caught exception's) is never collected; once, and small."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()
