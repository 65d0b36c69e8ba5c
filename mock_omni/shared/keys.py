"""Key names. Every key of one account carries the account's hash tag, ``{a:USERNAME}``, so
one script may touch them all and they stay in one slot on Redis Cluster; the keys that
belong to no account carry ``{g}``. The prefix (``--store-prefix``) keeps mocks apart.

    PREFIX:{g}:accounts       sorted set of tags, in creation order
    PREFIX:{g}:apikeys        hash: sha256(API key) -> username (fixture tokens: PREFIX:{g}:tokens, issued
                              tokens: PREFIX:{g}:grants, OAuth2 client ids: PREFIX:{g}:clients)
    PREFIX:{g}:config         hash: store id, epoch, rules, overrides, clock offset
    PREFIX:{g}:faults         hash: id -> rule (hits in PREFIX:{g}:fault-hits)
    PREFIX:{g}:journal        stream of requests without an account (capped)
    PREFIX:{g}:fence          the reset fence's tick (the last whole reset's: PREFIX:{g}:fence-all)
    PREFIX:{g}:buckets        hash: rate-limit buckets of calls without an account (sign-in calls)
    PREFIX:{g}:errors         list: server errors, newest first (capped; count: ...:errors-recorded)
    PREFIX:{a:NAME}:account   hash: credentials, default key, epoch, fence, own clock, counters
    PREFIX:{a:NAME}:scenarios hash: key -> flow JSON (names: ...:names; order: ...:order)
    PREFIX:{a:NAME}:buckets   hash: operation -> "tokens last-refill"
    PREFIX:{a:NAME}:journal   stream of the account's requests (capped)
    PREFIX:{a:NAME}:grants    hash: issued tokens (sessions, OAuth2) by digest (issue order: ...:grant-order)
    PREFIX:{a:NAME}:msgs      hash: seq -> message record (shared/messages.py; beside it, PREFIX:{a:NAME}:msg-*:
                              order, id and bulk indexes, transitions due, reports ready and fetched, pushes)
    PREFIX:{g}:drules         hash: delivery rule id -> rule (steps left, hits, version beside it)
    PREFIX:{g}:msg-order      sorted set: every kept message in send order ("seq tag"), for the bound
    PREFIX:{g}:msg-scheduled  sorted set: tag -> when the account's messages next need a look (the ticker)
    PREFIX:{g}:callbacks      hash: callback id -> record (shared/callbacks.py; states, owners, order, ids and a
                              version beside it, PREFIX:{g}:callback-*)
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote, unquote


class MessageKeys(NamedTuple):
    """One account's messages (shared/messages.py), in the account's slot."""

    account: str
    msgs: str
    order: str
    ids: str
    bulks: str
    due: str
    ready: str
    ready_meta: str
    fetched: str
    pushes: str
    push_jobs: str

    @property
    def owned(self) -> tuple[str, ...]:
        """Every key of the messages (not the account's hash)."""
        return self[1:]


class AccountKeys(NamedTuple):
    account: str
    scenarios: str
    names: str
    order: str
    buckets: str
    journal: str
    journal_count: str
    grants: str
    grant_order: str

    @property
    def store_owned(self) -> tuple[str, str, str, str, str, str]:
        """The keys a store change replaces (buckets and journal belong to their components)."""
        return self.account, self.scenarios, self.names, self.order, self.grants, self.grant_order


_CACHE_LIMIT = 4096


def tag(username: str) -> str:
    """The username as it appears in keys: escaped, so braces and wildcards in it mean nothing."""
    return quote(username, safe="")


def untag(tagged: str | bytes) -> str:
    return unquote(tagged.decode() if isinstance(tagged, bytes) else tagged)


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        base = f"{prefix}:{{g}}:"
        self.accounts = base + "accounts"
        self.apikeys = base + "apikeys"
        self.tokens = base + "tokens"
        self.grants = base + "grants"
        self.clients = base + "clients"
        self.config = base + "config"
        self.faults = base + "faults"
        self.fault_hits = base + "fault-hits"
        self.journal = base + "journal"
        self.journal_count = base + "journal-count"
        #: Journal entries counted for accounts whose counters were dropped (recorded never shrinks).
        self.journal_dropped = base + "journal-dropped"
        #: Accounts that are gone but whose journal streams may still hold entries.
        self.retired = base + "retired"
        #: The fixtures and limits the store was seeded with (a reset with ``{}`` returns there).
        self.startup = base + "startup"
        #: What a reset returns to: the start-up one, or what a reset with a body set.
        self.baseline = base + "baseline"
        self.fence = base + "fence"
        self.fence_all = base + "fence-all"
        self.fenced = base + "fenced"
        self.buckets = base + "buckets"
        self.errors = base + "errors"
        self.errors_recorded = base + "errors-recorded"
        self.drules = base + "drules"
        self.drule_times = base + "drule-times"
        self.drule_hits = base + "drule-hits"
        self.drules_version = base + "drules-version"
        self.drule_id = base + "drule-id"
        self.msg_seq = base + "msg-seq"
        self.msg_order = base + "msg-order"
        self.msg_sent = base + "msg-sent"
        self.msg_dropped = base + "msg-dropped"
        self.msg_scheduled = base + "msg-scheduled"
        self.msg_versions = base + "msg-versions"
        self.callbacks = base + "callbacks"
        self.callback_states = base + "callback-states"
        self.callback_accounts = base + "callback-accounts"
        self.callback_order = base + "callback-order"
        self.callback_ids = base + "callback-ids"
        self.callback_version = base + "callback-version"
        self.callback_owners = base + "callback-owners"
        self.callback_alive = base + "callback-alive"
        self.created = base + "created"
        self.snapshots = base + "snapshots"
        self.seeded = base + "seeded"
        self.seed_lock = base + "seed-lock"
        #: Bumped by changes that span accounts (the dashboard's revision adds the accounts').
        self.revision = base + "revision"
        self._accounts: dict[str, AccountKeys] = {}

    def account(self, name: str) -> AccountKeys:
        keys = self._accounts.get(name)
        if keys is None:
            keys = self.account_by_tag(tag(name))
            if len(self._accounts) >= _CACHE_LIMIT:
                self._accounts.clear()
            self._accounts[name] = keys
        return keys

    def messages(self, name: str) -> MessageKeys:
        return self.messages_by_tag(tag(name))

    def messages_by_tag(self, tagged: str) -> MessageKeys:
        base = f"{self.prefix}:{{a:{tagged}}}:"
        return MessageKeys(base + "account", base + "msgs",
                           *(base + "msg-" + part.replace("_", "-") for part in MessageKeys._fields[2:]))

    def account_by_tag(self, tagged: str) -> AccountKeys:
        base = f"{self.prefix}:{{a:{tagged}}}:"
        return AccountKeys(*(base + part.replace("_", "-") for part in AccountKeys._fields))
