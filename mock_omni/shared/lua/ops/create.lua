-- A new scenario. ARGV 23: key, 24: name ('' none, else '=' .. name), 25: flow JSON, 26: '1' to
-- make it the default. The account's first scenario becomes its default. Reply {'O', is default}.
-- precheck
if redis.call('HEXISTS', S, ARGV[23]) == 1 then return {'K'} end
-- operation
local key = ARGV[23]
redis.call('ZADD', O, redis.call('HINCRBY', A, 'seq', 1), key)
redis.call('HSET', S, key, ARGV[25])
if ARGV[24] ~= '' then redis.call('HSET', N, key, string.sub(ARGV[24], 2)) end
local default = head[6]
if ARGV[26] == '1' or not default then
  redis.call('HSET', A, 'default', key)
  default = key
end
redis.call('HINCRBY', A, 'rev', 1)
return ok({'O', default == key and 1 or 0})
