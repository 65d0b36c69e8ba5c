-- Close the reset fence (testing/fence.py): a new tick, written into the accounts it closes for, so a call's
-- script (call.lua) can see whether its account was reset since its ticket, and kept by username (an account
-- removed keeps its tick there). KEYS: 1 the tick, 2 the tick of the last whole reset, 3 the ticks of accounts
-- closed alone since (username -> tick), 4... account hashes. ARGV: 1 '' for a whole reset, else the username.
-- Reply: the new tick.
local tick = redis.call('INCR', KEYS[1])
if ARGV[1] == '' then
  redis.call('SET', KEYS[2], tick)
  redis.call('DEL', KEYS[3])  -- superseded: the table stays as small as the accounts reset since
else
  redis.call('HSET', KEYS[3], ARGV[1], tick)
end
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HSET', KEYS[i], 'fence', tick) end
end
return tick
