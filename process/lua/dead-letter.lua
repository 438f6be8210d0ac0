-- Moves an entry to the dead-letter stream and acknowledges it, atomically; done only by the
-- call whose XACK removed the entry from the pending list, so it is dead-lettered once.
-- The checks that could fail run before the first write, so the entry is never acknowledged
-- without its dead letter being written.
--
-- KEYS[1] stream  KEYS[2] dead-letter stream  KEYS[3] stats hash
-- ARGV[1] group  ARGV[2] entry id  ARGV[3] reason  ARGV[4] detail  ARGV[5] deliveries
-- ARGV[6] failed at (epoch ms)  ARGV[7] the entry's fields as JSON
-- Returns 1 when dead-lettered, 0 when the entry was already acknowledged.

for i, want in ipairs({ 'stream', 'stream', 'hash' }) do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. t .. ', expected a ' .. want)
  end
end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'original_id', ARGV[2], 'reason', ARGV[3], 'detail', ARGV[4],
  'deliveries', ARGV[5], 'failed_at', ARGV[6], 'fields', ARGV[7])
redis.call('HINCRBY', KEYS[3], 'dead_lettered', 1)
if ARGV[3] == 'invalid' then redis.call('HINCRBY', KEYS[3], 'invalid', 1) end
return 1
