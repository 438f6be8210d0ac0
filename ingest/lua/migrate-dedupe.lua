-- A one-off migration of the dedupe hash to the window format (format 2, append-readings.lua):
-- each device header still in an earlier format becomes `newest=<its newest>;floor=<newest + 1>;0`
-- (no reading remembered in its open chunk).
-- The earlier formats remembered no fingerprints, so nothing at or below a device's newest value
-- can be checked any more: such a reading is answered unverifiable (never stored twice), and
-- everything above is stored as before. A window later, nothing of the old state matters.
-- Typed port: ingest/src/store/migrate-dedupe.ts, which walks the hash with HSCAN and calls this
-- per page; atomic per page, so it can run on several replicas at once.
--
-- Earlier formats of a header `<site>/<device>[@t]`:
--   `<last>;<floor>;<n>;<hx>;<gaps>`   (gaps as distances; `last` the newest value)
--   `<top>|<floor>|<n>|<a>:<b>,…`      (absolute gaps; `top` the newest value + 1)
--
-- KEYS[1] dedupe hash
-- ARGV[1..] the fields to look at (chunks and headers in format 2 are left as they are)
-- Returns { headers converted, headers left unreadable }

local converted, unreadable = 0, 0
local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
for i, field in ipairs(ARGV) do
  local text = values[i]
  if text and not string.find(field, '#', 1, true) and not string.find(text, '^newest=') then
    local newest = tonumber(string.match(text, '^(%-?%d+);'))
    if not newest then
      local top = tonumber(string.match(text, '^(%-?%d+)|'))
      newest = top and top - 1
    end
    if newest and math.abs(newest) <= 9007199254740991 then
      redis.call('HSET', KEYS[1], field, 'newest=' .. string.format('%.0f', newest) .. ';floor=' .. string.format('%.0f', newest + 1) .. ';0')
      converted = converted + 1
    else
      unreadable = unreadable + 1
    end
  end
end
return { converted, unreadable }
