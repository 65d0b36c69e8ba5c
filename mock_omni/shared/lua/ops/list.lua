-- A page of scenarios in creation order. ARGV P: isDefault ('', '1', '0'), P+1: first index,
-- P+2: how many. Reply {'O', default key, n, key1, flow1, name1, ...}.
-- operation
local mode, start, limit = ARGV[P], tonumber(ARGV[P + 1]), tonumber(ARGV[P + 2])
local default = head[6]
local keys = {}
if limit > 0 then
  if mode == '1' then
    if default and start == 0 then keys = {default} end
  elseif mode == '0' and default then
    -- The order without the default, sliced without building it whole (store._slice_skipping).
    local skip = redis.call('ZRANK', O, default)
    if start + limit <= skip then
      keys = redis.call('ZRANGE', O, start, start + limit - 1)
    elseif start >= skip then
      keys = redis.call('ZRANGE', O, start + 1, start + limit)
    else
      keys = redis.call('ZRANGE', O, start, skip - 1)
      for _, key in ipairs(redis.call('ZRANGE', O, skip + 1, start + limit)) do keys[#keys + 1] = key end
    end
  else
    keys = redis.call('ZRANGE', O, start, start + limit - 1)
  end
end
local reply = {'O', default or false, #keys}
-- HMGET in slices: unpack() has a bound on how many values it spreads.
for first = 1, #keys, 1000 do
  local slice = {unpack(keys, first, math.min(#keys, first + 999))}
  local flows = redis.call('HMGET', S, unpack(slice))
  local names = redis.call('HMGET', N, unpack(slice))
  for i = 1, #slice do
    reply[#reply + 1] = slice[i]
    reply[#reply + 1] = flows[i]
    reply[#reply + 1] = names[i]
  end
end
return ok(reply)
