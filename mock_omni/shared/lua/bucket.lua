-- The time of a script: the one given (a clock injected in tests), or Redis's own, in seconds.
local function clock(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- One token of a bucket (vendor/ratelimit.py): full at first, refilled continuously; a field of hash
-- `key` per operation, "tokens last-refill". False, the refill kept, when there is no token to take.
local function take(key, op, count, per, now)
  local tokens = count
  local bucket = redis.call('HGET', key, op)
  if bucket then
    local space = string.find(bucket, ' ', 1, true)
    local have, last = tonumber(string.sub(bucket, 1, space - 1)), tonumber(string.sub(bucket, space + 1))
    tokens = math.min(count, have + math.max(0, now - last) * count / per)
  end
  if tokens < 1 then
    redis.call('HSET', key, op, string.format('%.17g %.17g', tokens, now))
    return false
  end
  redis.call('HSET', key, op, string.format('%.17g %.17g', tokens - 1, now))
  return true
end
