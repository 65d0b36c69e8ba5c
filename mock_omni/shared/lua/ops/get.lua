-- GET one scenario. ARGV P: key. Reply {'O', flow, name, is default}.
-- operation
local key = ARGV[P]
local flow = redis.call('HGET', S, key)
if not flow then return fail(ARGV[16], 'notfound') end
return ok({'O', flow, redis.call('HGET', N, key), key == head[6] and 1 or 0})
