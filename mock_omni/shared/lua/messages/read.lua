-- Messages of one account with where their final report is (0 not ready, 1 ready, 2 fetched).
-- KEYS: 1 msgs, 2 order, 3 ids, 4 bulks, 5 ready, 6 fetched. ARGV: 1 what: 'newest' (ARGV 2 first index,
-- 3 how many, newest first), 'all' (oldest first), 'ids' or 'bulks' (ARGV 2...: the ids; send order).
-- Reply: (seq, record, report) triples.
local what = ARGV[1]
local seqs
if what == 'newest' then
  seqs = redis.call('ZREVRANGE', KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)
elseif what == 'all' then
  seqs = redis.call('ZRANGE', KEYS[2], 0, -1)
else
  local chosen, numbers = {}, {}
  for i = 2, #ARGV do
    for seq in string.gmatch(redis.call('HGET', what == 'ids' and KEYS[3] or KEYS[4], ARGV[i]) or '', '%S+') do
      if not chosen[seq] then
        chosen[seq] = true
        numbers[#numbers + 1] = tonumber(seq)
      end
    end
  end
  table.sort(numbers)
  seqs = {}
  for i, number in ipairs(numbers) do seqs[i] = tostring(number) end
end
local reply = {}
for first = 1, #seqs, 1000 do
  local slice = {unpack(seqs, first, math.min(#seqs, first + 999))}
  local records = redis.call('HMGET', KEYS[1], unpack(slice))
  for i, seq in ipairs(slice) do
    if records[i] then
      local report = 0
      if redis.call('ZSCORE', KEYS[5], seq) then
        report = 1
      elseif redis.call('SISMEMBER', KEYS[6], seq) == 1 then
        report = 2
      end
      reply[#reply + 1] = seq
      reply[#reply + 1] = records[i]
      reply[#reply + 1] = report
    end
  end
end
return reply
