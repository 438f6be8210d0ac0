-- Removes a consumer from the group only if it holds no pending entries: XGROUP DELCONSUMER
-- drops a consumer's pending entries with it, and those must never be lost.
-- KEYS[1] stream  ARGV[1] group  ARGV[2] consumer
-- Returns 1 when removed, 0 when it still holds entries.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
