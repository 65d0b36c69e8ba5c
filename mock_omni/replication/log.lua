-- The log of calls every replica applies in order. Generic: it knows entries, not what they mean.
-- KEYS[1] the log (a list), KEYS[2] its meta (a hash: epoch, base, baseline); one hash tag, one slot.
-- ARGV[1] what to do: "append" | "compact"
-- append:  ARGV[2] epoch the caller knows, ARGV[3] its cursor (next index it needs), ARGV[4] deadline
--          (ms on Redis's clock, "0" for none), ARGV[5] a new epoch's name (used if there is no log),
--          ARGV[6] the entry a new log starts with, ARGV[7..] entries to append.
--          Returns {epoch, first index returned, base, baseline, seed, end, entries...}, or {"late", Redis's ms} past the
--          deadline; the seed is the entry the log began with (kept when older entries are dropped), end the
--          index after the log's last entry; the entries are one page (about PAGE bytes) from the cursor on.
--          When it appended (or began a log), "epoch index-after-the-last-entry" is published on KEYS[1].
-- compact: ARGV[2] epoch, ARGV[3] index of the entry that makes every earlier one unneeded, ARGV[4] the
--          baseline document that entry leaves ("" keeps the current one). Returns the new base.
local op = ARGV[1]
local PAGE = 4194304
if op == "append" then
  local deadline = tonumber(ARGV[4])
  if deadline > 0 then
    local t = redis.call("TIME")
    if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then
      return {"late", tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))}
    end
  end
  local epoch = redis.call("HGET", KEYS[2], "epoch")
  local began = not epoch
  if began then
    -- First start, or the data was lost behind our back: a new log, started by the caller's entry.
    epoch = ARGV[5]
    redis.call("DEL", KEYS[1])
    redis.call("HSET", KEYS[2], "epoch", epoch, "base", 0, "baseline", "", "seed", ARGV[6])
    redis.call("RPUSH", KEYS[1], ARGV[6])
  end
  local base = tonumber(redis.call("HGET", KEYS[2], "base"))
  for i = 7, #ARGV, 1000 do
    redis.call("RPUSH", KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
  if #ARGV >= 7 or began then
    -- Published under the list's own name: "epoch index", the index after its last entry.
    redis.call("PUBLISH", KEYS[1], epoch .. " " .. (base + redis.call("LLEN", KEYS[1])))
  end
  local cursor = tonumber(ARGV[3])
  if epoch ~= ARGV[2] or cursor < base then
    cursor = base
  end
  local meta = redis.call("HMGET", KEYS[2], "baseline", "seed")
  local length = redis.call("LLEN", KEYS[1])
  local reply = {epoch, cursor, base, meta[1] or "", meta[2] or "", base + length}
  -- One page: about PAGE bytes at most (at least one entry), so that a reply to a replica far behind (one
  -- joining a long log) never takes Redis longer than the caller waits; the caller reads on from there.
  local from, size = cursor - base, 0
  while from < length and size < PAGE do
    local entries = redis.call("LRANGE", KEYS[1], from, from + 99)
    if #entries == 0 then
      break
    end
    for i = 1, #entries do
      reply[#reply + 1] = entries[i]
      size = size + #entries[i]
      from = from + 1
      if size >= PAGE then
        break
      end
    end
  end
  return reply
elseif op == "compact" then
  if redis.call("HGET", KEYS[2], "epoch") ~= ARGV[2] then
    return -1
  end
  local base = tonumber(redis.call("HGET", KEYS[2], "base"))
  local index = tonumber(ARGV[3])
  if index > base then
    redis.call("LTRIM", KEYS[1], index - base, -1)
    redis.call("HSET", KEYS[2], "base", index)
    if ARGV[4] ~= "" then
      redis.call("HSET", KEYS[2], "baseline", ARGV[4])
    end
    base = index
  end
  return base
end
return redis.error_reply("unknown log operation " .. tostring(op))
