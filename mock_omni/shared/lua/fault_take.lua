-- Count one use of the first fault rule that still has uses left (testing/faults.py), across
-- replicas. KEYS: 1 rules, 2 hits. ARGV: id, times ('' until cleared), id, times, ... in rule
-- order: the candidates this replica's cached rules match. Reply: {id, hits} or false.
for i = 1, #ARGV, 2 do
  local id, times = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', KEYS[1], id) == 1 then
    local hits = tonumber(redis.call('HGET', KEYS[2], id) or '0')
    if times == '' or hits < tonumber(times) then
      return {id, redis.call('HINCRBY', KEYS[2], id, 1)}
    end
  end
end
return false
