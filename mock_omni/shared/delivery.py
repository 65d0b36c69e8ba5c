"""Delivery rules (domain/delivery.py) on Redis, in {g}: the same rules decide every replica's messages.

The rules are kept as JSON with their steps left (counted rules) and hits beside them, and a
version that every change bumps. A replica walks messages on a copy of the rules as it last read
them (``DeliveryRules.trial``), counting what each rule decided; the walk counts only if its commit
(lua/messages/commit.lua) finds the same version and every counted rule it used still able to
decide that many steps. Otherwise the replica reads the rules again and walks again, so a rule
with ``times: 3`` decides exactly three step attempts, whichever replicas walk them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..domain.delivery import MAX_RULES, DeliveryRuleIn, DeliveryRules, Rule, rule_document, rule_from_data
from ..domain.errors import InvalidArgument
from . import scripts
from .link import Link
from .store import dumps, load_json

READ = scripts.named("messages/rules_read")
CHANGE = scripts.named("messages/rules_change")


class SharedDeliveryRules(DeliveryRules):
    def __init__(self, link: Link, default_delay: float) -> None:
        super().__init__((), default_delay)
        self.link = link
        #: The version of the rules this replica last read.
        self.version = "-1"
        #: The copy the current walk decides with (``walking``).
        self._trial: ContextVar[DeliveryRules | None] = ContextVar("mock_omni_delivery_trial", default=None)

    @property
    def keys(self) -> tuple[str, str, str, str]:
        keys = self.link.keys
        return keys.drules, keys.drule_times, keys.drule_hits, keys.drules_version

    # --- what a walk decides with ---------------------------------------------------------------

    def reload(self) -> None:
        """Read the rules as they stand (a script: a vendor call's step may run it again, link.py)."""
        reply = self.link.run(READ, self.keys, [])
        self.version = reply[0].decode()
        parts: list[dict[bytes, bytes]] = [{}, {}, {}]
        at, index = 1, 0
        while index < 3:
            if reply[at] == b"":
                at, index = at + 1, index + 1
                continue
            parts[index][reply[at]] = reply[at + 1]
            at += 2
        rules, times, hits = parts
        loaded = []
        for raw_id in sorted(rules, key=int):
            rule = rule_from_data(load_json(rules[raw_id]), int(raw_id))
            left = times.get(raw_id)
            rule.times = None if left is None else int(left)
            rule.hits = int(hits.get(raw_id, 0))
            loaded.append(rule)
        self._rules = loaded

    def snapshot(self) -> tuple[str, list[Rule]]:
        """The version and rules this replica has read (copies are made by the walk's trial)."""
        return self.version, list(self._rules)

    @contextmanager
    def walking(self, rules: Iterable[Rule]) -> Iterator[DeliveryRules]:
        """Decisions come from a trial copy of ``rules`` meanwhile; its ``used`` is what to commit."""
        trial = DeliveryRules.trial(rules, self.default_delay)
        token = self._trial.set(trial)
        try:
            yield trial
        finally:
            self._trial.reset(token)

    def decide(self, account: str, address: str, channel: str) -> tuple[str, float]:
        trial = self._trial.get()
        if trial is None:
            raise RuntimeError("shared delivery rules decide only within a walk (shared/messages.py)")
        return trial.decide(account, address, channel)

    # --- the admin API's changes --------------------------------------------------------------------

    def _change(self, what: str, *args: str | bytes) -> list[int]:
        reply = self.link.run(CHANGE, (*self.keys, self.link.keys.drule_id), [what, str(MAX_RULES), *args])
        if reply[0] == b"E":
            raise InvalidArgument(f"At most {MAX_RULES} delivery rules; delete some first.")
        self.reload()
        return [int(value) for value in reply[2:]]

    def add(self, data: DeliveryRuleIn) -> Rule:
        (rule_id,) = self._change("add", *_written(data.rule(0)))
        return next(rule for rule in self._rules if rule.id == rule_id)

    def rules(self, account: str | None = None) -> list[Rule]:
        self.reload()
        return [rule for rule in self._rules if account is None or rule.account == account]

    def remove(self, rule_id: int) -> bool:
        return bool(self._change("remove", str(rule_id)))

    def clear(self, account: str | None = None) -> int:
        return len(self._change("clear", account or ""))

    def replace(self, rules: Iterable[Rule]) -> None:
        self._change("replace", *(part for rule in rules for part in _written(rule)))


def _written(rule: Rule) -> tuple[bytes, str]:
    """A rule as rules_change.lua takes it: its document without ``times``, and its steps left ('' unlimited)."""
    document = {name: value for name, value in rule_document(rule).items() if name != "times"}
    return dumps(document), "" if rule.times is None else str(rule.times)
