-- The account's live IBSSO session (its inactivity period restarted) or a new one, in one step: two logins
-- at once share one session (domain/signin.py). KEYS: 1 account, 2 grants, 3 grant order. ARGV: 1 password
-- digest ('' not checked: the admin API mints), 2 a new session's digest, 3 its token, 4 time ('' Redis's),
-- 5 clock offset, 6 inactivity period, 7 grants kept at most.
-- Replies: {'U'} no such account or a wrong password; {'S', token, issued, lifetime, last} the live session;
--   {'N', issued, dropped digest...} a new one.
local A, G, O = KEYS[1], KEYS[2], KEYS[3]
local head = redis.call('HMGET', A, 'store', 'pw', 'session')
if not head[1] or (ARGV[1] ~= '' and head[2] ~= ARGV[1]) then return {'U'} end
local now = clock(ARGV[4]) + tonumber(ARGV[5])
if head[3] then
  local grant = grant_of(G, head[3])
  if grant and grant.kind == 'i' and now < expires(grant) then
    redis.call('HSET', G, head[3], grant_record('i', grant.issued, grant.lifetime, now, grant.token))
    return {'S', grant.token, string.format('%.17g', grant.issued), string.format('%.17g', grant.lifetime),
            string.format('%.17g', now)}
  end
end
local dropped = make_room(A, G, O, now, tonumber(ARGV[7]))
add_grant(A, G, O, ARGV[2], 'i', now, tonumber(ARGV[6]), ARGV[3], '', '')
redis.call('HSET', A, 'session', ARGV[2])
return {'N', string.format('%.17g', now), unpack(dropped)}
