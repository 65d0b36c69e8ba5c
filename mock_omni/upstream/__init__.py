"""The real vendor beside the mock: ``mock-omni import``, ``verify`` and ``record`` (docs/upstream.md).

- client.py: the one way to the upstream (TLS verified, loopback-only plain http, timeouts, 429 retries);
- importer.py: an account's scenarios read page by page into a fixture document with credentials of its own;
- compare.py: two answers to one call, compared as a client sees them (status, types, envelope, shapes);
- local.py: an in-process mock to ask the same calls (its state replaced, never through anyone's admin API);
- verify.py: read-only probes (writes only when asked) to both sides, drift as a table or JSON;
- record.py: a pass-through proxy that journals, compares and learns.

Nothing here writes a secret of the upstream: credentials are masked as the journal masks them
(testing/redaction.py), and written fixtures get credentials of their own.
"""

#: Seconds the upstream has for each answer.
DEFAULT_TIMEOUT = 30.0
#: Retries of a call the upstream answered 429, each after its Retry-After (or RETRY_FALLBACK seconds).
DEFAULT_RETRIES = 3
