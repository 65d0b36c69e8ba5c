-- The delivery rules as they stand (shared/delivery.py). KEYS: 1 rules (id -> JSON), 2 steps left of counted
-- rules, 3 hits, 4 version. Reply: {version, rules..., '', times..., '', hits...} (flat field/value lists).
local reply = {redis.call('GET', KEYS[4]) or '0'}
for i = 1, 3 do
  for _, item in ipairs(redis.call('HGETALL', KEYS[i])) do reply[#reply + 1] = item end
  reply[#reply + 1] = ''
end
return reply
