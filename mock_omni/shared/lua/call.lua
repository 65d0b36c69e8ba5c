-- One vendor call on one account, atomically: the account's state and the credentials, the reset fence,
-- then the vendor's order of checks (scopes 403, Content-Type 415, rate limit 429, body and query 400),
-- then the operation, and the call's journal entry with its status. shared/scripts.py puts an operation's
-- "-- precheck" and "-- operation" parts (ops/*.lua) in place of the markers. Every key is one account's
-- (one hash tag, one Redis Cluster slot).
--
-- KEYS: 1 account, 2 scenarios, 3 names, 4 order, 5 buckets, 6 journal, 7 journal count, 8 grants,
--   9 grant order.
-- ARGV: 1 store id, 2 configuration epoch, 3 proof kind ('' none, b password, k API key, i IBSSO token,
--   o Bearer token), 4 proof digest, 5 the scopes the operation takes (' a b ', '' any credential), 6 fence
--   ticket ('' none), 7 pre-limit failure status ('' none), 8 limited operation ('' none), 9 count,
--   10 seconds, 11 time ('' Redis's), 12 clock offset, 13 post-limit failure status, 14 success status,
--   15-19 statuses of a refusal: rate limit, not found, invalid argument, forbidden, unauthorized,
--   20 journal limit ('' no entry), 21-26 method, path, query, headers, body, account; 27... the operation's.
-- Replies: {'O', ...} done, {'E', kind} refused (journaled), {'U', dropped} credentials not proven (dropped:
--   an expired token was dropped), {'S'} this replica's configuration is older than the account's, {'F'} the
--   account was reset since the ticket (nothing done), {'K'} key taken.
local A, S, N, O, B, G, GO = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], KEYS[9]
local P = 27  -- the operation's first argument
local proof, digest = ARGV[3], ARGV[4]
local head = redis.call('HMGET', A, 'store', 'epoch', 'pw', 'kd', 'td', 'default', 'fence', 'clock')
if not head[1] then return {'U'} end

local now
local function time()  -- the mock's time, read once
  if not now then now = clock(ARGV[11]) + tonumber(ARGV[12]) end
  return now
end

local held  -- the credential's scopes: nil for every scope
if proof ~= '' then
  if head[1] ~= ARGV[1] or tonumber(head[2]) > tonumber(ARGV[2]) then return {'S'} end
  -- Digests (sha256) are compared, never secrets: how long a comparison takes tells nothing usable.
  local proven = false
  if proof == 'b' then
    proven = head[3] == digest
  elseif proof == 'k' then
    proven = string.find(head[4], ' ' .. digest .. ' ', 1, true) ~= nil
    if proven then held = redis.call('HGET', A, 'ks:' .. digest) or nil end
  elseif string.find(head[5], ' ' .. digest .. ' ', 1, true) then
    proven = true  -- a fixture token: every scope, either scheme
  else
    local grant = grant_of(G, digest)
    if grant and grant.kind == proof then
      if time() >= expires(grant) then
        drop_grant(A, G, GO, digest)
        return {'U', 1}
      end
      proven = true
      held = redis.call('HGET', G, 's:' .. digest) or nil
      if proof == 'i' then  -- a use: the session's inactivity period starts again
        redis.call('HSET', G, digest, grant_record('i', grant.issued, grant.lifetime, time(), grant.token))
      end
    end
  end
  if not proven then return {'U'} end
end
if ARGV[6] ~= '' and tonumber(head[7] or '0') > tonumber(ARGV[6]) then return {'F'} end

local function ok(reply)
  if ARGV[20] ~= '' then journal(KEYS[6], KEYS[7], ARGV[20], ARGV[14], 21) end
  return reply
end

local function fail(status, kind)
  if ARGV[20] ~= '' then journal(KEYS[6], KEYS[7], ARGV[20], status, 21) end
  return {'E', kind}
end

-- precheck

if held and ARGV[5] ~= '' then
  local allowed = false
  for scope in string.gmatch(ARGV[5], '%S+') do
    if string.find(held, ' ' .. scope .. ' ', 1, true) then
      allowed = true
      break
    end
  end
  if not allowed then return fail(ARGV[18], 'forbidden') end
end
if ARGV[7] ~= '' then return fail(ARGV[7], 'pre') end
-- The account's own clock (the admin API's per-account advance) counts for its buckets.
if ARGV[8] ~= '' and not take(B, ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]), time() + tonumber(head[8] or '0')) then
  return fail(ARGV[15], 'limit')
end
if ARGV[13] ~= '' then return fail(ARGV[13], 'post') end

-- operation
