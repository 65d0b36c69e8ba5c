-- Fields of one hash (a step of a vendor call reads through scripts, so that it can be replayed: link.py).
-- KEYS: 1 the hash. ARGV: the fields.
return redis.call('HMGET', KEYS[1], unpack(ARGV))
