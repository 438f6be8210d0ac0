-- Trims the stream below the oldest entry that some group still needs, atomically, so that no
-- group can be created or read in between. For each group the boundary is its oldest pending
-- entry (everything before it was delivered and acknowledged) or, with nothing pending, its
-- last delivered entry (everything before it was acknowledged). Entries at or after the
-- lowest boundary stay; with no group at all, nothing is trimmed.
--
-- KEYS[1] stream
-- Returns the number of entries removed.

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end

-- @include stream-id

local minid = nil
for _, group in ipairs(groups) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  local boundary = info['last-delivered-id']
  if tonumber(info['pending']) > 0 then
    boundary = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  if minid == nil or compare_ids(boundary, minid) < 0 then minid = boundary end
end
if minid == '0-0' then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', minid)
