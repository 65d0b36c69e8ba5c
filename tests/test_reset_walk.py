"""The reset walks the state's components (testing/resets.py): none can be forgotten.

Every field of ``State`` is either reset (``RESETS``) or declared stateless (``STATELESS``). Each reset
component has a probe here: something put in it for two accounts, and what it looks like for one account (or
all). A whole reset brings every component back to its start; an account's reset brings back that account's
part of every component and nothing else; removing an account forgets it everywhere. A component left out of
the walk fails these tests (checked by leaving each one out in turn), on both stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.ratelimit import Rule
from mock_omni.domain.delivery import DeliveryRuleIn
from mock_omni.state import State
from mock_omni.testing import resets
from mock_omni.testing.admin_models import FaultIn, NewAccountIn
from mock_omni.testing.resets import RESETS, STATELESS

from .conftest import ALADDIN_BASIC, GENIE_BASIC
from .sending import WALL_START, body

pytestmark = pytest.mark.both_stores

ALADDIN, GENIE = "Aladdin", "Genie"
AUTH = {ALADDIN: ALADDIN_BASIC, GENIE: GENIE_BASIC}


@dataclass(frozen=True)
class Probe:
    #: Puts something in the component for one account (and, for a global component, in its global part).
    dirty: Callable[[MockOmni, str], None]
    #: What the component holds of one account, or of everyone (None).
    look: Callable[[MockOmni, str | None], object]
    #: False: the component is global (the clock, server errors); an account's reset leaves it.
    per_account: bool = True


def post(app: MockOmni, account: str, path: str, data: dict[str, object]) -> None:
    response = TestClient(app).post(path, json=data, headers={"Authorization": AUTH[account]})
    assert response.status_code in (200, 201), response.text


def probes() -> dict[str, Probe]:
    tickets: dict[str, int] = {}

    def in_flight(app: MockOmni, account: str | None) -> bool:
        """Whether a request that started at ``dirty`` may still act (for the account, or for anyone)."""
        return any(app.state.fence.admits(ticket, owner) for owner, ticket in tickets.items()
                   if account is None or owner == account)

    def limits(app: MockOmni, account: str | None) -> object:
        limiter = app.state.limiter
        overrides = sorted((owner, op, str(rule)) for (owner, op), rule in limiter.overrides.items()
                           if account is None or owner == account)
        buckets = [bucket for bucket in limiter.buckets() if account is None or bucket["account"] == account]
        rules = {op: str(rule) for op, rule in limiter.rules.items()} if account is None else None
        return overrides, buckets, rules

    def limit(app: MockOmni, account: str) -> None:
        app.state.limiter.set_rule("update", Rule(1, 3600), account)
        app.state.limiter.set_rule("logs", Rule(7, 60))

    def records(app: MockOmni, account: str | None) -> object:
        kept = app.admin.records
        snapshots = sorted(repr(key) for key in kept.snapshots if account is None or key[0] == account)
        if account is not None:
            return snapshots, kept.clocks.offset(account)
        return snapshots, sorted(kept.created), [kept.clocks.offset(owner) for owner in AUTH]

    def remember(app: MockOmni, account: str) -> None:
        app.admin.save_snapshot("dirt", account)
        app.admin.advance_clock(30, account)
        made = {"username": f"made-by-{account}", "password": "pw"}
        app.admin.create_account(NewAccountIn.model_validate(made), made)

    def take_ticket(app: MockOmni, account: str) -> None:
        tickets[account] = app.state.fence.ticket()

    def add_rule(app: MockOmni, account: str) -> None:
        app.state.delivery_rules.add(DeliveryRuleIn.model_validate(
            {"destination": "0000*", "account": account, "outcome": "REJECTED"}))

    def add_fault(app: MockOmni, account: str) -> None:
        app.state.faults.add(FaultIn.model_validate({"status": 503, "path": "/nothing", "account": account}))

    def callbacks(app: MockOmni, account: str | None) -> object:
        webhooks = app.state.webhooks
        return [c.to_dict() for c in webhooks.records(account)], webhooks.pending if account is None else 0

    return {
        "fence": Probe(take_ticket, in_flight),
        "accounts": Probe(lambda app, account: post(app, account, "/omni/1/scenarios",
                                                 {"name": "dirt", "flow": [{"channel": "SMS"}]}),
                       lambda app, account: app.state.accounts.export(account)),
        "messages": Probe(lambda app, account: post(app, account, "/omni/1/advanced", body(None, "41793026727")),
                          lambda app, account: app.state.messages.messages(account)),
        "webhooks": Probe(lambda app, account: post(app, account, "/omni/1/advanced", body(
                              None, "41793026728", notifyUrl="http://127.0.0.1:9/hook")), callbacks),
        "delivery_rules": Probe(add_rule,
                                lambda app, account: [r.to_dict() for r in app.state.delivery_rules.rules(account)]),
        "journal": Probe(lambda app, account: app.state.journal.record("GET", "/dirt", b"", [], b"", None, account,
                                                                       "dirt"),
                         lambda app, account: [entry.to_dict() for entry in app.state.journal.entries()
                                               if account is None or entry.account == account]),
        "faults": Probe(add_fault, lambda app, account: [fault.to_dict() for fault in app.state.faults.rules(account)]),
        "errors": Probe(lambda app, account: app.state.errors.record(f"GET /{account}", RuntimeError("dirt")),
                        lambda app, _: ([e.to_dict() for e in app.state.errors.entries()], app.state.errors.recorded),
                        per_account=False),
        "limiter": Probe(limit, limits),
        "clock": Probe(lambda app, account: app.state.clock.advance(60), lambda app, account: app.state.clock.offset,
                       per_account=False),
        "records": Probe(remember, records),
    }


class Dirtied:
    """An app whose every component holds something of both accounts, and what each held at the start."""

    def __init__(self, app: MockOmni) -> None:
        self.app = app
        self.probes = probes()
        self.start = {name: {owner: probe.look(app, owner) for owner in (None, *AUTH)}
                      for name, probe in self.probes.items()}
        for probe in self.probes.values():
            for account in AUTH:
                probe.dirty(app, account)
        # The dirt landed: each component differs from its start, for everyone and for each account.
        assert self.differ(None) == list(self.probes)
        assert self.differ(ALADDIN) == self.differ(GENIE) == [
            name for name, probe in self.probes.items() if probe.per_account]

    def differ(self, account: str | None) -> list[str]:
        """The components whose part (of ``account``, or everything) is not as it was at the start."""
        return [name for name, probe in self.probes.items() if (account is None or probe.per_account)
                and probe.look(self.app, account) != self.start[name][account]]


@pytest.fixture
def dirtied(new_app: Callable[..., MockOmni]) -> Dirtied:
    return Dirtied(new_app(wall_clock=lambda: WALL_START))


def test_every_field_of_the_state_is_reset_or_declared_stateless() -> None:
    names = {field.name for field in fields(State)}
    assert names - RESETS.keys() - STATELESS.keys() == set(), "a new component: add it to RESETS (resets.py)"
    assert (RESETS.keys() | STATELESS.keys()) - names == set()
    assert RESETS.keys() & STATELESS.keys() == set()


def test_every_component_the_walk_resets_has_a_probe() -> None:
    assert list(probes()) == list(RESETS)


def test_a_reset_brings_every_component_back_to_its_start(dirtied: Dirtied) -> None:
    dirtied.app.reset()
    assert dirtied.differ(None) == []


def test_an_accounts_reset_brings_back_its_part_of_every_component_and_nothing_else(dirtied: Dirtied) -> None:
    dirtied.app.reset(GENIE)
    assert dirtied.differ(GENIE) == []
    per_account = [name for name, probe in dirtied.probes.items() if probe.per_account]
    assert dirtied.differ(ALADDIN) == per_account
    assert dirtied.differ(None) == list(RESETS)  # the global components (and Aladdin's parts) kept their dirt


def test_removing_an_account_forgets_it_in_every_component(dirtied: Dirtied) -> None:
    dirtied.app.admin.remove_account(GENIE)
    assert GENIE not in dirtied.app.state.accounts.usernames()
    dirtied.probes.pop("accounts")  # its part is gone, not back to the start
    assert dirtied.differ(GENIE) == []
    assert dirtied.differ(ALADDIN) == [name for name, probe in dirtied.probes.items() if probe.per_account]


@pytest.mark.parametrize("left_out", list(RESETS))
def test_a_component_left_out_of_the_walk_is_caught(
    left_out: str, dirtied: Dirtied, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(resets.RESETS, left_out)
    dirtied.app.reset()
    assert dirtied.differ(None) == [left_out]
