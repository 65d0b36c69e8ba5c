-- The scenario a send goes through, and the account's time now (shared/messages.py). KEYS: 1 account,
-- 2 scenarios. ARGV: 1 scenario key ('' the default), 2 time ('' Redis's), 3 global clock offset.
-- Reply: {'O', key, flow JSON, now}; {'U'} no such account; {'D'} no default scenario; {'K'} no such scenario.
local head = redis.call('HMGET', KEYS[1], 'store', 'default', 'clock')
if not head[1] then return {'U'} end
local key = ARGV[1]
if key == '' then
  if not head[2] then return {'D'} end
  key = head[2]
end
local flow = redis.call('HGET', KEYS[2], key)
if not flow then return {'K', key} end
return {'O', key, flow, string.format('%.17g', clock(ARGV[2]) + tonumber(ARGV[3]) + tonumber(head[3] or '0'))}
