-- A replica says it is alive (its pending callbacks are being sent). KEYS: 1 alive (owner -> Redis's
-- time of its last beat). ARGV: the replica. Entries silent for an hour go.
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600)
return now
