-- Every record, oldest first, with who sends those still pending and whether that replica is alive.
-- KEYS: 1 records, 4 order, 7 owners, 8 alive. ARGV: seconds without a beat after which a replica is gone,
-- the replica asking (alive, whatever its beat says).
-- Returns: ids, records (as the ids), the ids whose replica is gone.
local now = tonumber(redis.call('TIME')[1])
local ids = redis.call('LRANGE', KEYS[4], 0, -1)
local records, kept = {}, {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then
    kept[#kept + 1] = id
    records[#records + 1] = record
  end
end
local orphans = {}
local owners = redis.call('HGETALL', KEYS[7])
for i = 1, #owners, 2 do
  if owners[i + 1] ~= ARGV[2] then
    local beat = redis.call('ZSCORE', KEYS[8], owners[i + 1])
    if not beat or now - tonumber(beat) > tonumber(ARGV[1]) then orphans[#orphans + 1] = owners[i] end
  end
end
return {kept, records, orphans}
