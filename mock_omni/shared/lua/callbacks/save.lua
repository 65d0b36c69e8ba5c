-- Callbacks recorded or changed by the replica sending them.
-- ARGV: keep, the replica sending them, then per callback: id ('' for a new one), account, state, JSON.
-- Returns per callback its id, or 0 when it is no longer pending here (a reset or a restore dropped it).
local keep = tonumber(ARGV[1])
local ids = {}
local owner = ARGV[2]
for i = 3, #ARGV, 4 do
  local id, account, state, json = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if id == '' then
    id = tostring(redis.call('INCR', KEYS[5]))
    redis.call('RPUSH', KEYS[4], id)
    redis.call('HSET', KEYS[1], id, json)
    redis.call('HSET', KEYS[2], id, state)
    redis.call('HSET', KEYS[3], id, account)
    if state == 'pending' then redis.call('HSET', KEYS[7], id, owner) end
    ids[#ids + 1] = tonumber(id)
  elseif redis.call('HGET', KEYS[2], id) ~= 'pending' then
    ids[#ids + 1] = 0
  else
    if redis.call('HEXISTS', KEYS[1], id) == 1 then
      redis.call('HSET', KEYS[1], id, json)
      redis.call('HSET', KEYS[2], id, state)
    elseif state ~= 'pending' then  -- trimmed while it was sent: settled, nothing of it is kept
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
    end
    if state ~= 'pending' then redis.call('HDEL', KEYS[7], id) end
    ids[#ids + 1] = tonumber(id)
  end
end
trim(keep)
redis.call('INCR', KEYS[6])
return ids
