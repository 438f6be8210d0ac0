-- Puts a dead letter's entry back into the main stream and removes the dead letter,
-- atomically, so a replay neither duplicates nor loses it.
-- KEYS[1] stream  KEYS[2] dead-letter stream
-- ARGV[1] dead-letter id  ARGV[2..] the entry's fields and values
-- Returns the new stream id, or false when there is no such dead letter.
if #redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1]) == 0 then
  return false
end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XDEL', KEYS[2], ARGV[1])
return id
