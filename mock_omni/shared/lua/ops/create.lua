-- A new scenario. ARGV P: key, P+1: name ('' none, else '=' .. name), P+2: flow JSON, P+3: '1' to make it
-- the default. The account's first scenario becomes its default. Reply {'O', is default}.
-- precheck
if redis.call('HEXISTS', S, ARGV[P]) == 1 then return {'K'} end
-- operation
local key = ARGV[P]
redis.call('ZADD', O, redis.call('HINCRBY', A, 'seq', 1), key)
redis.call('HSET', S, key, ARGV[P + 2])
if ARGV[P + 1] ~= '' then redis.call('HSET', N, key, string.sub(ARGV[P + 1], 2)) end
local default = head[6]
if ARGV[P + 3] == '1' or not default then
  redis.call('HSET', A, 'default', key)
  default = key
end
redis.call('HINCRBY', A, 'rev', 1)
return ok({'O', default == key and 1 or 0})
