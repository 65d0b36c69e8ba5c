-- A snapshot restored: the records of one account (ARGV[1]; '' for all) become those given.
-- ARGV: account, keep, then per callback: id, account, state, JSON (none of them pending).
remove(ARGV[1])
local top = tonumber(redis.call('GET', KEYS[5]) or '0')
local order = redis.call('LRANGE', KEYS[4], 0, -1)
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  redis.call('HSET', KEYS[1], id, ARGV[i + 3])
  redis.call('HSET', KEYS[2], id, ARGV[i + 2])
  redis.call('HSET', KEYS[3], id, ARGV[i + 1])
  order[#order + 1] = id
  if tonumber(id) > top then top = tonumber(id) end
end
table.sort(order, function(a, b) return tonumber(a) < tonumber(b) end)
local seen, unique = {}, {}
for _, id in ipairs(order) do
  if not seen[id] then seen[id] = true; unique[#unique + 1] = id end
end
redis.call('DEL', KEYS[4])
push_ids(KEYS[4], unique)
redis.call('SET', KEYS[5], top)
trim(tonumber(ARGV[2]))
redis.call('INCR', KEYS[6])
return #unique
