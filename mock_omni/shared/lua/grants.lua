-- Issued tokens (domain/credentials.py's Grant) in their account's slot. Hash G: digest -> "KIND ISSUED
-- LIFETIME LAST-USED TOKEN" (KIND i: IBSSO session, o: OAuth2 token), 's:' .. digest -> ' scope ... ' when
-- limited, 'c:' .. digest -> the OAuth2 client id; sorted set O: digests in issue order. The account hash A
-- holds 'session' (the digest of its live session, if any) and 'gseq' (the issue counter).
local function grant_of(G, digest)
  local record = redis.call('HGET', G, digest)
  if not record then return nil end
  local kind, issued, lifetime, last, token = string.match(record, '^(%a) (%S+) (%S+) (%S+) (%S+)$')
  return {kind = kind, issued = tonumber(issued), lifetime = tonumber(lifetime), last = tonumber(last),
          token = token}
end

local function grant_record(kind, issued, lifetime, last, token)
  return string.format('%s %.17g %.17g %.17g %s', kind, issued, lifetime, last, token)
end

-- An OAuth2 token lives from its issue; a session from its last use.
local function expires(grant)
  return (grant.kind == 'o' and grant.issued or grant.last) + grant.lifetime
end

local function drop_grant(A, G, O, digest)
  redis.call('HDEL', G, digest, 's:' .. digest, 'c:' .. digest)
  redis.call('ZREM', O, digest)
  if redis.call('HGET', A, 'session') == digest then redis.call('HDEL', A, 'session') end
end

-- Room for a new grant (Store.add_grant): the oldest are dropped while expired or at the limit, stopping at
-- the first kept (they live alike, so the oldest expire first: O(1) per token). The digests dropped, whose
-- {g} index entries the caller removes.
local function make_room(A, G, O, now, limit)
  local dropped = {}
  while true do
    local first = redis.call('ZRANGE', O, 0, 0)[1]
    if not first then break end
    local grant = grant_of(G, first)
    if grant and now < expires(grant) and redis.call('ZCARD', O) < limit then break end
    drop_grant(A, G, O, first)
    dropped[#dropped + 1] = first
  end
  return dropped
end

local function add_grant(A, G, O, digest, kind, now, lifetime, token, scopes, client)
  redis.call('HSET', G, digest, grant_record(kind, now, lifetime, now, token))
  if scopes ~= '' then redis.call('HSET', G, 's:' .. digest, scopes) end
  if client ~= '' then redis.call('HSET', G, 'c:' .. digest, client) end
  redis.call('ZADD', O, redis.call('HINCRBY', A, 'gseq', 1), digest)
end
