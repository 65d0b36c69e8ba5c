-- Claim one account's due transitions for this replica (shared/messages.py's advance): the account's claim
-- (a token and a lease end) makes it the only one walking them until it writes them back (write.lua) or
-- the lease runs out. Pushes whose lease ran out (their replica died before the push) are leased again.
-- KEYS: 1 account, 2 msgs, 3 due, 4 pushes, 5 push jobs. ARGV: 1 token, 2 lease seconds, 3 time ('' Redis's),
--   4 global clock offset, 5 most transitions in one claim.
-- Reply: {'B', now} another replica holds the claim; {'N', now, schedule version, next look} nothing to do (no
--   claim taken); {'C', now, n, (seq, record, due) x n, (push id, notification)...} claimed.
local A = KEYS[1]
local t = redis.call('TIME')
local real = tonumber(t[1]) + tonumber(t[2]) / 1000000
local head = redis.call('HMGET', A, 'claim', 'claim-until', 'clock')
local now = clock(ARGV[3]) + tonumber(ARGV[4]) + tonumber(head[3] or '0')
if head[1] and tonumber(head[2]) > real then return {'B', string.format('%.17g', now)} end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('%.17g', now), 'WITHSCORES', 'LIMIT', 0,
                       tonumber(ARGV[5]))
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', string.format('%.17g', real))
if #due == 0 and #lapsed == 0 then
  if head[1] then redis.call('HDEL', A, 'claim', 'claim-until') end
  local version, look = next_look(A, KEYS[3], KEYS[4], head[3], ARGV[4])
  return {'N', string.format('%.17g', now), version, look}
end
redis.call('HSET', A, 'claim', ARGV[1], 'claim-until', string.format('%.17g', real + tonumber(ARGV[2])))
local reply = {'C', string.format('%.17g', now), #due / 2}
for i = 1, #due, 2 do
  reply[#reply + 1] = due[i]
  reply[#reply + 1] = redis.call('HGET', KEYS[2], due[i])
  reply[#reply + 1] = due[i + 1]
end
for _, id in ipairs(lapsed) do
  redis.call('ZADD', KEYS[4], string.format('%.17g', real + tonumber(ARGV[2])), id)
  reply[#reply + 1] = id
  reply[#reply + 1] = redis.call('HGET', KEYS[5], id)
end
return reply
