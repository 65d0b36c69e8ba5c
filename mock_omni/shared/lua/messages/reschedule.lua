-- Record when an account's messages next need a look ({g}), unless a newer schedule of the account is there
-- already (two replicas may report in any order). KEYS: 1 the schedule, 2 schedule versions. ARGV: 1 tag,
-- 2 version, 3 time on the global clock ('' nothing to do).
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1') >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
