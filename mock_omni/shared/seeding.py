"""A store is seeded once: the first replica to find it empty writes its fixtures; the others,
and every replica that starts later, join the state they find, unchanged.

"Empty" is the absence of the seeded marker, which is written in the same transaction as
the whole seeded state, so a replica killed while seeding leaves an empty store, never a
half-seeded one. A lock (SET NX with an expiry, released only by its holder) makes
replicas that start together seed once: the others wait for the marker. The fixtures
that seeded the store are kept with it: a reset from any replica returns there.
"""

from __future__ import annotations

import secrets
import time

import redis

from ..domain.store import KeyFactory
from ..state import StoreUnreachable
from ..testing.admin import Baseline
from ..vendor.ratelimit import Rule
from .config import EPOCH, OFFSET, STORE
from .documents import baseline_document, baseline_from
from .limiter import RedisRateLimiter
from .link import Link, as_bytes
from .store import RedisStore

LOCK_SECONDS = 30.0
WAIT_SECONDS = 60.0
_POLL = 0.05

# Deletes the lock only if it still holds this replica's token.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def join_or_seed(link: Link, store: RedisStore, limiter: RedisRateLimiter, fixtures: Baseline,
                 rules: dict[str, Rule], key_factory: KeyFactory) -> tuple[Baseline, bool]:
    """The start-up fixtures of the store (accounts, delivery rules, messages), and whether this replica
    seeded it: found there, or ``fixtures`` seeded now."""
    keys = link.keys
    token = secrets.token_hex(16)
    deadline = time.monotonic() + WAIT_SECONDS
    with link.guard():
        while True:
            startup = as_bytes(link.bulk.get(keys.startup)) if link.client.exists(keys.seeded) else None
            if startup is not None:
                return baseline_from(startup, key_factory), False
            if link.client.set(keys.seed_lock, token, nx=True, px=int(LOCK_SECONDS * 1000)):
                try:
                    _seed(link, store, limiter, fixtures, rules)
                finally:
                    link.client.eval(_RELEASE, 1, keys.seed_lock, token)
                return fixtures, True
            if time.monotonic() > deadline:
                raise StoreUnreachable(f"the store is being seeded by another replica that has not finished "
                                       f"in {WAIT_SECONDS:.0f} s (lock {keys.seed_lock})")
            time.sleep(_POLL)


def _seed(link: Link, store: RedisStore, limiter: RedisRateLimiter, fixtures: Baseline,
          rules: dict[str, Rule]) -> None:
    keys = link.keys
    store_id = secrets.token_hex(8)
    document = baseline_document(fixtures)

    def seed(pipe: redis.client.Pipeline) -> None:
        # Epochs keep growing across seedings: a replica's cache of the previous store is older.
        epoch = int(pipe.hget(keys.config, EPOCH) or 0) + 1
        store.queue_replace(pipe, list(fixtures.accounts), store_id, epoch)  # calls pipe.multi()
        pipe.delete(keys.config, keys.faults, keys.fault_hits, keys.created, keys.snapshots, keys.buckets,
                    keys.errors, keys.errors_recorded)
        pipe.hset(keys.config, mapping={STORE: store_id, EPOCH: epoch, OFFSET: 0})
        limiter.seed(pipe, rules)
        pipe.set(keys.startup, document)
        pipe.set(keys.baseline, document)
        pipe.set(keys.seeded, store_id)

    link.transaction(seed, keys.accounts, keys.apikeys, keys.tokens, keys.clients, keys.grants, keys.config,
                     keys.fence, bulk=True)
