-- Appends a reading unless its reading_id was stored within the idempotency window, atomically:
-- two retries of one reading arriving at once (on two replicas, say) still append it once.
--
-- KEYS[1] stream   KEYS[2] the reading_id's key (same hash slot as the stream)
-- ARGV[1] idempotency window in seconds   ARGV[2..] the entry's field/value pairs
-- Returns {stream id, 0} when appended now, {original stream id, 1} for a repeat.

local original = redis.call('GET', KEYS[2])
if original then
  return {original, 1}
end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
return {id, 0}
