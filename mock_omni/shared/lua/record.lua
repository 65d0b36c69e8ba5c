-- A journal entry on its own (a request answered before any operation: 401, 404, a fault).
-- KEYS: 1 stream, 2 counter. ARGV: 1 limit, 2 status, 3-8 method, path, query, headers, body, account.
journal(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 3)
return 1
