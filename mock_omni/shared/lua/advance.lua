-- One account's own clock moves on (the admin API's per-account advance): its 'clock' field, which call.lua
-- adds to the time of its buckets. KEYS: 1 the account hash. ARGV: 1 seconds. Reply: the account's offset,
-- or false if there is no such account.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBYFLOAT', KEYS[1], 'clock', ARGV[1])
