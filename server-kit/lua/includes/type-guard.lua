-- Refuses to run on a key of the wrong type, before the script's first write: a script's writes
-- are not rolled back when a later command fails, so a WRONGTYPE half-way would leave it half done.
local function expect_type(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    error({ err = 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', expected a ' .. want })
  end
end
