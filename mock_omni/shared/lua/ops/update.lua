-- Change a scenario. ARGV P: key, P+1: name ('' unchanged, else '=' .. name), P+2: flow JSON ('' unchanged),
-- P+3: default ('' unchanged, '1', '0'). Everything is checked before anything changes: {"default": false}
-- on the default is refused. Reply {'O', flow, name, is default}.
-- operation
local key = ARGV[P]
local flow = redis.call('HGET', S, key)
if not flow then return fail(ARGV[16], 'notfound') end
local default = head[6]
if ARGV[P + 3] == '0' and key == default then return fail(ARGV[17], 'onedefault') end
local name
if ARGV[P + 1] ~= '' then
  name = string.sub(ARGV[P + 1], 2)
  redis.call('HSET', N, key, name)
else
  name = redis.call('HGET', N, key)
end
if ARGV[P + 2] ~= '' then
  flow = ARGV[P + 2]
  redis.call('HSET', S, key, flow)
end
if ARGV[P + 3] == '1' then
  redis.call('HSET', A, 'default', key)
  default = key
end
redis.call('HINCRBY', A, 'rev', 1)
return ok({'O', flow, name, default == key and 1 or 0})
