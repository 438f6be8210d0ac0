-- Applies one reading's contribution and acknowledges its stream entry, atomically.
-- The contribution is applied only if this call's XACK removed the entry from the group's
-- pending list: when a slow consumer and the one that claimed its entry both get here,
-- exactly one of them counts it.
--
-- KEYS[1] stream          KEYS[2] stats hash      KEYS[3] sites set
-- KEYS[4] site hash       KEYS[5] site's devices  KEYS[6] device hash
-- ARGV[1] group  ARGV[2] entry id  ARGV[3] site_id  ARGV[4] device_id
-- ARGV[5] power in integer mW  ARGV[6] timestamp in epoch ms  ARGV[7] timestamp as sent
-- ARGV[8] power_reading as sent
-- Returns 1 when applied, 0 when the entry was already acknowledged.

if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end

local power = tonumber(ARGV[5])
local at = tonumber(ARGV[6])

-- Stream ids compare as (ms, seq) pairs; used to break ties between equal timestamps.
local function id_after(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(ams) ~= tonumber(bms) then return tonumber(ams) > tonumber(bms) end
  return tonumber(aseq) > tonumber(bseq)
end

-- Count, sum, min and max are order-free: the same readings give the same figures whatever
-- order or consumer applies them. Sums are integer mW so that addition order cannot matter.
local function add(key)
  redis.call('HINCRBY', key, 'count', 1)
  redis.call('HINCRBY', key, 'sum_mw', ARGV[5])
  local cur = redis.call('HMGET', key, 'min_mw', 'max_mw')
  if not cur[1] or power < tonumber(cur[1]) then redis.call('HSET', key, 'min_mw', ARGV[5]) end
  if not cur[2] or power > tonumber(cur[2]) then redis.call('HSET', key, 'max_mw', ARGV[5]) end
end

redis.call('HINCRBY', KEYS[2], 'processed', 1)
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[5], ARGV[4])
add(KEYS[4])
add(KEYS[6])

-- "Latest" is by measurement time, not arrival, for the same reason.
local latest = redis.call('HMGET', KEYS[6], 'latest_at_ms', 'latest_id')
local newer = not latest[1] or at > tonumber(latest[1])
  or (at == tonumber(latest[1]) and id_after(ARGV[2], latest[2]))
if newer then
  redis.call('HSET', KEYS[6], 'latest_at_ms', ARGV[6], 'latest_id', ARGV[2],
    'latest_timestamp', ARGV[7], 'latest_power', ARGV[8])
end
return 1
