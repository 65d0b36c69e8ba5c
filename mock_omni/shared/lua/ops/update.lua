-- Change a scenario. ARGV 23: key, 24: name ('' unchanged, else '=' .. name), 25: flow JSON
-- ('' unchanged), 26: default ('' unchanged, '1', '0'). Everything is checked before anything
-- changes: {"default": false} on the default is refused. Reply {'O', flow, name, is default}.
-- operation
local key = ARGV[23]
local flow = redis.call('HGET', S, key)
if not flow then return fail(ARGV[14], 'notfound') end
local default = head[6]
if ARGV[26] == '0' and key == default then return fail(ARGV[15], 'onedefault') end
local name
if ARGV[24] ~= '' then
  name = string.sub(ARGV[24], 2)
  redis.call('HSET', N, key, name)
else
  name = redis.call('HGET', N, key)
end
if ARGV[25] ~= '' then
  flow = ARGV[25]
  redis.call('HSET', S, key, flow)
end
if ARGV[26] == '1' then
  redis.call('HSET', A, 'default', key)
  default = key
end
redis.call('HINCRBY', A, 'rev', 1)
return ok({'O', flow, name, default == key and 1 or 0})
