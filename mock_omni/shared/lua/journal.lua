-- One journal entry (testing/journal.py): counted always, kept in a stream capped at about
-- `limit` entries (trimmed by whole nodes: cheaper; readers take the newest `limit`). `at` is the ARGV index of method, path, query, headers, body and account.
-- 't' is Redis's time in microseconds: entries of all streams merge in one order.
local function journal(stream, counter, limit, status, at)
  redis.call('INCR', counter)
  if tonumber(limit) > 0 then
    local t = redis.call('TIME')
    redis.call('XADD', stream, 'MAXLEN', '~', limit, '*', 't', t[1] .. string.format('%06d', tonumber(t[2])),
      'm', ARGV[at], 'p', ARGV[at + 1], 'q', ARGV[at + 2], 'h', ARGV[at + 3], 'b', ARGV[at + 4],
      's', status, 'a', ARGV[at + 5])
  end
end
