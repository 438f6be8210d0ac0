-- A one-off migration of the dedupe hash to the current format (format 3, append-readings.lua):
-- each device header still in an earlier format is rewritten; chunk fields (`<space>#<k>`) are the
-- same in formats 2 and 3 and are left as they are.
--   format 2, `newest=<v>;floor=<v>;<n><records>` (the open chunk whole in the header) becomes
--   `newest=<v>;floor=<v>;<n>;<records>`: the records are the header's tail, which the next
--   write of the device moves into the chunk's field if it is too long.
--   formats 1, `<last>;<floor>;<n>;<hx>;<gaps>` (gaps as distances; `last` the newest value) and
--   `<top>|<floor>|<n>|<a>:<b>,…` (absolute gaps; `top` the newest value + 1), become
--   `newest=<newest>;floor=<newest + 1>;0;`. They remembered no fingerprints, so nothing at or
--   below a device's newest value can be checked any more: such a reading is answered
--   unverifiable (never stored twice), and everything above is stored as before. A window later,
--   nothing of the old state matters.
-- Typed port: ingest/src/store/migrate-dedupe.ts, which walks the hash with HSCAN and calls this
-- per page; atomic per page, so it can run on several replicas at once.
--
-- KEYS[1] dedupe hash
-- ARGV[1..] the fields to look at (chunks and headers in format 3 are left as they are)
-- Returns { headers converted, headers left unreadable }

local converted, unreadable = 0, 0
local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
for i, field in ipairs(ARGV) do
  local text = values[i]
  if text and not string.find(field, '#', 1, true) and not string.find(text, '^newest=%-?%d+;floor=%-?%d+;%d+;') then
    local head, records = string.match(text, '^(newest=%-?%d+;floor=%-?%d+;%d+)(.*)$')
    if head and (records == '' or string.sub(records, 1, 1) == ',') then
      redis.call('HSET', KEYS[1], field, head .. ';' .. records)
      converted = converted + 1
    else
      local newest = tonumber(string.match(text, '^(%-?%d+);'))
      if not newest then
        local top = tonumber(string.match(text, '^(%-?%d+)|'))
        newest = top and top - 1
      end
      if newest and not string.find(text, '^newest=') and math.abs(newest) <= 9007199254740991 then
        redis.call('HSET', KEYS[1], field, 'newest=' .. string.format('%.0f', newest) .. ';floor=' .. string.format('%.0f', newest + 1) .. ';0;')
        converted = converted + 1
      else
        unreadable = unreadable + 1
      end
    end
  end
end
return { converted, unreadable }
