-- Commit one walk's use of the delivery rules, and number a send's new messages (shared/messages.py), in {g}.
-- The walk ran on this replica's copy of the rules: it counts only if the rules are the same version and every
-- counted rule it used still has the step attempts it used; else {'S'}: reload, walk again.
-- KEYS: 1 rules, 2 steps left, 3 hits, 4 version, 5 message counter, 6 messages in send order ("seq tag"),
-- 7 messages ever sent, 8 messages dropped by the bound.
-- ARGV: 1 version, 2 new messages, 3 the most messages kept, 4 the account's tag, then (rule id, uses) pairs.
-- Reply: {'O', first seq, dropped "seq tag"...}.
if (redis.call('GET', KEYS[4]) or '0') ~= ARGV[1] then return {'S'} end
for i = 5, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then return {'S'} end
  local left = redis.call('HGET', KEYS[2], ARGV[i])
  if left and tonumber(left) < tonumber(ARGV[i + 1]) then return {'S'} end
end
for i = 5, #ARGV, 2 do
  local id, uses = ARGV[i], tonumber(ARGV[i + 1])
  redis.call('HINCRBY', KEYS[3], id, uses)
  local left = redis.call('HGET', KEYS[2], id)
  if left then
    if tonumber(left) == uses then  -- used up: gone, as in memory
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
    else
      redis.call('HINCRBY', KEYS[2], id, -uses)
    end
  end
end
local count = tonumber(ARGV[2])
if count == 0 then return {'O', 0} end
local last = redis.call('INCRBY', KEYS[5], count)
local first = last - count + 1
for seq = first, last do redis.call('ZADD', KEYS[6], seq, seq .. ' ' .. ARGV[4]) end
redis.call('INCRBY', KEYS[7], count)
local reply = {'O', first}
local extra = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[3])
if extra > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[6], extra)
  for i = 1, #popped, 2 do reply[#reply + 1] = popped[i] end
  redis.call('INCRBY', KEYS[8], extra)
end
return reply
