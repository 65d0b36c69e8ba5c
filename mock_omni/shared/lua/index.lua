-- A {g} index of secrets (hash: digest -> username): ARGV 1 username, 2 a digest to add ('' none), 3... digests
-- to remove. KEYS: 1 the index.
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[1]) end
if #ARGV > 2 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3)) end
return 1
