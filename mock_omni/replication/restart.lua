#!lua flags=allow-oom
-- A new log begun by one entry (a whole reset), even when Redis is full: dropping the old log is what
-- frees it. KEYS[1] the log, KEYS[2] its meta; ARGV[1] the new epoch's name, ARGV[2] the first entry;
-- published on KEYS[1] as log.lua does.
redis.call("DEL", KEYS[1])
local baseline = redis.call("HGET", KEYS[2], "baseline") or ""
redis.call("HSET", KEYS[2], "epoch", ARGV[1], "base", 0, "baseline", baseline)
redis.call("RPUSH", KEYS[1], ARGV[2])
redis.call("PUBLISH", KEYS[1], ARGV[1] .. " 1")
return 1
