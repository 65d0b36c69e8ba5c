-- Pushes made: their jobs go. KEYS: 1 pushes, 2 push jobs. ARGV: the job ids.
redis.call('ZREM', KEYS[1], unpack(ARGV))
redis.call('HDEL', KEYS[2], unpack(ARGV))
return #ARGV
