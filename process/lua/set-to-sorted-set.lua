-- Turns a set into a sorted set of the same members, every score 0, atomically: the layout in
-- which the API pages through site and device ids in order (ZRANGE … BYLEX … LIMIT). Data
-- written before that layout kept them in plain sets. Any other type, or no key, is left alone,
-- so running it twice is harmless.
--
-- DEL comes first on purpose: Redis checks maxmemory only before a script's first write, so the
-- ZADDs that follow cannot be refused half-way, and the members are never lost in between.
--
-- KEYS[1] the key
-- Returns the number of members moved, or -1 when the key was not a set.

if redis.call('TYPE', KEYS[1])['ok'] ~= 'set' then
  return -1
end
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
local args = {}
for _, member in ipairs(members) do
  args[#args + 1] = 0
  args[#args + 1] = member
  -- unpack() has a limit on how many values it takes; stay well below it.
  if #args >= 1000 then
    redis.call('ZADD', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then
  redis.call('ZADD', KEYS[1], unpack(args))
end
return #members
