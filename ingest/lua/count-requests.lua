-- Adds what one ingest replica counted for a rate-limit key since its last sync to the key's
-- shared count, and answers the total with the window's remaining time, so that the replica
-- learns what every other replica counted too. The first count of a window starts it (the key
-- expires when the window ends); a key somehow left without an expiry gets one, so that no key
-- lives for ever.
--
-- KEYS[1] the rate-limit counter (RATE_LIMIT_KEY_PREFIX + key:<id> or ip:<address>)
-- ARGV[1] requests counted since the last sync (>= 1)  ARGV[2] the window, ms
-- Returns { the key's total in this window, ms until the window ends }
-- Atomic: INCRBY and its PEXPIRE run together, so no window is left without an end.

local total = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return { total, ttl }
