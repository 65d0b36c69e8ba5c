-- Change the delivery rules (shared/delivery.py), a new version for every replica's copy. KEYS: 1 rules,
-- 2 steps left, 3 hits, 4 version, 5 rule id counter. ARGV: 1 what ('add', 'remove', 'clear', 'replace'),
-- 2 the most rules kept, then: add/replace: (JSON, times or '') pairs; remove: the id; clear: the account
-- ('' every rule). Reply: {'O', count, ids...} (rules added or removed), or {'E'} too many rules.
local what = ARGV[1]
local removed = {}
if what == 'remove' then
  if redis.call('HDEL', KEYS[1], ARGV[3]) == 1 then removed[1] = ARGV[3] end
elseif what == 'clear' or what == 'replace' then
  local rules = redis.call('HGETALL', KEYS[1])
  for i = 1, #rules, 2 do
    if what == 'replace' or ARGV[3] == '' or cjson.decode(rules[i + 1]).account == ARGV[3] then
      removed[#removed + 1] = rules[i]
    end
  end
  for _, id in ipairs(removed) do redis.call('HDEL', KEYS[1], id) end
end
for _, id in ipairs(removed) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
local added = {}
if what == 'add' or what == 'replace' then
  if redis.call('HLEN', KEYS[1]) + (#ARGV - 2) / 2 > tonumber(ARGV[2]) then return {'E'} end
  for i = 3, #ARGV, 2 do
    local id = redis.call('INCR', KEYS[5])
    redis.call('HSET', KEYS[1], id, ARGV[i])
    if ARGV[i + 1] ~= '' then redis.call('HSET', KEYS[2], id, ARGV[i + 1]) end
    added[#added + 1] = id
  end
end
redis.call('INCR', KEYS[4])
if what == 'add' or what == 'replace' then return {'O', #added, unpack(added)} end
return {'O', #removed, unpack(removed)}
