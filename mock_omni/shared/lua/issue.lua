-- An OAuth2 access token (domain/signin.py). KEYS: 1 account, 2 grants, 3 grant order. ARGV: 1 digest,
-- 2 token, 3 scopes ('' every scope, else ' a b '), 4 client id, 5 time ('' Redis's), 6 clock offset,
-- 7 lifetime, 8 grants kept at most. Replies: {'U'} no such account; {'N', issued, dropped digest...}.
local A, G, O = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', A) == 0 then return {'U'} end
local now = clock(ARGV[5]) + tonumber(ARGV[6])
local dropped = make_room(A, G, O, now, tonumber(ARGV[8]))
add_grant(A, G, O, ARGV[1], 'o', now, tonumber(ARGV[7]), ARGV[2], ARGV[3], ARGV[4])
return {'N', string.format('%.17g', now), unpack(dropped)}
