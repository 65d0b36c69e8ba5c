-- A rate-limit token of a call without an account (the sign-in calls). KEYS: 1 bucket hash. ARGV: 1 operation,
-- 2 count, 3 seconds, 4 time ('' Redis's), 5 clock offset. Reply 1 taken, 0 refused.
return take(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), clock(ARGV[4]) + tonumber(ARGV[5])) and 1 or 0
