-- When an account's messages next need a look (a transition due, a push whose lease runs out), for the
-- tickers: the schedule version and the time on the global clock ('' nothing to do).
local function next_look(A, due, pushes, own_clock, offset)
  local version = redis.call('HINCRBY', A, 'sched', 1)
  local look
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if first[2] then look = tonumber(first[2]) - tonumber(own_clock or '0') end
  local lease = redis.call('ZRANGE', pushes, 0, 0, 'WITHSCORES')
  if lease[2] then
    local at = tonumber(lease[2]) + tonumber(offset)
    if not look or at < look then look = at end
  end
  return version, look and string.format('%.17g', look) or ''
end
