-- Acknowledges an entry that failed validation and counts it, atomically; counted only by
-- the call whose XACK removed it from the pending list.
-- KEYS[1] stream  KEYS[2] stats hash
-- ARGV[1] group   ARGV[2] entry id
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HINCRBY', KEYS[2], 'invalid', 1)
return 1
