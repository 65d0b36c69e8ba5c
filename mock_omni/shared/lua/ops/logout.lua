-- DELETE /auth/1/session: end the IBSSO session or fixture token the call was proven with (ARGV 4, its
-- digest; ARGV P: the token). Reply {'O', 't'}: a fixture token ended (until the account is reset; its {g}
-- index entry goes next), {'O', 'g'}: a session ended; refused as unauthorized for any other credential.
-- operation
if proof == 'i' and string.find(head[5], ' ' .. digest .. ' ', 1, true) then
  redis.call('HSET', A, 'td', (string.gsub(head[5], ' ' .. digest .. ' ', ' ', 1)))
  local kept = {}
  for _, token in ipairs(cjson.decode(redis.call('HGET', A, 'tokens'))) do
    if token ~= ARGV[P] then kept[#kept + 1] = token end
  end
  -- cjson writes an empty table as an object.
  redis.call('HSET', A, 'tokens', #kept > 0 and cjson.encode(kept) or '[]')
  redis.call('HINCRBY', A, 'rev', 1)
  return ok({'O', 't'})
end
if proof == 'i' and redis.call('HEXISTS', G, digest) == 1 then
  drop_grant(A, G, GO, digest)
  return ok({'O', 'g'})
end
return fail(ARGV[19], 'unauthorized')
