-- One vendor call on one account, atomically: the account's state check and credentials,
-- then the vendor's order of checks (Content-Type 415, rate limit 429, body and query 400),
-- then the operation, and the call's journal entry with its status. shared/scripts.py puts
-- an operation's "-- precheck" and "-- operation" parts (ops/*.lua) in place of the markers.
-- Every key is one account's (one hash tag, one Redis Cluster slot).
--
-- KEYS: 1 account, 2 scenarios, 3 names, 4 order, 5 buckets, 6 journal, 7 journal count
-- ARGV: 1 store id, 2 config epoch, 3 proof kind ('' none, b password, k API key, t token),
--   4 proof digest, 5 pre-limit failure status, 6 limited operation, 7 count, 8 seconds, 9 now
--   ('' Redis time), 10 clock offset, 11 post-limit failure status, 12 success status,
--   13 rate-limit status, 14 not-found status, 15 invalid-argument status, 16 journal limit
--   ('' no entry), 17-22 method, path, query, headers, body, account; 23... the operation's.
-- Replies: {'O', ...} done, {'E', kind} refused (journaled), {'U'} credentials not proven,
--   {'S'} this replica's configuration is older than the account's, {'K'} key taken.
local A, S, N, O, B = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local proof = ARGV[3]
local head = redis.call('HMGET', A, 'store', 'epoch', 'pw', 'kd', 'td', 'default')
if not head[1] then return {'U'} end
if proof ~= '' then
  if head[1] ~= ARGV[1] or tonumber(head[2]) > tonumber(ARGV[2]) then return {'S'} end
  -- Digests (sha256) are compared, never secrets: how long a comparison takes tells nothing usable.
  local proven
  if proof == 'b' then
    proven = head[3] == ARGV[4]
  else
    proven = string.find(proof == 'k' and head[4] or head[5], ' ' .. ARGV[4] .. ' ', 1, true) ~= nil
  end
  if not proven then return {'U'} end
end

local function ok(reply)
  if ARGV[16] ~= '' then journal(KEYS[6], KEYS[7], ARGV[16], ARGV[12], 17) end
  return reply
end

local function fail(status, kind)
  if ARGV[16] ~= '' then journal(KEYS[6], KEYS[7], ARGV[16], status, 17) end
  return {'E', kind}
end

-- precheck

if ARGV[5] ~= '' then return fail(ARGV[5], 'pre') end
if ARGV[6] ~= '' then
  -- The token bucket (vendor/ratelimit.py): full at first, refilled continuously.
  local count, per = tonumber(ARGV[7]), tonumber(ARGV[8])
  local now
  if ARGV[9] ~= '' then
    now = tonumber(ARGV[9])
  else
    local t = redis.call('TIME')
    now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  end
  now = now + tonumber(ARGV[10])
  local tokens = count
  local bucket = redis.call('HGET', B, ARGV[6])
  if bucket then
    local space = string.find(bucket, ' ', 1, true)
    local have, last = tonumber(string.sub(bucket, 1, space - 1)), tonumber(string.sub(bucket, space + 1))
    tokens = math.min(count, have + math.max(0, now - last) * count / per)
  end
  if tokens < 1 then
    redis.call('HSET', B, ARGV[6], string.format('%.17g %.17g', tokens, now))
    return fail(ARGV[13], 'limit')
  end
  redis.call('HSET', B, ARGV[6], string.format('%.17g %.17g', tokens - 1, now))
end
if ARGV[11] ~= '' then return fail(ARGV[11], 'post') end

-- operation
