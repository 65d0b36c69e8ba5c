-- Callback records (shared/callbacks.py). KEYS: 1 records (id -> JSON), 2 states (id -> state),
-- 3 accounts (id -> account), 4 order (ids, oldest first), 5 id counter, 6 version, 7 owners (id -> the
-- replica sending it, while pending).

-- Push ids onto the order list in chunks (unpack has a bound).
local function push_ids(key, ids)
  for first = 1, #ids, 1000 do
    redis.call('RPUSH', key, unpack(ids, first, math.min(first + 999, #ids)))
  end
end

-- Forget the records of one account ('' for all): they are not sent by any replica any more.
local function remove(account)
  if account == '' then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[7])
    return
  end
  local owners = redis.call('HGETALL', KEYS[3])
  local gone = {}
  for i = 1, #owners, 2 do
    if owners[i + 1] == account then
      gone[owners[i]] = true
      redis.call('HDEL', KEYS[1], owners[i])
      redis.call('HDEL', KEYS[2], owners[i])
      redis.call('HDEL', KEYS[3], owners[i])
      redis.call('HDEL', KEYS[7], owners[i])
    end
  end
  local kept = {}
  for _, id in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
    if not gone[id] then kept[#kept + 1] = id end
  end
  redis.call('DEL', KEYS[4])
  push_ids(KEYS[4], kept)
end

-- Keep the newest `keep` records; a pending one beyond them keeps its state and owner, so the
-- replica sending it goes on (as one process does: its record is gone, not the callback).
local function trim(keep)
  while redis.call('LLEN', KEYS[4]) > keep do
    local id = redis.call('LPOP', KEYS[4])
    redis.call('HDEL', KEYS[1], id)
    if redis.call('HGET', KEYS[2], id) ~= 'pending' then
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
      redis.call('HDEL', KEYS[7], id)
    end
  end
end
