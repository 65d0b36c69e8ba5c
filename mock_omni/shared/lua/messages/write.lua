-- Write messages of one account (shared/messages.py): a send's new ones, or those an advance walked.
-- KEYS: 1 account, 2 msgs (seq -> record), 3 order, 4 ids (message id -> seqs), 5 bulks (bulk id -> seqs),
--   6 due (seq -> time of the next transition, on the account's clock), 7 ready (seq -> order in which
--   final reports became ready), 8 ready-meta (seq -> "channel TAB doneAt TAB bulkId"), 9 fetched, 10 pushes
--   (job id -> lease end, Redis time), 11 push jobs (id -> notification).
-- ARGV: 1 fence ticket ('' none), 2 claim token ('' a send: new messages), 3 the pushes' lease (seconds), 4 global
--   clock offset, 5 n, then n times 7 fields: seq, record, message id ('' an update), bulk id, due time ('' none),
--   report ('' as it is, '1' ready now, '2' fetched), ready-meta (with '1'); then the pushes' notifications.
-- Reply: {'O', schedule version, next look ('' none, else on the global clock), push job ids...}; {'F'} the
--   account was reset since the ticket; {'L'} the claim was lost (its lease ran out): nothing written.
local A = KEYS[1]
local head = redis.call('HMGET', A, 'fence', 'claim', 'clock')
if ARGV[1] ~= '' and tonumber(head[1] or '0') > tonumber(ARGV[1]) then return {'F'} end
if ARGV[2] ~= '' and head[2] ~= ARGV[2] then return {'L'} end
local n = tonumber(ARGV[5])
local at = 6
for _ = 1, n do
  local seq, record, id, bulk, due = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  local report, meta = ARGV[at + 5], ARGV[at + 6]
  at = at + 7
  local new = id ~= ''
  if new or redis.call('HEXISTS', KEYS[2], seq) == 1 then  -- an update of a message dropped meanwhile is not
    redis.call('HSET', KEYS[2], seq, record)
    if new then
      redis.call('ZADD', KEYS[3], seq, seq)
      local seqs = redis.call('HGET', KEYS[4], id)
      redis.call('HSET', KEYS[4], id, seqs and (seqs .. ' ' .. seq) or seq)
      if bulk ~= '' then
        seqs = redis.call('HGET', KEYS[5], bulk)
        redis.call('HSET', KEYS[5], bulk, seqs and (seqs .. ' ' .. seq) or seq)
      end
    end
    if due ~= '' then redis.call('ZADD', KEYS[6], due, seq) else redis.call('ZREM', KEYS[6], seq) end
    if report == '1' then
      redis.call('ZADD', KEYS[7], redis.call('HINCRBY', A, 'rseq', 1), seq)
      redis.call('HSET', KEYS[8], seq, meta)
    elseif report == '2' then
      redis.call('SADD', KEYS[9], seq)
    end
  end
end
local reply = {'O', 0, ''}
local t = redis.call('TIME')
local lease = string.format('%.17g', tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[3]))
for i = at, #ARGV do
  local id = redis.call('HINCRBY', A, 'pseq', 1)
  redis.call('HSET', KEYS[11], id, ARGV[i])
  redis.call('ZADD', KEYS[10], lease, id)
  reply[#reply + 1] = id
end
if ARGV[2] ~= '' then redis.call('HDEL', A, 'claim', 'claim-until') end
reply[2], reply[3] = next_look(A, KEYS[6], KEYS[10], head[3], ARGV[4])
return reply
