-- The accounts whose messages need a look now, for a replica's ticker ({g}). KEYS: 1 the schedule.
-- ARGV: 1 time ('' Redis's), 2 global clock offset, 3 most accounts. Reply: their tags.
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.17g', clock(ARGV[1]) + tonumber(ARGV[2])),
                  'LIMIT', 0, tonumber(ARGV[3]))
