-- A reset: the records of one account (ARGV[1]; '' for all) are forgotten and not sent.
remove(ARGV[1])
redis.call('INCR', KEYS[6])
return 1
