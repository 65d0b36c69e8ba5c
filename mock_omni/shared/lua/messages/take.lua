-- Take final reports once (GET /omni/1/reports): whichever replica asks, each report is taken by exactly one
-- call. As domain/messages.py's take_reports: newest ready first; by message or bulk id, the newest done
-- first. KEYS: 1 msgs, 2 ready, 3 ready-meta, 4 ids, 5 bulks, 6 fetched. ARGV: 1 bulk id, 2 message id,
-- 3 channel ('' any), 4 limit. Reply: (seq, record) of each report taken.
local bulk, id, channel, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local taken = {}
local function consider(seq, meta)
  local ch, _, b = string.match(meta, '^([^\t]*)\t([^\t]*)\t(.*)$')
  if (bulk == '' or b == bulk) and (channel == '' or ch == channel) then taken[#taken + 1] = seq end
  return #taken >= limit
end
if limit > 0 then
  if id ~= '' or bulk ~= '' then
    local seqs = redis.call('HGET', id ~= '' and KEYS[4] or KEYS[5], id ~= '' and id or bulk)
    local ready = {}
    for seq in string.gmatch(seqs or '', '%S+') do
      local meta = redis.call('HGET', KEYS[3], seq)
      if meta then
        local done = tonumber(string.match(meta, '^[^\t]*\t([^\t]*)\t'))
        ready[#ready + 1] = {seq = seq, meta = meta, done = done, n = tonumber(seq)}
      end
    end
    table.sort(ready, function(a, b)
      if a.done ~= b.done then return a.done > b.done end
      return a.n > b.n
    end)
    for _, item in ipairs(ready) do
      if consider(item.seq, item.meta) then break end
    end
  else
    local start = 0
    local full = false
    while not full do
      local seqs = redis.call('ZREVRANGE', KEYS[2], start, start + 199)
      if #seqs == 0 then break end
      local metas = redis.call('HMGET', KEYS[3], unpack(seqs))
      for i, seq in ipairs(seqs) do
        if consider(seq, metas[i]) then
          full = true
          break
        end
      end
      start = start + 200
    end
  end
end
local reply = {}
for _, seq in ipairs(taken) do
  redis.call('ZREM', KEYS[2], seq)
  redis.call('HDEL', KEYS[3], seq)
  redis.call('SADD', KEYS[6], seq)
  reply[#reply + 1] = seq
  reply[#reply + 1] = redis.call('HGET', KEYS[1], seq)
end
return reply
