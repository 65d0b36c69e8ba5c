"""The reset as a walk over the state's components: how each one goes back to its start.

``RESETS`` has one entry per field of state.py's ``State`` that holds state a reset returns:
the way that component goes back to the baseline (the whole reset), or forgets one account
(its reset: the account back to its origin; or its removal: no origin, the account goes).
``STATELESS`` names every other field of ``State`` and why no reset touches it. A field in
neither fails tests/test_reset_walk.py, which also puts something in every component of
``RESETS``, resets, and checks that each one is back to its start, on both stores: a new
component cannot be forgotten.

The order is the walk's: the fence first (a request in flight across the reset writes
nothing), then the accounts, then what hangs on them. Each entry uses only the component's
interface in state.py. Replicas on Redis reset by applying the same reset from their log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..domain.accounts import Account
    from ..state import RateLimits, State
    from .admin import Baseline


@dataclass(frozen=True)
class Target:
    """Where a reset goes: everything to ``baseline``, or one ``account`` to ``origin`` (None: removed)."""

    baseline: Baseline
    account: str | None = None
    #: With ``account``: the account as it started (its fixture, or as created); None: the account goes.
    origin: Account | None = None


Reset = Callable[["State", Target], None]


def restore_limits(limiter: RateLimits, baseline: Baseline, account: str | None = None) -> None:
    """Back to the baseline's limits with full buckets: everyone's, or one account's (its overrides go)."""
    limiter.reset(account, rules=True)
    if account is None:
        for op, rule in baseline.limits.items():
            limiter.set_rule(op, rule)


def _fence(state: State, to: Target) -> None:
    state.fence.close(to.account)


def _accounts(state: State, to: Target) -> None:
    store = state.accounts
    if to.account is None:
        store.replace([account.copy() for account in to.baseline.accounts])
    elif to.origin is None:
        store.remove_account(to.account)  # NotFound when there is none: nothing after the fence changes
    elif store.account(to.account) is None:
        store.add_account(to.origin.copy())
    else:
        store.replace_account(to.origin.copy())


def _messages(state: State, to: Target) -> None:
    if to.account is None:
        state.messages.load(to.baseline.messages)
    else:
        state.messages.clear(to.account)


def _webhooks(state: State, to: Target) -> None:
    if to.account is None:
        state.webhooks.restore(to.baseline.callbacks)  # what was queued is not sent
    else:
        state.webhooks.clear(to.account)


def _delivery_rules(state: State, to: Target) -> None:
    if to.account is None:
        state.delivery_rules.replace(to.baseline.delivery_rules)
    else:
        state.delivery_rules.clear(to.account)


def _journal(state: State, to: Target) -> None:
    state.journal.clear(to.account)


def _faults(state: State, to: Target) -> None:
    """Cleared, then the baseline's rules (of the account) armed again, their uses and draws from the start."""
    state.faults.clear(to.account)
    for rule in to.baseline.faults:
        if to.account is None or rule.account == to.account:
            state.faults.add(rule)


def _errors(state: State, to: Target) -> None:
    if to.account is None:  # server errors are global: an account's reset keeps them
        state.errors.clear()


def _limiter(state: State, to: Target) -> None:
    restore_limits(state.limiter, to.baseline, to.account)


def _clock(state: State, to: Target) -> None:
    if to.account is None:  # everyone's clock; an account's own offset is in the records
        state.clock.reset()


def _records(state: State, to: Target) -> None:
    """The admin's records: accounts' own clocks, created accounts' origins and snapshots (the baseline is
    what a reset returns to, not state it resets)."""
    records = state.records
    if to.account is None:
        records.clocks.clear()
        records.created.clear()
        records.snapshots.clear()
        return
    records.clocks.forget(to.account)
    if to.origin is None:
        records.created.pop(to.account, None)
    for key in [key for key in records.snapshots if key[0] == to.account]:
        del records.snapshots[key]


#: State field -> how it resets, in the walk's order.
RESETS: dict[str, Reset] = {
    "fence": _fence,
    "accounts": _accounts,
    "messages": _messages,
    "webhooks": _webhooks,
    "delivery_rules": _delivery_rules,
    "journal": _journal,
    "faults": _faults,
    "errors": _errors,
    "limiter": _limiter,
    "clock": _clock,
    "records": _records,
}

#: State field -> why a reset leaves it alone.
STATELESS: dict[str, str] = {
    "signin": "its tokens and sessions belong to their accounts (Account.grants): the store's reset takes them",
    "initial_accounts": "the start-up fixtures, read once",
    "initial_messages": "the start-up fixtures, read once",
    "initial_delivery_rules": "the start-up fixtures, read once",
    "vendor": "builds the dispatcher; keeps nothing",
    "close": "releases connections; keeps nothing",
    "replica": "follows the log on Redis: a reset is an entry of it like any other change",
    "origin": "where the state is, for the start-up line",
    "check": "the health check; keeps nothing",
}


def reset_state(state: State, to: Target) -> None:
    """Walk the components: each goes back to ``to``."""
    for reset in RESETS.values():
        reset(state, to)
