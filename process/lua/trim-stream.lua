-- Trims the stream below the oldest entry that some group still needs, and never within the last
-- ARGV[1] ms, atomically, so that no group can be created or read in between. For each group the
-- boundary is its oldest pending entry (everything before it was delivered and acknowledged) or,
-- with nothing pending, its last delivered entry (everything before it was acknowledged). The time
-- bound keeps recent entries for the live side: a subscriber that reconnects within it resumes
-- from the stream (LIVE_RETENTION_S). Entries at or after the lowest boundary stay; with no group
-- at all, nothing is trimmed.
--
-- KEYS[1] stream
-- ARGV[1] keep entries younger than this many ms (Redis's clock, which made their ids); 0: no bound
-- Returns the number of entries removed.

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end

-- @include stream-id
-- @include field-pairs

local minid = nil
for _, group in ipairs(groups) do
  local info = field_pairs(group)
  local boundary = info['last-delivered-id']
  if tonumber(info['pending']) > 0 then
    boundary = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  if minid == nil or compare_ids(boundary, minid) < 0 then minid = boundary end
end
local keep_ms = tonumber(ARGV[1]) or 0
if keep_ms > 0 then
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - keep_ms
  if cutoff < 0 then cutoff = 0 end
  local by_time = string.format('%.0f', cutoff) .. '-0'
  if compare_ids(by_time, minid) < 0 then minid = by_time end
end
if minid == '0-0' then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', minid)
