-- Drop messages of one account (the bound on kept messages). KEYS: 1 msgs, 2 order, 3 ids, 4 bulks, 5 due,
-- 6 ready, 7 ready-meta, 8 fetched. ARGV: the seqs. Reply: how many were there.
local dropped = 0
local function unlist(key, field, seq)
  local seqs = redis.call('HGET', key, field)
  if not seqs then return end
  local kept = {}
  for other in string.gmatch(seqs, '%S+') do
    if other ~= seq then kept[#kept + 1] = other end
  end
  if #kept > 0 then redis.call('HSET', key, field, table.concat(kept, ' ')) else redis.call('HDEL', key, field) end
end
for _, seq in ipairs(ARGV) do
  local record = redis.call('HGET', KEYS[1], seq)
  if record then
    local message = cjson.decode(record)
    unlist(KEYS[3], message.i, seq)
    if type(message.b) == 'string' then unlist(KEYS[4], message.b, seq) end
    redis.call('HDEL', KEYS[1], seq)
    redis.call('ZREM', KEYS[2], seq)
    redis.call('ZREM', KEYS[5], seq)
    redis.call('ZREM', KEYS[6], seq)
    redis.call('HDEL', KEYS[7], seq)
    redis.call('SREM', KEYS[8], seq)
    dropped = dropped + 1
  end
end
return dropped
